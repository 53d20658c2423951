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
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools/reference"))
from models import KerasMobileNetV1, keras_v1_state_dict  # noqa: E402
from pipeline import ax_sweep, gax_trajectories, write_and_summarise  # noqa: E402
from captum.attr import LayerAttribution, LayerGradCam  # noqa: E402

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



def grad_cam(xb, pred):
    a = LayerGradCam(net, net.conv1).attribute(xb, target=pred)
    return LayerAttribution.interpolate(a, (224, 224), interpolate_mode="bilinear").expand(xb.shape)


rows, methods = ax_sweep(net, x, y, 16, grad_cam)
write_and_summarise(rows, methods, out)

# GAX without the bias term on the first 10 correctly predicted images.
gax_trajectories(net, x[(pred_all == y).nonzero().flatten()[:10]], out, steps=100, ls=100.0, bias=False, target=48.0)
print("done")
