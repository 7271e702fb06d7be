#!/usr/bin/env bash
# Parity of our fake quantizer, the regularizer R_b(W) and its gradient with the authors' formulas in
# PyTorch, on the same safetensors weights: bit for bit for the forward pass, to rounding for the
# gradients (benches/regularizer_with_pytorch.py says how).
#
#   benches/compare_regularizer_with_pytorch.sh [BITS [SEED]]   (BITS: comma-separated, default 2,3,4,8;
#                                                                SEED of the weights, default 0; PYTHON=python3 by default)
#
# PyTorch and safetensors must be importable by $PYTHON (`pip install torch safetensors`).
set -euo pipefail
cd "$(dirname "$0")/.."
bits="${1:-2,3,4,8}"
seed="${2:-0}"
python="${PYTHON:-python3}"

cargo build --quiet -p smallscale-osc-reg --example regularizer_reference
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" benches/regularizer_with_pytorch.py \
    --ours "${CARGO_TARGET_DIR:-target}/debug/examples/regularizer_reference" \
    --dir "$work" --bits "$bits" --seed "$seed"
