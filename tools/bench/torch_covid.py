"""The COVID pipeline of scripts/covid.rhai (its default data: the bundled Kermany chest X-ray
sample, 300 images in two classes) in PyTorch + Captum, for the wall-time row (o) of
BENCHMARKS.md: tools/bench/run.py runs it beside
`gaxsh scripts/covid.rhai --epochs EPOCHS --stop_at 1`.

Same work: decode every image of data/chest_xray/train/<class>/ (classes and files sorted), grey
as the mean of R, G, B, /255, resize to 256×256 (bilinear, half-pixel, no antialias, as gaxsh's
image_folder), normalise ((x - 0.456) / 0.224); split by the index within its class mod 3
(train, val, test); cxc_multi_spa from PyTorch's default initialisation (gaxsh draws its own);
EPOCHS epochs of Adam (lr 1e-3, betas (0.5, 0.999)), batch 16, reshuffled each epoch, batch norm
in training mode, validation accuracy after each epoch and the best-validation weights kept (a
fixed epoch count, so both sides train alike whatever accuracy their draws reach); test accuracy
and the confusion matrix; the AX sweep (six methods × {x + h, x ⊙ h}, batches of 16, Grad-CAM at
spa1.convs.0 upsampled bilinearly) written to a CSV; AUROC of CO per method and mode (gaxsh's gap
statistics also bootstrap intervals); GAX (h = tanh(w ⊙ x + b), l_s = 100, Adam lr 0.1, target
CO 48, until all are past or 300 steps) on the first 10 correctly predicted test images; a box
plot and the GAX curves as PNGs.

    python tools/bench/torch_covid.py EPOCHS OUT_DIR
"""
import copy
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools/reference"))
from models import CXCMultiSPA  # noqa: E402
from pipeline import ax_sweep, gax_trajectories, train_epoch, write_and_summarise  # noqa: E402
from captum.attr import LayerAttribution, LayerGradCam  # noqa: E402

epochs, out = int(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)
torch.set_num_threads(1)
SIZE = 256


def load(p):
    grey = np.asarray(Image.open(p).convert("RGB"), dtype=np.float32).mean(2) / 255.0
    a = torch.nn.functional.interpolate(torch.from_numpy(grey)[None, None], size=(SIZE, SIZE), mode="bilinear",
                                        align_corners=False, antialias=False)
    return (a[0] - 0.456) / 0.224


root = ROOT / "data/chest_xray/train"
classes = sorted(d.name for d in root.iterdir() if d.is_dir())
xs, ys, parts = [], [], []
for c, name in enumerate(classes):
    files = sorted(p for p in (root / name).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
    for j, p in enumerate(files):
        xs.append(load(p))
        ys.append(c)
        parts.append(j % 3)
x, y, parts = torch.stack(xs), torch.tensor(ys), torch.tensor(parts)
(train_x, train_y), (val_x, val_y), (test_x, test_y) = ((x[parts == r], y[parts == r]) for r in range(3))
print(f"{len(y)} images, classes {classes}; train {len(train_y)}, val {len(val_y)}, test {len(test_y)}")


def predict(net, xs):
    with torch.no_grad():
        return torch.cat([net(xs[i:i + 64]).argmax(1) for i in range(0, len(xs), 64)])


net = CXCMultiSPA(len(classes))
opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.999))
best, best_acc = None, None
for epoch in range(epochs):
    train_epoch(net, opt, train_x, train_y)
    net.eval()
    acc = (predict(net, val_x) == val_y).float().mean().item()
    print(f"epoch {epoch + 1}: val acc {acc:.4f}")
    if best_acc is None or acc > best_acc:
        best, best_acc = copy.deepcopy(net.state_dict()), acc
net.load_state_dict(best)
net.eval()
torch.save(net.state_dict(), out / "cxc_multi_spa.pt")
pred = predict(net, test_x)
print("test accuracy", (pred == test_y).float().mean().item())
print("confusion", [[((test_y == t) & (pred == p)).sum().item() for p in range(len(classes))] for t in range(len(classes))])


def grad_cam(xb, target):
    a = LayerGradCam(net, net.spa1.convs["0"]).attribute(xb, target=target)
    return LayerAttribution.interpolate(a, (SIZE, SIZE), interpolate_mode="bilinear").expand(xb.shape)


rows, methods = ax_sweep(net, test_x, test_y, 16, grad_cam)
write_and_summarise(rows, methods, out)

# GAX with the bias term (the pneumonia settings) on the first 10 correctly predicted test images.
gax_trajectories(net, test_x[(pred == test_y).nonzero().flatten()[:10]], out, steps=300, ls=100.0, bias=True,
                 target=48.0)
print("done")
