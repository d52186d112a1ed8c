#!/usr/bin/env bash
# Installs every build and test dependency of Strata from Debian's apt. Idempotent: when everything is already
# installed it only checks (well under a second) and touches nothing. The CUDA toolkit is optional (not from apt).
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config      # toolchain
  libopenblas-openmp-dev                # CPU GEMM (sgemm), OpenMP build sharing our thread pool
  libgtest-dev                          # GoogleTest
  libmimalloc-dev                       # aligned host allocations (CPU backend, pinned pool)
  libxxhash-dev                         # XXH3 checksums of layer blobs and checkpoints
  liburing-dev                          # io_uring disk tier
  libtomlplusplus-dev                   # run configs (TOML)
  nlohmann-json3-dev                    # JSON: safetensors headers, config.json, metrics
  libcli11-dev                          # command-line parsing
  libsentencepiece-dev                  # SentencePiece tokenizers (tokenizer.model)
  libpcre2-dev                          # Unicode regex for byte-level BPE pre-tokenization (tokenizer.json)
  libboost-context-dev                  # fibers for the threads of a block in the CUDA emulation
  fio                                   # reference figures for bench_disk_tier
  openmpi-bin libopenmpi-dev            # data-parallel ranks (mpirun) and their CPU collectives
  libdnnl-dev                           # oneDNN: the bf16 GEMM candidate measured by bench_bf16_gemm
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
