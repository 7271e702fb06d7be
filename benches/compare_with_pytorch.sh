#!/usr/bin/env bash
# Times one CPU training step of ResNet-18 (CIFAR stem) and the tiny ViT at batch 32 with
# smallscale and with PyTorch, one after the other on the same machine and with the same
# protocol (2 warm-up steps, median of STEPS timed steps), and prints the ratio.
#
#   benches/compare_with_pytorch.sh [STEPS]      (PYTHON=python3 by default)
#
# PyTorch must be importable by $PYTHON (`pip install torch`); without it only our side runs.
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-10}"
python="${PYTHON:-python3}"

cargo build --quiet -p smallscale-osc-reg --example training_step_time
ours_bin=target/debug/examples/training_step_time

ours_ref=$("$ours_bin" --steps "$steps" --reference-ops)
ours=$("$ours_bin" --steps "$steps")
if torch=$("$python" benches/pytorch_training_step.py --steps "$steps"); then :; else
    echo "PyTorch side skipped (see the message above)" >&2
    torch=""
fi

"$python" - "$ours" "$ours_ref" "$torch" <<'PY'
import json, sys
def rows(text):
    return {r["model"]: r for r in map(json.loads, filter(None, text.splitlines()))}
ours, ref, torch = (rows(t) for t in sys.argv[1:4])
print("| model | smallscale (s) | smallscale, candle ops (s) | PyTorch (s) | smallscale / PyTorch |")
print("| --- | ---: | ---: | ---: | ---: |")
for m, r in ours.items():
    t = torch.get(m)
    ratio = f"{r['median_s'] / t['median_s']:.2f}x" if t else "n/a"
    tt = f"{t['median_s']:.3f}" if t else "n/a"
    print(f"| {m} | {r['median_s']:.3f} | {ref[m]['median_s']:.3f} | {tt} | {ratio} |")
if torch:
    print(f"\nPyTorch: {next(iter(torch.values()))['framework']}, {next(iter(torch.values()))['threads']} threads")
PY
