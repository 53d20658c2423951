"""Generate gaxsh's reference fixtures with PyTorch (and Captum) so `cargo test` needs no Python.

    python -m venv .venv && .venv/bin/pip install torch captum safetensors numpy
    .venv/bin/python tools/reference/make_fixtures.py tests/fixtures

Writes, in float64 computation stored as float32 (6e-8 relative, far inside the tolerances):
  models.safetensors   forward logits of every zoo architecture (formula weights, see models.py)
  ccf_fpa_*.pt/.pth/.model  torch.save checkpoints: bare state_dict, {'net': …}, {'model_state_dict': …}
  resize.safetensors   PIL-decoded bundled PNG resized by F.interpolate (bilinear, no antialias)
  attr_<model>.safetensors  Captum 0.9 attributions of every method, for targets = prediction and
                       targets = given classes; DeepLift one sample per call, as the paper ran it
  ax_gax.safetensors   AX logits and CO scores (raw, softmax, as coded), and the first 10 GAX steps
                       (scores, final heatmap) on drybean_fpa, ccf_fpa and cxc_multi_spa
"""
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).parent))
from models import AlexNet, CXCMultiSPA, FpaNet, ResNet, formula_input, formula_state_dict  # noqa: E402

torch.set_default_dtype(torch.float64)
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")


def build(net):
    net.load_state_dict(formula_state_dict(net))
    return net.double().eval()


def f32able(x):
    """Inputs exactly representable in float32, so f32 and f64 runs see the same numbers."""
    return x.float().double()


# name -> (model, input); inputs from the same formula as gaxsh's `formula_input`.
MODELS = {
    "drybean_fpa": (lambda: FpaNet(14, 7), (5, 16), 0.5),
    "ccf_fpa": (lambda: FpaNet(7, 2), (5, 28), 0.5),
    "cxc_multi_spa": (lambda: CXCMultiSPA(4), (2, 1, 64, 64), 0.5),
    "resnet_small": (lambda: ResNet([1, 1], [8, 16], 5), (3, 3, 32, 32), 0.5),
    "resnet34": (lambda: ResNet([3, 4, 6, 3], [64, 128, 256, 512], 1000), (2, 3, 64, 64), 0.5),
    "alexnet": (lambda: AlexNet(1000), (1, 3, 256, 256), 0.5),
}


def models_fixture():
    out = {}
    with torch.no_grad():
        for name, (make, shape, phase) in MODELS.items():
            net = build(make())
            x = f32able(formula_input(shape, phase))
            out[f"{name}.logits"] = net(x).float().contiguous()
            print(f"{name}: {sum(p.numel() for p in net.parameters())} params, logits {tuple(out[name + '.logits'].shape)}")
    save_file(out, str(OUT / "models.safetensors"))


def checkpoints_fixture():
    """The authors' checkpoint wrappers (v1 {'net', 'optimizer'}, v2 {'model_state_dict'})."""
    net = build(FpaNet(7, 2))
    sd = {k: v.float() if v.is_floating_point() else v for k, v in net.state_dict().items()}
    torch.save(sd, OUT / "ccf_fpa_bare.pt")
    torch.save({"net": sd, "optimizer": {}}, OUT / "ccf_fpa_net_wrapper.model")
    torch.save({"model_state_dict": sd}, OUT / "ccf_fpa_v2_wrapper.pth")


def resize_fixture():
    """torch's bilinear resize (half-pixel, no antialias) of a bundled lossless PNG."""
    import torch.nn.functional as F
    from PIL import Image

    root = Path(__file__).resolve().parents[2]
    img = np.asarray(Image.open(root / "data/images/cat.png").convert("RGB")).astype(np.float64) / 255.0
    t = torch.from_numpy(img).permute(2, 0, 1).unsqueeze(0)
    rgb = F.interpolate(t, size=(64, 80), mode="bilinear", align_corners=False, antialias=False)
    gray = F.interpolate(torch.from_numpy(img.mean(axis=2))[None, None], size=(50, 50), mode="bilinear", align_corners=False, antialias=False)
    up = F.interpolate(torch.arange(12, dtype=torch.float64).reshape(1, 1, 3, 4), size=(7, 9), mode="bilinear", align_corners=False)
    save_file({"cat_rgb_64x80": rgb[0].contiguous(), "cat_gray_50x50": gray[0].contiguous(),
               "upsample_3x4_to_7x9": up[0, 0].contiguous()}, str(OUT / "resize.safetensors"))


