#!/usr/bin/env bash
# Lambda sweep of the oscillation regularizer at one target bit: trains one Reg model per lambda with
# the same settings as `smallscale reproduce` (small CNN with blocks of 8 and 16 channels, Adam 1e-3,
# batch 128, patience 3, seed 0) and prints each model's cross-bit test accuracy.
#
#   scripts/lambda-sweep.sh                                   # embedded data, target 3 bits, 8 epochs
#   BITS=3 LAMBDAS="0.1 0.3 1 3 10" EPOCHS=3 OUT=sweep \
#     scripts/lambda-sweep.sh --data-format fashion-mnist --data-path /usr/share/datasets/fashion-mnist
#
# Extra arguments are passed to `smallscale train` (data options, for instance). Run directories are
# resumable: rerunning the script skips finished runs.
set -euo pipefail
cd "$(dirname "$0")/.."
BITS=${BITS:-3}
LAMBDAS=${LAMBDAS:-"0.1 0.3 1 3 10"}
EPOCHS=${EPOCHS:-8}
OUT=${OUT:-lambda-sweep}
SMALLSCALE=${SMALLSCALE:-"cargo run -q -p smallscale-cli --"}
mkdir -p "$OUT"
for l in $LAMBDAS; do
  dir="$OUT/reg-b$BITS-l$l"
  echo "== lambda $l (target $BITS bits) -> $dir" >&2
  $SMALLSCALE train --method reg --bits "$BITS" --lambda "$l" --width 8 --epochs "$EPOCHS" --patience 3 \
    --batch-size 128 --lr 0.001 --seed 0 --out "$dir" "$@" > "$dir.train.log"
  echo "lambda $l:"
  $SMALLSCALE eval --checkpoint "$dir/best.safetensors" --bits 2,3,4,5,6,7,8 "$@" | tee "$dir/eval.txt"
done
