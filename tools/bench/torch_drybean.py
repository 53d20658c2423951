"""The dry-bean pipeline of scripts/drybean.rhai in PyTorch + Captum, for the peak-memory and
wall-time rows of BENCHMARKS.md (tools/bench/run.py runs it beside `gaxsh scripts/drybean.rhai`).

Same work: load the CSV, split by row index mod 3, standardise ((x - mean)/std + 0.5), train
drybeanFPA (Adam lr 1e-3, betas (0.5, 0.999), batch 16, shuffled, until validation accuracy
> 0.85), evaluate, the AX sweep (six methods x {sum, mult}, batches of 256) written to a CSV,
AUROC of CO per method, GAX (l_s = 1, 200 steps) on the first 100 correct test rows, and the
box plot and GAX curves as PNGs.

    python tools/bench/torch_drybean.py OUT_DIR
"""
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools/reference"))
from models import FpaNet  # noqa: E402
from pipeline import ax_sweep, gax_trajectories, train_epoch, write_and_summarise  # noqa: E402
from captum.attr import LayerGradCam  # noqa: E402

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)
torch.set_num_threads(1)

CLASSES = ["SEKER", "BARBUNYA", "BOMBAY", "CALI", "DERMASON", "HOROZ", "SIRA"]
path = ROOT / "data/drybean/Dry_Bean_Dataset.csv"
raw = np.genfromtxt(path, delimiter=",", skip_header=1, usecols=range(16))
names = np.genfromtxt(path, delimiter=",", skip_header=1, usecols=16, dtype=str)
y = np.array([CLASSES.index(n) for n in names])
x = (raw - raw.mean(0)) / raw.std(0) + 0.5
idx = np.arange(len(y))
part = lambda r: (torch.tensor(x[idx % 3 == r], dtype=torch.float32), torch.tensor(y[idx % 3 == r]))  # noqa: E731
(train_x, train_y), (val_x, val_y), (test_x, test_y) = part(0), part(1), part(2)

net = FpaNet(14, 7)
opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.999))
for epoch in range(256):
    train_epoch(net, opt, train_x, train_y)
    net.eval()
    with torch.no_grad():
        acc = (net(val_x).argmax(1) == val_y).float().mean().item()
    if acc > 0.85:
        break
net.eval()
torch.save(net.state_dict(), out / "drybean_fpa.pt")
with torch.no_grad():
    print("test accuracy", (net(test_x).argmax(1) == test_y).float().mean().item())



def grad_cam(xb, pred):
    # At the first convolution's input, as gaxsh's default layer for this model.
    return LayerGradCam(net, net.fpa.fconvs["0"]).attribute(xb, target=pred, attribute_to_layer_input=True).reshape(xb.shape)


rows, methods = ax_sweep(net, test_x, test_y, 256, grad_cam)
write_and_summarise(rows, methods, out)

# GAX on the first 100 correctly predicted test rows: l_s = 1, |x| + eps denominators, 200 steps.
with torch.no_grad():
    correct = (net(test_x).argmax(1) == test_y).nonzero().flatten()[:100]
gax_trajectories(net, test_x[correct], out, steps=200, ls=1.0, bias=True)
print("done")
