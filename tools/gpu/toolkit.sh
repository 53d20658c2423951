#!/usr/bin/env bash
# A CUDA 13.0 compiler toolchain from PyPI, enough to build `gaxsh --features cuda` on a machine
# with no GPU and no system CUDA (Debian's main archive has none). Source it:
#
#   . tools/gpu/toolkit.sh        # then: cargo build --release --features cuda
#
# What it makes (under .cuda/, ignored by git):
#   venv/  nvcc, headers, cccl, nvrtc, cuBLAS, cuRAND wheels, pinned to one CUDA release
#          (nvidia-nvvm must be pinned too: left free, pip takes a newer one whose PTX the
#          pinned ptxas rejects with "Unsupported .version").
#   root/  a toolkit layout (bin, include, nvvm, lib) for cudarc's and candle-kernels' build
#          scripts, with unversioned library names and lib/stubs/libcuda.so: a link-time
#          stand-in for the driver library, as the CUDA toolkit's own stubs folder provides.
#          The real libcuda.so.1 comes with the driver on the GPU machine.
_gaxsh_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
_cuda="$_gaxsh_root/.cuda"
_cuda_release="13.0"
if [ ! -e "$_cuda/venv/bin/nvcc-ok" ]; then
    python3 -m venv "$_cuda/venv"
    "$_cuda/venv/bin/pip" install -q \
        "nvidia-cuda-nvcc==13.0.88" "nvidia-nvvm==13.0.88" "nvidia-cuda-crt==13.0.88" \
        "nvidia-cuda-runtime==13.0.96" "nvidia-cuda-cccl==13.0.85" "nvidia-cuda-nvrtc==13.0.88" \
        "nvidia-cublas==13.0.2.14" "nvidia-curand==10.4.0.35"
    nv="$("$_cuda/venv/bin/python" -c 'import nvidia, os; print(os.path.join(nvidia.__path__[0], "cu13"))')"
    rm -rf "$_cuda/root"
    mkdir -p "$_cuda/root/lib/stubs"
    for d in bin include nvvm; do ln -s "$nv/$d" "$_cuda/root/$d"; done
    for f in "$nv"/lib/*.so.* "$nv"/lib/*.a; do ln -s "$f" "$_cuda/root/lib/"; done
    for l in cublas cublasLt cudart nvrtc; do ln -s "$nv/lib/lib$l.so.13" "$_cuda/root/lib/lib$l.so"; done
    ln -s "$nv/lib/libcurand.so.10" "$_cuda/root/lib/libcurand.so"
    # Every driver entry point cudarc declares, each returning CUDA_ERROR_UNKNOWN: only the
    # linker sees this library (soname libcuda.so.1, so the driver's own is loaded at run time).
    (cd "$_gaxsh_root" && cargo fetch -q)
    sys="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.*/src/driver/sys/mod.rs | tail -1)"
    grep -ohE '^\s+fn (cu[A-Za-z0-9_]+)\(' "$sys" | sed -E 's/^\s+fn (cu[A-Za-z0-9_]+)\(/\1/' \
        | sort -u | awk '{print "int " $1 "(void) { return 999; }"}' > "$_cuda/libcuda_stub.c"
    gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$_cuda/root/lib/stubs/libcuda.so" "$_cuda/libcuda_stub.c"
    touch "$_cuda/venv/bin/nvcc-ok"
fi
export CUDA_ROOT="$_cuda/root"
export PATH="$_cuda/root/bin:$PATH"
# H100 / H200; candle-kernels otherwise asks nvidia-smi, which a GPU-less machine lacks.
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
echo "CUDA $_cuda_release toolchain from PyPI: $(nvcc --version | tail -1)" >&2
