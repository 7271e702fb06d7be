#!/usr/bin/env python3
"""Parity of the fake quantizer and the oscillation regularizer with the authors' formulas in PyTorch.

Writes a set of weight tensors to WEIGHTS.safetensors (convolution, linear and norm shapes, drawn with
--seed, plus hand-made tensors with tied maxima and values exactly halfway between two levels), runs
our side (the example `regularizer_reference`, path in --ours) at each bit-width, and computes the same
quantities with the authors' formulas in PyTorch:

    s = max|w| / (2^(b-1) - 1)                      (not detached: the gradient reaches the arg-max)
    q = s * round_ste(w / s),  round_ste(x) = x + (round(x) - x).detach()   (round half to even)
    R_b(W) = sum over tensors of mean(q^2 - w^2)

The fake-quantized tensors must equal PyTorch's float32 ones bit for bit. R_b (a sum of reductions,
whose order differs) and its gradients must agree to rounding: both sides are compared with the same
formulas evaluated in float64, and at each bit-width ours may be at most GRADIENT_SLACK times further
from it than PyTorch's own worst float32 result (with a floor of a few float32 ulps). Prints one table row per
bit-width and tensor and exits with status 1 on any disagreement, 3 when torch or safetensors is not
installed.
"""

import argparse
import subprocess
import sys
from pathlib import Path

try:
    import torch
    from safetensors.torch import load_file, save_file
except ImportError:
    print(
        "PyTorch and safetensors are needed: `pip install torch safetensors` to run the PyTorch side",
        file=sys.stderr,
    )
    sys.exit(3)

# At each bit-width, our float32 gradients (and R_b) may differ from the float64 evaluation by at most
# this many times PyTorch's own worst float32 error, with a floor of a few float32 ulps.
GRADIENT_SLACK = 4.0
F32_EPS = 4 * 2.0**-23


def weights(seed):
    g = torch.Generator().manual_seed(seed)
    tensors = {
        "conv1.weight": torch.randn(16, 3, 3, 3, generator=g) * 0.2,
        "layer1.conv.weight": torch.randn(32, 16, 3, 3, generator=g) * 0.05,
        "bn.weight": 1.0 + 0.1 * torch.randn(16, generator=g),
        "fc.weight": torch.randn(10, 64, generator=g) * 0.1,
    }
    # Two elements share the maximum magnitude (a tie for the scale's gradient), and values on the
    # midpoints between levels: with max 7 the scale 7 / K is exact for K = 1 and 7 (2 and 4 bits), so
    # 3.5, 0.5, 1.5, 2.5 are exact ties there; at 3 bits (7 / 3 is not exact) they are near ties.
    tensors["ties.weight"] = torch.tensor(
        [7.0, -7.0, 3.5, -3.5, 1.75, 0.5, 1.5, 2.5, -1.0, 0.0, 5.25, -6.125], dtype=torch.float32
    )
    return {k: v.contiguous() for k, v in tensors.items()}


def authors(w, bits):
    k = 2 ** (bits - 1) - 1
    w = w.clone().requires_grad_(True)
    s = w.abs().max() / k
    x = w / s
    q = s * (x + (torch.round(x) - x).detach())
    return w, q


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", required=True, help="the regularizer_reference example binary")
    parser.add_argument("--dir", required=True, help="a directory for the safetensors files")
    parser.add_argument("--bits", default="2,3,4,8")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    work = Path(args.dir)
    work.mkdir(parents=True, exist_ok=True)
    ws = weights(args.seed)
    weights_file = work / "weights.safetensors"
    save_file(ws, str(weights_file))
    failures = 0
    print(f"torch {torch.__version__}, seed {args.seed}")
    print(
        "| bits | tensor | fake-quantized, equal to PyTorch f32 | gradient error, ours | "
        "gradient error, PyTorch f32 |"
    )
    print("| ---: | --- | --- | ---: | ---: |")
    for bits in (int(b) for b in args.bits.split(",")):
        out_file = work / f"ours-b{bits}.safetensors"
        subprocess.run([args.ours, str(weights_file), str(bits), str(out_file)], check=True)
        ours = load_file(str(out_file))
        sides = {}
        for dtype in (torch.float32, torch.float64):
            total, leaves, magnitude = None, {}, 0.0
            for name, w in ws.items():
                leaf, q = authors(w.to(dtype), bits)
                leaves[name] = (leaf, q.detach())
                term = (q**2 - leaf**2).mean()
                magnitude += ((q**2).mean() + (leaf**2).mean()).item()
                total = term if total is None else total + term
            total.backward()
            sides[dtype] = (total.detach(), leaves, magnitude)
        r32, leaves32, magnitude = sides[torch.float32]
        r64, leaves64, _ = sides[torch.float64]
        rows = []
        for name in ws:
            (leaf32, q32), (leaf64, _) = leaves32[name], leaves64[name]
            same = torch.equal(q32, ours[f"fake_quant.{name}"])
            g64 = leaf64.grad
            scale = max(g64.abs().max().item(), 1e-30)
            ours_err = (ours[f"grad.{name}"].double() - g64).abs().max().item() / scale
            torch_err = (leaf32.grad.double() - g64).abs().max().item() / scale
            failures += not same
            rows.append((name, same, ours_err, torch_err))
        # To rounding: at each bit-width our worst gradient error (against the float64 gradient) is
        # no larger than a few times PyTorch's own worst float32 error, with a floor of a few ulps.
        bound = GRADIENT_SLACK * max(max(r[3] for r in rows), F32_EPS)
        for name, same, ours_err, torch_err in rows:
            close = ours_err <= bound
            failures += not close
            print(
                f"| {bits} | {name} | {'yes' if same else 'NO'} | {ours_err:.1e}{'' if close else ' (too far)'} "
                f"| {torch_err:.1e} |"
            )
        # R_b is a sum of reductions: equal up to the rounding of float32 sums of terms of this size.
        ours_r = ours["regularizer"].double().item()
        ours_r_err = abs(ours_r - r64.item()) / magnitude
        torch_r_err = abs(r32.double().item() - r64.item()) / magnitude
        close = ours_r_err <= GRADIENT_SLACK * max(torch_r_err, F32_EPS)
        failures += not close
        print(
            f"| {bits} | R_b(W) = {r64.item():.9g} (float64) | ours {ours_r:.9g}, PyTorch f32 {r32.item():.9g} "
            f"| {ours_r_err:.1e}{'' if close else ' (too far)'} | {torch_r_err:.1e} |"
        )
    if failures:
        print(f"{failures} disagreement(s)", file=sys.stderr)
        sys.exit(1)
    print(
        "\nEvery fake-quantized tensor equals PyTorch's bit for bit. Gradient and R_b errors are relative to the "
        "largest float64 gradient of the tensor (to the size of R_b's terms); at each bit-width ours stay "
        f"within {GRADIENT_SLACK:g}x PyTorch's own worst float32 rounding error (floor {F32_EPS:.1e})."
    )

if __name__ == "__main__":
    main()
