#!/usr/bin/env bash
# Builds and runs the CUDA tests of quant-core (CUDA kernels vs the CPU op, bit for bit).
# Needs a CUDA toolkit (nvcc) and a GPU. Set CUDA_COMPUTE_CAP to your GPU's compute capability
# (e.g. 80 for A100, 90 for H100/H200); default 70.
#
#   scripts/gpu-check.sh                # build and run
#   scripts/gpu-check.sh --no-run       # only build; prints the test binary's path
set -euo pipefail
cd "$(dirname "$0")/.."
command -v nvcc >/dev/null || { echo "nvcc not found: install the CUDA toolkit or put it on PATH" >&2; exit 1; }
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-70}
if [ "${1:-}" = "--no-run" ]; then
  cargo test --release -p smallscale-quant-core --features cuda --test cuda --no-run 2>&1 | tee /dev/stderr \
    | grep -o 'target/release/deps/cuda-[0-9a-f]*' | tail -n 1
  exit 0
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader
cargo test --release -p smallscale-quant-core --features cuda --test cuda -- --test-threads=1
