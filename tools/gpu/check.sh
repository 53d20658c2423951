#!/usr/bin/env bash
# On a GPU machine (driver, PyTorch; no Rust, no registry), with target/gpu-bundle from
# tools/gpu/build.sh carried along:
#
#   tools/gpu/check.sh             # smoke test, device-neutral tests on the GPU, GPU == CPU on the
#                                  # dry-bean pipeline, then benchmark rows if captum imports
#
# Everything it writes goes under ${OUT:-target/gpu-check}.
set -euo pipefail
cd "$(dirname "$0")/../.."
bundle=target/gpu-bundle
work="${OUT:-target/gpu-check}"
mkdir -p "$work/bin"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$work/gpu.txt"

echo "== CUDA 13 libraries (from a CUDA install or PyTorch's nvidia wheels)"
roots=(/usr/local/cuda*/lib64 /usr/lib/x86_64-linux-gnu $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null))
for lib in libcublas.so.13 libcublasLt.so.13 libcudart.so.13 libcurand.so.10; do
    found="$(find "${roots[@]}" -name "$lib" 2>/dev/null | head -1)"
    if [ -z "$found" ]; then
        echo "missing $lib: gaxsh was built against CUDA 13.0 (tools/gpu/toolkit.sh);" \
             "carry the nvidia-cublas / nvidia-cuda-runtime / nvidia-curand wheels it pins" >&2
        exit 1
    fi
    echo "$found"
    export LD_LIBRARY_PATH="$(dirname "$found")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done

echo "== unpack"
xz -dc "$bundle/gaxsh.xz" > "$work/bin/gaxsh" && chmod +x "$work/bin/gaxsh"
for t in "$bundle"/tests/*.xz; do
    n="$(basename "$t" .xz)"; xz -dc "$t" > "$work/bin/$n" && chmod +x "$work/bin/$n"
done
# The test binaries read fixtures from the folder they were built in.
built="$(cat "$bundle/built-in")"
if [ ! -e "$built" ]; then mkdir -p "$(dirname "$built")" && ln -s "$PWD" "$built"; fi
mkdir -p target/release && ln -sf "$PWD/$work/bin/gaxsh" target/release/gaxsh
g="$work/bin/gaxsh"

echo "== smoke"
"$g" --device cuda -e 'let x = randn([2, 3]); [(x * 2 + 1).device, x.shape]'

echo "== device-neutral tests with GAXSH_DEVICE=cuda"
status=0
for t in "$work"/bin/*; do
    [ "$(basename "$t")" = gaxsh ] && continue
    echo "-- $(basename "$t")"
    log="$work/$(basename "$t").log"
    GAXSH_DEVICE=cuda "$t" --test-threads 1 --nocapture > "$log" 2>&1 || status=1
    tail -3 "$log"
    # A device that cannot be opened makes the library fall back to the CPU (and say so).
    if grep -q "using the CPU instead" "$log"; then echo "ran on the CPU, not the GPU" >&2; status=1; fi
done

echo "== the dry-bean pipeline on the GPU and on the CPU: same CO scores"
"$g" --device cpu scripts/drybean.rhai --out "$work/cpu" > "$work/cpu.log"
"$g" --device cuda scripts/drybean.rhai --out "$work/cuda" > "$work/cuda.log"
python3 - "$work" <<'PY'
import csv, sys
w = sys.argv[1]
rows = lambda p: list(csv.DictReader(open(p)))
a, b = rows(f"{w}/cpu/co_scores.csv"), rows(f"{w}/cuda/co_scores.csv")
assert len(a) == len(b), (len(a), len(b))
d = max(abs(float(x["co"]) - float(y["co"])) for x, y in zip(a, b))
print(f"{len(a)} CO scores, largest CPU/GPU difference {d:.2e}")
sys.exit(0 if d < 1e-3 else 1)
PY

if python3 -c 'import torch, captum' 2>/dev/null; then
    echo "== benchmark rows on the GPU against PyTorch on the same GPU"
    python3 tools/bench/run.py --device cuda --gaxsh "$g" --threads 1 --rounds 3 --repeats 5 \
        --write BENCHMARKS.md && cp BENCHMARKS.md "$work/"
else
    echo "== no captum here: benchmark rows skipped (carry the captum wheel to run them)"
fi
exit $status