# Models for attribution parity: (constructor, per-sample input shape, Grad-CAM layer, layer input?)
ATTR_MODELS = {
    "drybean_fpa": (lambda: FpaNet(14, 7), (16,), "fpa.fconvs.0", True),
    "ccf_fpa": (lambda: FpaNet(7, 2), (28,), "fpa.fconvs.0", True),
    "cxc_multi_spa": (lambda: CXCMultiSPA(4), (1, 64, 64), "spa1.convs.0", False),
    "resnet_small": (lambda: ResNet([1, 1], [8, 16], 5), (3, 32, 32), "conv1", False),
}


def get_module(net, name):
    m = net
    for part in name.split("."):
        m = m[part] if isinstance(m, (nn.ModuleDict, nn.Sequential)) else getattr(m, part)
    return m


def gradcam_raw(net, layer, layer_input, x, target):
    """Captum's LayerGradCam as it returns it: the map at the layer's size, (N, 1, ...)."""
    from captum.attr import LayerGradCam
    return LayerGradCam(net, get_module(net, layer)).attribute(x, target=target, attribute_to_layer_input=layer_input)


def gradcam(net, layer, layer_input, x, target):
    from captum.attr import LayerAttribution
    a = gradcam_raw(net, layer, layer_input, x, target)
    if x.dim() == 2:  # FPA: the map over the unsqueezed input (N, 1, d)
        return a.reshape(x.shape)
    up = LayerAttribution.interpolate(a, tuple(x.shape[2:]), interpolate_mode="bilinear")
    return up.expand(x.shape).contiguous()


def attr_fixture(name):
    from captum.attr import (Deconvolution, DeepLift, GuidedBackprop, InputXGradient,
                             IntegratedGradients, Saliency)
    make, shape, layer, layer_input = ATTR_MODELS[name]
    net = build(make())
    gen = torch.Generator().manual_seed(7)
    n = 3 if len(shape) == 3 else 6
    scale = 1.0 if len(shape) == 3 else 0.8
    x = f32able(torch.randn((n,) + shape, generator=gen, dtype=torch.float64) * scale + (0.5 if len(shape) == 1 else 0.0))
    with torch.no_grad():
        logits = net(x)
    pred = logits.argmax(1)
    given = (pred + 1) % logits.shape[1]
    out = {"input": x, "logits": logits, "target_pred": pred, "target_given": given}
    for tname, t in (("pred", pred), ("given", given)):
        out[f"Saliency.{tname}"] = Saliency(net).attribute(x, target=t, abs=False)
        out[f"InputXGradient.{tname}"] = InputXGradient(net).attribute(x, target=t)
        out[f"Deconvolution.{tname}"] = Deconvolution(net).attribute(x, target=t)
        out[f"GuidedBackprop.{tname}"] = GuidedBackprop(net).attribute(x, target=t)
        # DeepLift one sample per call, as the paper's batch-1 loop (METHOD.md §4.2b).
        dl, deltas = [], []
        for i in range(n):
            a, d = DeepLift(net).attribute(x[i:i + 1], target=t[i:i + 1], return_convergence_delta=True)
            dl.append(a)
            deltas.append(d)
        out[f"DeepLift.{tname}"] = torch.cat(dl)
        out[f"DeepLift_delta.{tname}"] = torch.cat(deltas)
        out[f"LayerGradCam.{tname}"] = gradcam(net, layer, layer_input, x, t)
        out[f"LayerGradCam_raw.{tname}"] = gradcam_raw(net, layer, layer_input, x, t)
        out[f"IG_gl16.{tname}"] = IntegratedGradients(net).attribute(x, target=t, n_steps=16, method="gausslegendre")
        out[f"IG_trap10.{tname}"] = IntegratedGradients(net).attribute(x, target=t, n_steps=10, method="riemann_trapezoid")
    save_file({k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in out.items()},
              str(OUT / f"attr_{name}.safetensors"))
    print(f"attr_{name}: {n} samples")


