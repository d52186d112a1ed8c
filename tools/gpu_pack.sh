#!/usr/bin/env bash
# Packs this machine's CUDA build for a GPU machine whose image lacks Strata's Debian libraries (liburing, toml++,
# OpenBLAS, ...): the test programs that have cuda:0 cases, strata and bench_gpu (stripped), and every shared library
# they need except CUDA's and glibc's, into .gpucarry/gpu.tar.xz (about 10 MB). There, run
# `bash tools/gpu_check_prebuilt.sh` with .gpucarry carried along. Needs build/ configured with CUDA (nvcc found).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build}
cmake --build "$BUILD" -j "$(nproc)"
ldd "$BUILD/strata" | grep -q libcudart || { echo "$BUILD/strata has no CUDA backend (configure with nvcc present)"; exit 1; }
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/bin" "$STAGE/lib" .gpucarry
for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] && [ -f "$t" ] || continue
  if "$t" --gtest_list_tests 2>/dev/null | grep -q cuda_0; then strip -o "$STAGE/bin/$(basename "$t")" "$t"; fi
done
strip -o "$STAGE/bin/strata" "$BUILD/strata"
strip -o "$STAGE/bin/bench_gpu" "$BUILD/bench/bench_gpu"
for exe in "$STAGE"/bin/*; do ldd "$exe"; done | awk '/=>/ {print $3}' | sort -u |
  grep -v -E "libcuda|libcudart|libcublas|/libc\.so|/libm\.so|libdl\.|libpthread|librt\.|ld-linux" |
  while read -r lib; do cp -L "$lib" "$STAGE/lib/"; done
tar -C "$STAGE" -cJf .gpucarry/gpu.tar.xz bin lib
grep -qx "/.gpucarry/" .git/info/exclude 2>/dev/null || echo "/.gpucarry/" >> .git/info/exclude
ls -l .gpucarry/gpu.tar.xz
echo "programs: $(ls "$STAGE/bin" | tr '\n' ' ')"
