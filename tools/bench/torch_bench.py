"""PyTorch + Captum side of the benchmark: the same workloads as tools/bench/gaxsh_bench.rhai,
with the same models, weights and inputs. One JSON line per workload (median of the repeats).

    python tools/bench/torch_bench.py --threads 1
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools/reference"))
from models import AlexNet, CXCMultiSPA, FpaNet, ResNet, KerasMobileNetV1, formula_input, formula_state_dict, keras_v1_state_dict  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--repeats", type=int, default=5)
ap.add_argument("--only", default="")
ap.add_argument("--device", default="cpu", help="cpu or cuda (tensors and models made there)")
ap.add_argument("--export-onnx", metavar="PATH",
                help="only write row (g)'s ResNet34 (formula weights) as ONNX with torch.onnx.export, then exit")
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.set_default_device(args.device)


def sync():
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()

from captum.attr import (DeepLift, Deconvolution, GuidedBackprop, InputXGradient,  # noqa: E402
                         LayerAttribution, LayerGradCam, Saliency)

METHODS = ["Saliency", "InputXGradient", "LayerGradCam", "Deconvolution", "GuidedBackprop", "DeepLift"]


def time_it(name, fn, repeats=None):
    if args.only and args.only not in name:
        return
    fn()
    ts = []
    for _ in range(repeats or args.repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t0)
    print(json.dumps({"name": name, "seconds": sorted(ts)[len(ts) // 2]}), flush=True)


def formula(net):
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in formula_state_dict(net).items()})
    return net.float().eval()


def attribute(net, x, method, layer=None, layer_input=False, target=None):
    if target is None:
        with torch.no_grad():
            target = net(x).argmax(1)
    if method == "Saliency":
        return Saliency(net).attribute(x, target=target, abs=False)
    if method == "InputXGradient":
        return InputXGradient(net).attribute(x, target=target)
    if method == "Deconvolution":
        return Deconvolution(net).attribute(x, target=target)
    if method == "GuidedBackprop":
        return GuidedBackprop(net).attribute(x, target=target)
    if method == "DeepLift":
        return DeepLift(net).attribute(x, target=target)
    a = LayerGradCam(net, layer).attribute(x, target=target, attribute_to_layer_input=layer_input)
    if x.dim() == 2:
        return a.reshape(x.shape)
    return LayerAttribution.interpolate(a, tuple(x.shape[2:]), interpolate_mode="bilinear").expand(x.shape)


def ax(net, x, labels, method, layer=None, layer_input=False):
    """One method of the AX process: heatmaps, h = A / max|A|, logits of x + h, CO scores."""
    with torch.no_grad():
        before = net(x)
    # The predictions come from the forward pass already made (as gaxsh does).
    a = attribute(net, x, method, layer, layer_input, target=before.argmax(1)).detach()
    m = a.flatten(1).abs().max(1).values
    h = a / torch.where(m == 0, torch.ones_like(m), m).view(-1, *([1] * (a.dim() - 1)))
    with torch.no_grad():
        after = net(x + h)
    c = before.shape[1]
    kappa = torch.full_like(before, -1.0 / (c - 1))
    kappa[torch.arange(len(labels)), labels] = 1.0
    return (kappa * (after - before)).sum(1)


def gax_steps(net, x, steps, ls=100.0, eps=1e-4):
    with torch.no_grad():
        y0 = net(x)
    t = y0.argmax(1)
    c = y0.shape[1]
    kappa = torch.full_like(y0, -1.0 / (c - 1))
    kappa[torch.arange(len(t)), t] = 1.0
    w = torch.ones_like(x, requires_grad=True)
    b = torch.full_like(x, 0.01, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=0.1, betas=(0.9, 0.999))
    den = (x.abs() if (x < 0).any() else x) + eps
    for _ in range(steps):
        opt.zero_grad()
        h = torch.tanh(w * x + b)
        s = (kappa * (net(x + h) - y0)).sum(1)
        sim = ((h - x + eps) ** 2 / den).flatten(1).mean(1)
        (-s + ls / sim).sum().backward()
        opt.step()


def resnet34():
    return formula(ResNet([3, 4, 6, 3], [64, 128, 256, 512], 1000))


if args.export_onnx:
    # What a user does (README "Your own model"): torch's default exporter, batch left dynamic.
    torch.onnx.export(resnet34(), (torch.zeros(1, 3, 224, 224),), args.export_onnx,
                      dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
    sys.exit(0)

# (a) dry bean: the paper's scaling and split.
raw = np.genfromtxt(ROOT / "data/drybean/Dry_Bean_Dataset.csv", delimiter=",", skip_header=1, usecols=range(16))
classes = ["SEKER", "BARBUNYA", "BOMBAY", "CALI", "DERMASON", "HOROZ", "SIRA"]
names = np.genfromtxt(ROOT / "data/drybean/Dry_Bean_Dataset.csv", delimiter=",", skip_header=1, usecols=16, dtype=str)
y = np.array([classes.index(n) for n in names])
xs = (raw - raw.mean(0)) / raw.std(0) + 0.5
idx = np.arange(len(y))
test_x = torch.tensor(xs[idx % 3 == 2], dtype=torch.float32)
test_y = torch.tensor(y[idx % 3 == 2])
bean = formula(FpaNet(14, 7))
for m in METHODS:
    time_it(f"a_sweep_{m}", lambda m=m: ax(bean, test_x, test_y, m, bean.fpa.fconvs["0"], True))

# (b) GAX, 50 steps, 256 rows.
rows = test_x[:256].clone()
time_it("b_gax_50_steps_256_rows", lambda: gax_steps(bean, rows, 50))

# (c) cxc_multi_spa, one 256×256 image.
cxc = formula(CXCMultiSPA(4))
img = formula_input((1, 1, 256, 256), 0.5).float().to(args.device)
time_it("c_cxc_forward_backward", lambda: attribute(cxc, img, "Saliency"))
time_it("c_cxc_gax_10_steps", lambda: gax_steps(cxc, img, 10))

# (d) MobileNetV1-0.25 with the real weights, one photo.
from PIL import Image  # noqa: E402
mb = KerasMobileNetV1()
mb.load_state_dict(keras_v1_state_dict(str(ROOT / "data/weights/mobilenet_v1_0.25_224/mobilenet_v1_0.25_224.safetensors")), strict=False)
mb.eval()
photo = np.asarray(Image.open(ROOT / "data/images/owl.jpg").convert("RGB"), dtype=np.float64) / 255.0
photo = torch.nn.functional.interpolate(torch.from_numpy(photo).permute(2, 0, 1)[None], size=(224, 224), mode="bilinear", align_corners=False)
photo = (photo * 2 - 1).float().to(args.device)
for m in METHODS:
    time_it(f"d_mobilenet_{m}", lambda m=m: attribute(mb, photo, m, mb.conv1, False))

# (g) ResNet34 at 224², two images. gaxsh times its zoo model and the same weights imported
# from torch.onnx.export; both rows are this one PyTorch computation.
res = resnet34()
pair = formula_input((2, 3, 224, 224), 0.5).float().to(args.device)
if not args.only or "g_resnet34" in args.only:
    seconds = None
    for name in ("g_resnet34_zoo_Saliency", "g_resnet34_onnx_Saliency"):
        if seconds is None:
            attribute(res, pair, "Saliency")
            ts = []
            for _ in range(args.repeats):
                sync()
                t0 = time.perf_counter()
                attribute(res, pair, "Saliency")
                sync()
                ts.append(time.perf_counter() - t0)
            seconds = sorted(ts)[len(ts) // 2]
        print(json.dumps({"name": name, "seconds": seconds}), flush=True)

# (h) The AX process on batches of 8 images, each method: forward, attribution (targets from the
# first forward), h = A / max|A|, forward of x + h, CO. Grad-CAM at gaxsh's default layer.
def batch_rows(tag, net, x, layer):
    labels = torch.arange(x.shape[0]) % 2
    for m in METHODS:
        time_it(f"h_{tag}_b8_{m}", lambda m=m: ax(net, x, labels, m, layer))


def wanted(tag):
    return not args.only or tag in args.only or args.only in tag


if wanted("h_resnet34_b8"):
    batch_rows("resnet34", res, formula_input((8, 3, 224, 224), 0.5).float().to(args.device), res.conv1)
if wanted("h_alexnet_b8"):
    alex = formula(AlexNet(1000))
    batch_rows("alexnet", alex, formula_input((8, 3, 224, 224), 0.5).float().to(args.device), alex.features[0])
if wanted("h_mobilenet_b8"):
    batch_rows("mobilenet", mb, (formula_input((8, 3, 224, 224), 0.5) * 2 - 1).float().to(args.device), mb.conv1)
if wanted("h_cxc_b8"):
    batch_rows("cxc", cxc, formula_input((8, 1, 256, 256), 0.5).float().to(args.device), cxc.spa1.convs["0"])

# Training drybean_fpa for 2 epochs (batch 16, Adam lr 1e-3, betas (0.5, 0.999)).
train_x = torch.tensor(xs[idx % 3 == 0], dtype=torch.float32)
train_y = torch.tensor(y[idx % 3 == 0])


def train():
    net = formula(FpaNet(14, 7)).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.999))
    for _ in range(2):
        for i in range(0, len(train_y), 16):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(train_x[i:i + 16]), train_y[i:i + 16]).backward()
            opt.step()


time_it("t_train_drybean_2_epochs", train, repeats=min(3, args.repeats))

# Training cxc_multi_spa for one epoch: 64 images at 256², batch 16, Adam (as above).
if wanted("t_train_cxc"):
    cxc_x = formula_input((64, 1, 256, 256), 0.5).float().to(args.device)
    cxc_y = torch.arange(64) % 4

    def train_cxc():
        net = formula(CXCMultiSPA(4)).train()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.999))
        for i in range(0, 64, 16):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(cxc_x[i:i + 16]), cxc_y[i:i + 16]).backward()
            opt.step()

    time_it("t_train_cxc_1_epoch_64_images", train_cxc, repeats=min(3, args.repeats))
