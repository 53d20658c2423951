#!/usr/bin/env bash
# On a GPU machine (driver, PyTorch; no Rust, no registry), with target/gpu-bundle from
# tools/gpu/build.sh carried along:
#
#   tools/gpu/check.sh [--no-bench]
#   GAXSH_CHECK_DEVICE=cpu tools/gpu/check.sh    # a rehearsal here, without a GPU (docs/GPU.md)
#
# In order, each step bounded in time so the whole fits one device call (about 6 minutes):
# smoke test; the device-neutral tests with GAXSH_DEVICE=cuda; the dry-bean pipeline on the CPU
# and on the GPU with the same weights, CO scores compared; then GPU benchmark rows against
# PyTorch on the same GPU (captum comes from the bundle's wheel if the machine lacks it).
#
# Work files go to target/gpu-check. What a person needs back — check.log (everything printed),
# tests.log, co_compare.txt and BENCHMARKS.md — goes to $OUT when it is set (the device tool
# brings back at most 8 files from there). That BENCHMARKS.md is a copy with the GPU rows written
# in; the repository's own is left alone.
set -uo pipefail
cd "$(dirname "$0")/../.."
bundle=target/gpu-bundle
work=target/gpu-check
report="${OUT:-$work/report}"
device="${GAXSH_CHECK_DEVICE:-cuda}"
rm -rf "$work" && mkdir -p "$work/bin" "$work/tests" "$report"

find_cuda_libs() {
    echo "== CUDA 13 libraries (from a CUDA install or PyTorch's nvidia wheels)"
    local roots lib found
    roots=(/usr/local/cuda*/lib64 /usr/lib/x86_64-linux-gnu
           $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null))
    for lib in libcublas.so.13 libcublasLt.so.13 libcudart.so.13 libcurand.so.10; do
        found="$(find "${roots[@]}" -name "$lib" 2>/dev/null | head -1)"
        if [ -z "$found" ]; then
            echo "missing $lib: gaxsh was built against CUDA 13.0 (tools/gpu/toolkit.sh);" \
                 "carry the nvidia-cublas / nvidia-cuda-runtime / nvidia-curand wheels it pins"
            return 1
        fi
        echo "$found"
        export LD_LIBRARY_PATH="$(dirname "$found")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    done
    # The driver's library: normally on the loader's path; if not, where NVIDIA's images put it.
    if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 '; then
        found="$(find /usr/local/nvidia /usr/lib64 /usr/lib/x86_64-linux-gnu -name libcuda.so.1 \
                 2>/dev/null | head -1)"
        [ -n "$found" ] && echo "$found" \
            && export LD_LIBRARY_PATH="$(dirname "$found"):$LD_LIBRARY_PATH"
    fi
    return 0
}