def co(before, after, labels, form="raw"):
    c = before.shape[1]
    kappa = torch.full_like(before, -1.0 / (c - 1))
    kappa[torch.arange(len(labels)), labels] = 1.0
    if form == "softmax":
        after, before = after.softmax(1), before.softmax(1)
    elif form == "softmax_as_coded":
        after = after.softmax(1)
    return (kappa * (after - before)).sum(1)


def gax_steps(net, x, target, mode, steps=10, ls=100.0, eps=1e-4, use_abs=True, bias=True):
    """The authors' GAX loop (METHOD.md §5) with the |x| option: per step the CO scores, the loss
    -CO + l_s/S and the similarity term S of each sample; the heatmap of the last scored step and
    the one the parameters give after the last update."""
    with torch.no_grad():
        y0 = net(x)
    c = y0.shape[1]
    kappa = torch.full_like(y0, -1.0 / (c - 1))
    kappa[torch.arange(len(target)), target] = 1.0
    w = torch.ones_like(x, requires_grad=True)
    b = torch.full_like(x, 0.01, requires_grad=True)
    opt = torch.optim.Adam([w, b] if bias else [w], lr=0.1, betas=(0.9, 0.999))
    scores, losses, sims, last_h = [], [], [], None
    for _ in range(steps):
        opt.zero_grad()
        h = torch.tanh(w * x + b) if bias else torch.tanh(w * x)
        y = net(x + h if mode == "sum" else x * h)
        s = (kappa * (y - y0)).sum(1)
        den = x.abs() + eps if use_abs else x + eps
        sim = ((h - x + eps) ** 2 / den).flatten(1).mean(1)
        each = -s + ls / sim
        loss = each.sum()
        loss.backward()
        opt.step()
        scores.append(s.detach())
        losses.append(each.detach())
        sims.append(sim.detach())
        last_h = h.detach()
    with torch.no_grad():
        updated = torch.tanh(w * x + b) if bias else torch.tanh(w * x)
    return {"gax_scores": torch.stack(scores, 1), "gax_heatmap": last_h, "gax_losses": torch.stack(losses, 1),
            "gax_sims": torch.stack(sims, 1), "gax_updated": updated}


def ax_gax_fixture():
    from captum.attr import Saliency
    out = {}
    net = build(FpaNet(14, 7))
    gen = torch.Generator().manual_seed(11)
    x = f32able(torch.randn(6, 16, generator=gen, dtype=torch.float64) * 0.8 + 0.5)
    with torch.no_grad():
        before = net(x)
    pred = before.argmax(1)
    labels = torch.tensor([0, 1, 2, 3, 4, 5]) % 7
    a = Saliency(net).attribute(x, target=pred, abs=False)
    h = a / a.abs().flatten(1).max(1).values[:, None]
    with torch.no_grad():
        for mode, xa in (("sum", x + h), ("mult", x * h)):
            after = net(xa)
            out[f"drybean.after_{mode}"] = after
            for form in ("raw", "softmax", "softmax_as_coded"):
                out[f"drybean.co_{mode}_{form}"] = co(before, after, labels, form)
    out.update({"drybean.input": x, "drybean.labels": labels, "drybean.heatmap": h})
    out.update({f"drybean.{k}": v for k, v in gax_steps(net, x, pred, "sum").items()})

    ccf = build(FpaNet(7, 2))
    xc = f32able(torch.rand(4, 28, generator=gen, dtype=torch.float64) * 2.0 - 0.5)
    with torch.no_grad():
        pc = ccf(xc).argmax(1)
    out.update({f"ccf.{k}": v for k, v in gax_steps(ccf, xc, pc, "mult").items()})
    out["ccf.input"] = xc

    cxc = build(CXCMultiSPA(4))
    xi = f32able(torch.rand(2, 1, 64, 64, generator=gen, dtype=torch.float64))
    with torch.no_grad():
        pi = cxc(xi).argmax(1)
    out.update({f"cxc.{k}": v for k, v in gax_steps(cxc, xi, pi, "sum", use_abs=False).items()})
    out["cxc.input"] = xi
    save_file({k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in out.items()}, str(OUT / "ax_gax.safetensors"))
    print("ax_gax: done")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    models_fixture()
    checkpoints_fixture()
    resize_fixture()
    for name in ATTR_MODELS:
        attr_fixture(name)
    ax_gax_fixture()
