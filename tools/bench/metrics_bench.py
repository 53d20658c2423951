"""The metric panel of gaxsh (`evaluate_heatmaps`) against the same work in Captum 0.9 + Quantus
0.5.3, on this machine, one thread each: the row "metric panel" of BENCHMARKS.md.

    python tools/bench/metrics_bench.py [--rows 4537] [--rounds 3]

Same work on both sides: drybean_fpa with formula weights, the first ROWS dry-bean test rows
(the paper's split and scaling), the paper's six methods (targets: the predictions), and per
method: CO of x + h and x ⊙ h (h normalised by its maximum), the deletion curve (Quantus
PixelFlipping, one feature per step, baseline 0, order of |h|) and the insertion curve (a torch
loop: Quantus has no insertion), Captum's infidelity (10 Gaussian perturbations, σ 0.1) and
sensitivity_max (10 uniform perturbations, radius 0.02), Quantus Sparseness and Complexity, and
Quantus MPRT (cascading, top layer first, Spearman, averaged over layers). The two sides run in
alternating order; the ratio is the median over rounds of (Python time / gaxsh time).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GAXSH = ROOT / "target/release/gaxsh"


def gaxsh_side(rows):
    out = subprocess.run([GAXSH, "--threads", "1", "tools/bench/metrics_bench.rhai", "--rows", str(rows)],
                         cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(out.stderr)
    return next(json.loads(l) for l in out.stdout.splitlines() if l.startswith("{"))["seconds"]


def python_side(rows):
    out = subprocess.run([sys.executable, __file__, "--python-side", "--rows", str(rows)], cwd=ROOT,
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(out.stderr)
    return next(json.loads(l) for l in out.stdout.splitlines() if l.startswith("{"))["seconds"]


def run_python_side(rows):
    import numpy as np
    import torch
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    sys.path.insert(0, str(ROOT / "tools/reference"))
    from models import FpaNet, formula_state_dict
    import quantus
    from captum.metrics import infidelity, sensitivity_max
    sys.path.insert(0, str(ROOT / "tools/bench"))

    raw = np.genfromtxt(ROOT / "data/drybean/Dry_Bean_Dataset.csv", delimiter=",", skip_header=1, usecols=range(16))
    xs = (raw - raw.mean(0)) / raw.std(0) + 0.5
    x = torch.tensor(xs[np.arange(len(xs)) % 3 == 2][:rows], dtype=torch.float32)
    net = FpaNet(14, 7)
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in formula_state_dict(net).items()})
    net = net.float().eval()
    from captum.attr import (DeepLift, Deconvolution, GuidedBackprop, InputXGradient, LayerGradCam, Saliency)

    def explain(method, inp, target, model=None):
        m = model or net
        if method == "Saliency":
            return Saliency(m).attribute(inp, target=target, abs=False)
        if method == "InputXGradient":
            return InputXGradient(m).attribute(inp, target=target)
        if method == "Deconvolution":
            return Deconvolution(m).attribute(inp, target=target)
        if method == "GuidedBackprop":
            return GuidedBackprop(m).attribute(inp, target=target)
        if method == "DeepLift":
            return DeepLift(m).attribute(inp, target=target)
        layer = m.fpa.fconvs["0"]
        return LayerGradCam(m, layer).attribute(inp, target=target, attribute_to_layer_input=True).reshape(inp.shape)

    def quantus_explain(model, inputs, targets, method=None, **kw):
        t = torch.tensor(inputs, dtype=torch.float32)
        return explain(method, t, torch.tensor(targets), model).detach().numpy()

    t0 = time.perf_counter()
    with torch.no_grad():
        logits = net(x)
    pred = logits.argmax(1)
    n, c = logits.shape
    kappa = torch.full((n, c), -1.0 / (c - 1))
    kappa[torch.arange(n), pred] = 1.0
    for method in ["Saliency", "InputXGradient", "LayerGradCam", "Deconvolution", "GuidedBackprop", "DeepLift"]:
        h = explain(method, x, pred).detach()
        hn = h / h.abs().amax(1, keepdim=True).clamp_min(1e-30)
        with torch.no_grad():
            for after in (net(x + hn), net(x * hn)):
                (kappa * (after - logits)).sum(1)
        a = h.abs().numpy()
        quantus.PixelFlipping(features_in_step=1, perturb_baseline=0.0, abs=True, normalise=False,
                              disable_warnings=True)(model=net, x_batch=x.numpy(), y_batch=pred.numpy(), a_batch=a)
        order = torch.argsort(h.abs(), dim=1, descending=True, stable=True)
        with torch.no_grad():
            for k in range(x.shape[1] + 1):
                keep = torch.zeros_like(x, dtype=torch.bool).scatter(1, order[:, :k], True)
                net(torch.where(keep, x, torch.zeros_like(x))).softmax(1)
        noise = torch.randn(n * 10, x.shape[1]) * 0.1
        infidelity(net, lambda inp: (noise, inp - noise), x, h, target=pred, n_perturb_samples=10)
        # Captum passes the inputs as a tuple and expects the explanations as one.
        sensitivity_max(lambda inp, target: (explain(method, inp[0], target),), x, n_perturb_samples=10,
                        perturb_radius=0.02, target=pred)
        quantus.Sparseness(disable_warnings=True)(model=net, x_batch=x.numpy(), y_batch=pred.numpy(), a_batch=a)
        quantus.Complexity(disable_warnings=True)(model=net, x_batch=x.numpy(), y_batch=pred.numpy(), a_batch=a)
        quantus.MPRT(return_average_correlation=True, disable_warnings=True)(
            model=net, x_batch=x.numpy(), y_batch=pred.numpy(), a_batch=h.numpy(),
            explain_func=quantus_explain, explain_func_kwargs={"method": method})
    print(json.dumps({"name": "panel", "seconds": time.perf_counter() - t0}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=4537)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--python-side", action="store_true")
    args = ap.parse_args()
    if args.python_side:
        return run_python_side(args.rows)
    if not GAXSH.exists():
        subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True)
    ratios, g_all, p_all = [], [], []
    for r in range(args.rounds):
        if r % 2 == 0:
            g, p = gaxsh_side(args.rows), python_side(args.rows)
        else:
            p, g = python_side(args.rows), gaxsh_side(args.rows)
        g_all.append(g)
        p_all.append(p)
        ratios.append(p / g)
        print(f"round {r + 1}: gaxsh {g:.2f} s, Captum + Quantus {p:.2f} s, ratio {p / g:.1f}", flush=True)
    print(f"| metric panel, {args.rows} dry-bean rows × six methods, every metric | "
          f"{statistics.median(g_all):.2f} s | {statistics.median(p_all):.1f} s | **{statistics.median(ratios):.0f}×** |")


if __name__ == "__main__":
    main()
