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
ap.add_argument("--memory-b32", choices=["run", "live"],
                help="row (m) only: run the AX process (Saliency) on 32 ResNet34 images at 224² once, or print "
                     "the bytes of the live tensors it needs, then exit")
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


def time_it(name, fn, repeats=None, flop=None):
    """Print the median time of `fn` after a warm-up, and the work it is credited with: `flop`,
    the multiply-adds (×2) of the passes the workload needs at least (see forward_macs)."""
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
    print(json.dumps({"name": name, "seconds": sorted(ts)[len(ts) // 2], "flop": flop}), flush=True)


def forward_macs(net, x):
    """Multiply-adds of one forward pass of `net` on `x`: its convolutions and linear layers.

    The roofline column credits each workload with the passes it needs at least, in units of this:
    an input-gradient backward costs one forward, a weight-gradient backward another."""
    total = 0

    def count(m, inp, out):
        nonlocal total
        if isinstance(m, torch.nn.Linear):
            total += out.numel() * m.in_features
        else:
            total += out.numel() * (m.in_channels // m.groups) * int(np.prod(m.kernel_size))

    kinds = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Linear)
    hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, kinds)]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    return total


def ax_passes(method):
    """Forward-equivalents of one method of the AX process: forward, the input-gradient backward,
    forward of x + h; DeepLift adds its reference's forward."""
    return 4 if method == "DeepLift" else 3


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


def resnet50():
    """torchvision's ResNet50 (Bottleneck blocks) with the formula weights: a model gaxsh has no
    zoo entry for, so it reaches gaxsh only as ONNX (row (h)'s ResNet50 rows)."""
    import torchvision
    return formula(torchvision.models.resnet50(weights=None))


def export_onnx(net, path):
    # What a user does (README "Your own model"): torch's default exporter, batch left dynamic.
    torch.onnx.export(net, (torch.zeros(1, 3, 224, 224),), path,
                      dynamic_shapes={"x": {0: torch.export.Dim("batch")}})


if args.export_onnx:
    export_onnx(resnet34(), args.export_onnx)
    export_onnx(resnet50(), str(Path(args.export_onnx).with_name("resnet50.onnx")))
    sys.exit(0)

def live_bytes(net, x):
    """Bytes the AX process on `x` needs live at its peak (the start of the backward pass): the
    weights and buffers, the input and its gradient, and every tensor autograd keeps for the
    backward (each storage once; the weights among them are counted with the weights)."""
    weights = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes()
               for t in list(net.parameters()) + list(net.buffers())}
    kept = {}

    def pack(t):
        st = t.untyped_storage()
        if st.data_ptr() not in weights:
            kept[st.data_ptr()] = st.nbytes()
        return t

    x = x.clone().requires_grad_()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        net(x)
    return sum(weights.values()) + sum(kept.values()) + x.numel() * x.element_size()


if args.memory_b32:
    net = resnet34()
    x = formula_input((32, 3, 224, 224), 0.5).float()
    if args.memory_b32 == "live":
        print(live_bytes(net, x))
    else:
        ax(net, x, torch.arange(32) % 2, "Saliency")
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
bean_macs = forward_macs(bean, test_x)
for m in METHODS:
    time_it(f"a_sweep_{m}", lambda m=m: ax(bean, test_x, test_y, m, bean.fpa.fconvs["0"], True),
            flop=2 * bean_macs * ax_passes(m))

# (b) GAX, 50 steps, 256 rows.
rows = test_x[:256].clone()
# A GAX step is a forward and an input-gradient backward; one forward first.
time_it("b_gax_50_steps_256_rows", lambda: gax_steps(bean, rows, 50), flop=2 * forward_macs(bean, rows) * (1 + 2 * 50))

# (c) cxc_multi_spa, one 256×256 image.
cxc = formula(CXCMultiSPA(4))
img = formula_input((1, 1, 256, 256), 0.5).float().to(args.device)
cxc_macs = forward_macs(cxc, img)
time_it("c_cxc_forward_backward", lambda: attribute(cxc, img, "Saliency"), flop=2 * cxc_macs * 2)
time_it("c_cxc_gax_10_steps", lambda: gax_steps(cxc, img, 10), flop=2 * cxc_macs * (1 + 2 * 10))

# (d) MobileNetV1-0.25 with the real weights, one photo.
from PIL import Image  # noqa: E402
mb = KerasMobileNetV1()
mb.load_state_dict(keras_v1_state_dict(str(ROOT / "data/weights/mobilenet_v1_0.25_224/mobilenet_v1_0.25_224.safetensors")), strict=False)
mb.eval()
photo = np.asarray(Image.open(ROOT / "data/images/owl.jpg").convert("RGB"), dtype=np.float64) / 255.0
photo = torch.nn.functional.interpolate(torch.from_numpy(photo).permute(2, 0, 1)[None], size=(224, 224), mode="bilinear", align_corners=False)
photo = (photo * 2 - 1).float().to(args.device)
mb_macs = forward_macs(mb, photo)
for m in METHODS:
    time_it(f"d_mobilenet_{m}", lambda m=m: attribute(mb, photo, m, mb.conv1, False),
            flop=2 * mb_macs * (ax_passes(m) - 1))

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
        print(json.dumps({"name": name, "seconds": seconds, "flop": 2 * forward_macs(res, pair) * 2}), flush=True)

# (h) The AX process on batches of 8 images, each method: forward, attribution (targets from the
# first forward), h = A / max|A|, forward of x + h, CO. Grad-CAM at gaxsh's default layer.
def batch_rows(tag, net, x, layer):
    labels = torch.arange(x.shape[0]) % 2
    macs = forward_macs(net, x)
    for m in METHODS:
        time_it(f"h_{tag}_b8_{m}", lambda m=m: ax(net, x, labels, m, layer), flop=2 * macs * ax_passes(m))


def wanted(tag):
    return not args.only or tag in args.only or args.only in tag


if wanted("h_resnet34_b8"):
    batch_rows("resnet34", res, formula_input((8, 3, 224, 224), 0.5).float().to(args.device), res.conv1)
if wanted("h_resnet50_onnx_b8"):
    # gaxsh reads the same model from the ONNX file --export-onnx wrote beside ResNet34's.
    r50 = resnet50()
    x8 = formula_input((8, 3, 224, 224), 0.5).float().to(args.device)
    macs = forward_macs(r50, x8)
    for m in ("Saliency", "InputXGradient"):
        time_it(f"h_resnet50_onnx_b8_{m}", lambda m=m: ax(r50, x8, torch.arange(8) % 2, m),
                flop=2 * macs * ax_passes(m))
if wanted("h_alexnet_b8"):
    alex = formula(AlexNet(1000))
    batch_rows("alexnet", alex, formula_input((8, 3, 224, 224), 0.5).float().to(args.device), alex.features[0])
if wanted("h_mobilenet_b8"):
    batch_rows("mobilenet", mb, (formula_input((8, 3, 224, 224), 0.5) * 2 - 1).float().to(args.device), mb.conv1)
if wanted("h_cxc_b8"):
    batch_rows("cxc", cxc, formula_input((8, 1, 256, 256), 0.5).float().to(args.device), cxc.spa1.convs["0"])

# (i) GAX on one 224² image: ResNet34, 10 steps.
if wanted("i_resnet34_gax"):
    one = formula_input((1, 3, 224, 224), 0.5).float().to(args.device)
    time_it("i_resnet34_gax_10_steps", lambda: gax_steps(res, one, 10), flop=2 * forward_macs(res, one) * (1 + 2 * 10))

# (p) The roofline's peak: one f32 product of two 2048×2048 matrices.
if wanted("p_gemm"):
    ga = formula_input((2048, 2048), 0.5).float().to(args.device)
    gb = formula_input((2048, 2048), 1.5).float().to(args.device)
    time_it("p_gemm_2048", lambda: ga @ gb, flop=2 * 2048 ** 3)

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


# A training step: forward, the backward's input gradients and its weight gradients.
time_it("t_train_drybean_2_epochs", train, repeats=min(3, args.repeats),
        flop=2 * forward_macs(bean, train_x) * 3 * 2)

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

    time_it("t_train_cxc_1_epoch_64_images", train_cxc, repeats=min(3, args.repeats),
            flop=2 * forward_macs(cxc, cxc_x) * 3)

# Training a ResNet18 (torchvision layout, formula weights) at 224²: one epoch of 16 images,
# batch 8, Adam, batch norm in training mode.
if wanted("t_train_resnet18"):
    r18_x = formula_input((16, 3, 224, 224), 0.5).float().to(args.device)
    r18_y = torch.arange(16) % 10

    def train_resnet18():
        net = formula(ResNet([2, 2, 2, 2], [64, 128, 256, 512], 10)).train()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.999))
        for i in range(0, 16, 8):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(r18_x[i:i + 8]), r18_y[i:i + 8]).backward()
            opt.step()

    time_it("t_train_resnet18_224_16_images", train_resnet18, repeats=min(3, args.repeats),
            flop=2 * forward_macs(formula(ResNet([2, 2, 2, 2], [64, 128, 256, 512], 10)), r18_x) * 3)
