#!/usr/bin/env bash
# Build the CUDA gaxsh and the device-neutral test binaries here (no GPU needed), and pack them
# into target/gpu-bundle/ for a GPU machine that has a driver but no Rust toolchain:
#
#   tools/gpu/build.sh             # then carry target/gpu-bundle and run tools/gpu/check.sh there
#
# The bundle (about 19 MB) and the repository stay under the 64 MiB a device call carries:
# binaries stripped and xz-packed (candle's PTX kernels are text; 70 MB packs to about 10 MB).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/gpu/toolkit.sh
export CARGO_TARGET_DIR="$PWD/target/cuda"
# The tests that run on whatever device GAXSH_DEVICE names, as one binary (tests/device_suite.rs:
# tensor_api, model_parity, attribution_parity, ax_gax, regressions). Tests that exercise the CPU
# machinery itself — threads, the REPL, the kernel — are not among them.
TESTS=(device_suite)

cargo build --release --features cuda
test_args=()
for t in "${TESTS[@]}"; do test_args+=(--test "$t"); done
cargo test --release --features cuda --no-run "${test_args[@]}" --message-format=json \
    | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["target"]["name"], m["executable"])
' > target/cuda/test-executables.txt

out=target/gpu-bundle
rm -rf "$out" && mkdir -p "$out/tests"
strip -o "$out/gaxsh" "$CARGO_TARGET_DIR/release/gaxsh"
while read -r name exe; do strip -o "$out/tests/$name" "$exe"; done < target/cuda/test-executables.txt
# Where the test binaries were built: they find fixtures and the gaxsh binary by this path.
echo "$PWD" > "$out/built-in"
xz -T0 -6 "$out/gaxsh" "$out"/tests/*
# The GPU machines have PyTorch but not captum, which the benchmark's PyTorch side needs (a pure
# Python wheel; its other requirements are there).
python3 -m pip download -q --no-deps --only-binary=:all: -d "$out/wheels" captum==0.9.0
du -sh "$out"