check() {
    local bench=1 status=0
    [ "${1:-}" = "--no-bench" ] && bench=0
    fail() { echo "FAILED: $*"; status=1; }

    # In a rehearsal the device side takes the GPU's op path on the CPU.
    local dev_env=()
    if [ "$device" = cpu ]; then
        echo "== rehearsal on the CPU: libraries from LD_LIBRARY_PATH, GAXSH_PORTABLE_OPS=1"
        dev_env=(GAXSH_PORTABLE_OPS=1)
    else
        nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
        find_cuda_libs || return 1
    fi

    echo "== unpack"
    xz -dc "$bundle/gaxsh.xz" > "$work/bin/gaxsh" && chmod +x "$work/bin/gaxsh" || return 1
    for t in "$bundle"/tests/*.xz; do
        n="$(basename "$t" .xz)"; xz -dc "$t" > "$work/tests/$n" && chmod +x "$work/tests/$n"
    done
    # The test binary reads fixtures from the folder it was built in.
    local built g
    built="$(cat "$bundle/built-in")"
    if [ ! -e "$built" ]; then mkdir -p "$(dirname "$built")" && ln -s "$PWD" "$built"; fi
    g="$work/bin/gaxsh"
    if ldd "$g" | grep "not found"; then echo "FAILED: libraries the binary needs"; return 1; fi

    echo "== smoke"
    env "${dev_env[@]}" timeout 60 "$g" --device "$device" -e 'let x = randn([2, 3]); [(x * 2 + 1).device, x.shape]' \
        || fail smoke

    echo "== device-neutral tests with GAXSH_DEVICE=$device"
    local t name log
    for t in "$work"/tests/*; do
        name="$(basename "$t")"
        log="$work/$name.log"
        SECONDS=0
        env "${dev_env[@]}" GAXSH_DEVICE="$device" timeout 150 "$t" --test-threads 1 --nocapture > "$log" 2>&1 \
            || fail "$name (exit $?)"
        echo "-- $name: $(grep -E '^test result' "$log" | tail -1) (${SECONDS} s)"
        # A device that cannot be opened makes the library fall back to the CPU, and say so.
        if grep -q "using the CPU instead" "$log"; then fail "$name ran on the CPU, not the GPU"; fi
        { echo "===== $name"; cat "$log"; } >> "$report/tests.log"
    done

    echo "== the dry-bean pipeline on the CPU, then on $device with the CPU's trained weights"
    SECONDS=0
    timeout 120 "$g" --device cpu scripts/drybean.rhai --out "$work/cpu" > "$work/cpu.log" 2>&1 \
        || fail "CPU pipeline"
    echo "CPU: ${SECONDS} s"
    SECONDS=0
    env "${dev_env[@]}" timeout 120 "$g" --device "$device" scripts/drybean.rhai \
        --weights "$work/cpu/drybean_fpa.safetensors" --out "$work/dev" > "$work/dev.log" 2>&1 \
        || fail "$device pipeline"
    echo "$device: ${SECONDS} s"
    # An f32 model, and DeepLift's rescale divides small differences: two correct orders of
    # summation give CO scores about 1e-3 apart (relative). Measured between the CPU kernels and
    # the GPU's op path taken on the CPU (GAXSH_PORTABLE_OPS=1): 1.5e-3, no prediction changed.
    python3 - "$work" <<'PY' | tee "$report/co_compare.txt" || fail "CO scores differ"
import csv, sys
w = sys.argv[1]
rows = lambda p: list(csv.DictReader(open(p)))
a, b = rows(f"{w}/cpu/co_scores.csv"), rows(f"{w}/dev/co_scores.csv")
assert len(a) == len(b), (len(a), len(b))
rel = max(abs(float(x["co"]) - float(y["co"])) / max(1.0, abs(float(x["co"]))) for x, y in zip(a, b))
flips = sum(x["pred_after"] != y["pred_after"] for x, y in zip(a, b))
print(f"{len(a)} CO scores: largest difference {rel:.2e} (relative), {flips} predictions differ")
sys.exit(0 if rel < 1e-2 and flips <= len(a) // 1000 else 1)
PY

    if [ "$bench" = 1 ]; then
        if ! python3 -c 'import captum' 2>/dev/null && ls "$bundle"/wheels/*.whl >/dev/null 2>&1; then
            python3 -m pip install -q --no-index --no-deps --no-compile --target "$work/site" \
                "$bundle"/wheels/*.whl && export PYTHONPATH="$PWD/$work/site${PYTHONPATH:+:$PYTHONPATH}"
        fi
        if python3 -c 'import torch, captum' 2>/dev/null; then
            echo "== benchmark rows on $device against PyTorch on the same $device"
            cp BENCHMARKS.md "$work/BENCHMARKS.md"
            timeout 300 python3 tools/bench/run.py --device "$device" --gaxsh "$g" --threads 1 \
                --rounds 2 --repeats 3 --write "$work/BENCHMARKS.md" || fail "benchmarks"
            cp "$work/BENCHMARKS.md" "$report/"
        else
            echo "== no captum here and none in the bundle: benchmark rows skipped"
        fi
    fi
    echo "check.sh: $([ $status = 0 ] && echo passed || echo FAILED)"
    return $status
}

# A pipeline rather than `exec > >(tee …)`: the log is complete when the script returns.
check "$@" 2>&1 | tee "$report/check.log"
exit "${PIPESTATUS[0]}"
