"""The ImageNet pipeline of scripts/imagenet.rhai (its default model) in PyTorch + Captum, for the
wall-time row (n) of BENCHMARKS.md: tools/bench/run.py runs it beside
`gaxsh scripts/imagenet.rhai --data LIST --gax_n 10 --steps 100`.

Same work: read the 'path, label' list, decode each image, resize to 224×224 (bilinear,
half-pixel, no antialias, as gaxsh's image_list), scale to [-1, 1] (MobileNetV1's Keras
preprocessing); MobileNetV1-0.25 with the bundled Keras weights; top-1 accuracy; the AX sweep
(six methods × {x + h, x ⊙ h}, batches of 16, Grad-CAM at conv1) written to a CSV; AUROC of CO
per method and mode (gaxsh's gap statistics also bootstrap intervals); GAX without the bias term
(h = tanh(w ⊙ x), l_s = 100, Adam lr 0.1, target CO 48; a sample past it leaves the loss, though
Adam's momentum still moves it, where gaxsh freezes it; until all are past or 100 steps) on the first 10 correctly predicted images; a box plot and the GAX curves as PNGs.

    python tools/bench/torch_imagenet.py LIST OUT_DIR
"""
import csv
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools/reference"))
from models import KerasMobileNetV1, keras_v1_state_dict  # noqa: E402
from captum.attr import (DeepLift, Deconvolution, GuidedBackprop, InputXGradient,  # noqa: E402
                         LayerAttribution, LayerGradCam, Saliency)
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

listing, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)
torch.set_num_threads(1)

paths, labels = [], []
for line in listing.read_text().splitlines():
    if line.strip():
        p, label = line.rsplit(",", 1)
        paths.append(listing.parent / p.strip())
        labels.append(int(label))


def load(p):
    a = torch.from_numpy(np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
    a = torch.nn.functional.interpolate(a, size=(224, 224), mode="bilinear", align_corners=False, antialias=False)
    return (a[0] - 0.5) / 0.5


x = torch.stack([load(p) for p in paths])
y = torch.tensor(labels)
net = KerasMobileNetV1()
net.load_state_dict(keras_v1_state_dict(str(ROOT / "data/weights/mobilenet_v1_0.25_224/mobilenet_v1_0.25_224.safetensors")),
                    strict=False)
net.eval()
with torch.no_grad():
    pred_all = torch.cat([net(x[i:i + 16]).argmax(1) for i in range(0, len(y), 16)])
print("top-1 accuracy", (pred_all == y).float().mean().item())

METHODS = {
    "Saliency": lambda: Saliency(net),
    "InputXGradient": lambda: InputXGradient(net),
    "LayerGradCam": lambda: LayerGradCam(net, net.conv1),
    "Deconvolution": lambda: Deconvolution(net),
    "GuidedBackprop": lambda: GuidedBackprop(net),
    "DeepLift": lambda: DeepLift(net),
}
rows = []
for start in range(0, len(y), 16):
    xb, yb = x[start:start + 16], y[start:start + 16]
    with torch.no_grad():
        before = net(xb)
    pred = before.argmax(1)
    c = before.shape[1]
    kappa = torch.full_like(before, -1.0 / (c - 1))
    kappa[torch.arange(len(yb)), yb] = 1.0
    for name, make in METHODS.items():
        m = make()
        if name == "LayerGradCam":
            a = m.attribute(xb, target=pred)
            a = LayerAttribution.interpolate(a, (224, 224), interpolate_mode="bilinear").expand(xb.shape)
        elif name == "Saliency":
            a = m.attribute(xb, target=pred, abs=False)
        else:
            a = m.attribute(xb, target=pred)
        a = a.detach()
        mx = a.flatten(1).abs().max(1).values
        h = a / torch.where(mx == 0, torch.ones_like(mx), mx).view(-1, 1, 1, 1)
        for mode, xa in (("sum", xb + h), ("mult", xb * h)):
            with torch.no_grad():
                after = net(xa)
            co = (kappa * (after - before)).sum(1)
            for i in range(len(yb)):
                rows.append((name, mode, start + i, yb[i].item(), pred[i].item(), after[i].argmax().item(), co[i].item()))
with open(out / "co_scores.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["method", "mode", "index", "label", "pred_before", "pred_after", "co"])
    w.writerows(rows)


def auroc(pos, neg):
    s = np.concatenate([pos, neg])
    ranks = s.argsort().argsort() + 1.0
    return (ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


groups = {}
for name, mode, _, label, pb, _, co in rows:
    groups.setdefault((name, mode), ([], []))[0 if pb == label else 1].append(co)
for (name, mode), (ok, wrong) in groups.items():
    if ok and wrong:
        print(name, mode, "AUROC", round(auroc(np.array(ok), np.array(wrong)), 4))
fig, ax = plt.subplots(figsize=(10, 5))
data, names = [], []
for name in METHODS:
    ok, wrong = groups[(name, "sum")]
    data += [ok, wrong]
    names += [f"{name}\ncorrect", f"{name}\nwrong"]
ax.boxplot(data)
ax.set_xticks(range(1, len(names) + 1), names, fontsize=6)
fig.savefig(out / "boxplot_co.png", dpi=100)

# GAX without the bias term on the first 10 correctly predicted images.
xg = x[(pred_all == y).nonzero().flatten()[:10]]
with torch.no_grad():
    y0 = net(xg)
t = y0.argmax(1)
kappa = torch.full_like(y0, -1.0 / (y0.shape[1] - 1))
kappa[torch.arange(len(t)), t] = 1.0
w = torch.ones_like(xg, requires_grad=True)
gopt = torch.optim.Adam([w], lr=0.1)
den = xg.abs() + 1e-4
active = torch.ones(len(xg), dtype=torch.bool)
traj = []
for step in range(100):
    gopt.zero_grad()
    h = torch.tanh(w * xg)
    s = (kappa * (net(xg + h) - y0)).sum(1)
    traj.append(s.detach().numpy())
    active &= s.detach() <= 48
    if not active.any():
        break
    sim = ((h - xg + 1e-4) ** 2 / den).flatten(1).mean(1)
    ((-s + 100.0 / sim) * active).sum().backward()
    gopt.step()
traj = np.array(traj)
np.savetxt(out / "gax_scores.csv", traj, delimiter=",")
fig, ax = plt.subplots()
ax.plot(traj)
fig.savefig(out / "gax_curves.png", dpi=100)
print("done")
