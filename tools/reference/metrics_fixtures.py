"""Reference values of the explanation-metric panel (`evaluate_heatmaps`), so `cargo test` needs
no Python:

    pip install torch captum quantus==0.5.3 safetensors "numpy<2.4"  # Quantus 0.5.3 calls float() on 1-element arrays, an error from numpy 2.4
    python tools/reference/metrics_fixtures.py tests/fixtures

Writes tests/fixtures/metrics.safetensors, float64 throughout, for drybean_fpa (6 rows) and
cxc_multi_spa (2 images of 64²) with formula weights:
  <model>.input, .targets                the inputs and the classes explained (the predictions)
  <model>.<method>                       Captum 0.9's attribution
  <model>.infid_noise, .sens_noise       the perturbations, each sample's in a row (Captum's layout)
  <model>.<method>.infidelity[_norm]     captum.metrics.infidelity, perturb_func → (I, x − I)
  <model>.<method>.sensitivity_max       captum.metrics.sensitivity_max, perturb_func → x + δ
  <model>.<method>.deletion/.insertion   the target's softmax probability as the units (features,
                                         or pixels/patches over channels, by Σ|h|, most relevant
                                         first) are set to 0 / put back into 0: an f64 loop here,
                                         checked against Quantus's PixelFlipping below
  <model>.<method>.sparseness/.complexity  Quantus Sparseness and Complexity (abs, each sample
                                         normalised by its own maximum) of the units' Σ|h|
  cxc.Saliency.road_imputed_<p>          Quantus's noisy_linear_imputation (noise 0) of each image
                                         with its p % most relevant pixels (by Σ|h|) removed
  cxc.Saliency.road_morf/.road_lerf      Quantus ROAD (noise 0) at ROAD_PERCENTAGES: the share of
                                         the two images still predicted as their target, per
                                         percentage (LeRF: Quantus on max − relevance)
"""
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).parent))
from make_fixtures import build, f32able  # noqa: E402
from models import CXCMultiSPA, FpaNet  # noqa: E402

torch.set_default_dtype(torch.float64)
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
PERTURBATIONS = 4


def unit_relevance(h, patch):
    """Σ|h| per unit: a feature (rank-1 samples) or a patch of the spatial axes over channels."""
    a = h.abs()
    if a.dim() == 2:
        return a
    a = a.sum(1)  # over channels: (N, H, W)
    n, hh, ww = a.shape
    ph, pw = -(-hh // patch), -(-ww // patch)
    out = torch.zeros(n, ph, pw)
    for i in range(ph):
        for j in range(pw):
            out[:, i, j] = a[:, i * patch:(i + 1) * patch, j * patch:(j + 1) * patch].sum((1, 2))
    return out.reshape(n, -1)


def unit_mask(shape, patch, units):
    """Boolean mask over one sample for a set of unit indices."""
    if len(shape) == 1:
        m = torch.zeros(shape, dtype=torch.bool)
        m[list(units)] = True
        return m
    c, hh, ww = shape
    pw = -(-ww // patch)
    m = torch.zeros(shape, dtype=torch.bool)
    for u in units:
        i, j = divmod(int(u), pw)
        m[:, i * patch:(i + 1) * patch, j * patch:(j + 1) * patch] = True
    return m


def flip_curve(net, x, rel, target, per_step, insertion):
    order = sorted(range(len(rel)), key=lambda u: -float(rel[u]))  # stable: ties keep order
    points = [0] + [min(k, len(order)) for k in range(per_step, len(order) + per_step, per_step)]
    curve = []
    with torch.no_grad():
        for count in points:
            m = unit_mask(tuple(x.shape), PATCH[0], order[:count])
            xs = torch.where(m, x, torch.zeros_like(x)) if insertion else torch.where(m, torch.zeros_like(x), x)
            curve.append(float(net(xs[None]).softmax(1)[0, target]))
    return curve


PATCH = [1]
ROAD_PERCENTAGES = [10, 30, 50, 70, 90]


def road_fixture(net, x, h, targets, out):
    """Quantus's imputation and ROAD with noise 0 (deterministic), on Σ|h| per pixel. A third
    of Saliency's pixels have a zero gradient here, and numpy's argsort orders ties its own way,
    so the relevance gets a tie-breaking ramp far below its values (stored, and used by both
    sides)."""
    import quantus
    from quantus.functions.perturb_func import noisy_linear_imputation
    rel = unit_relevance(h, 1)
    rel = rel + 1e-9 * torch.arange(rel.shape[1]) / rel.shape[1]
    out["cxc.Saliency.road_relevance"] = rel.clone()
    rel = rel.reshape(x.shape[0], 1, *x.shape[2:]).numpy()
    pixels = rel[0].size
    for p in (10, 50, 90):
        imputed = []
        for i in range(x.shape[0]):
            order = np.argsort(rel[i], axis=None)[::-1]
            imputed.append(noisy_linear_imputation(arr=x[i].numpy(), indices=order[: int(pixels * p / 100)], noise=0.0))
        out[f"cxc.Saliency.road_imputed_{p}"] = torch.tensor(np.stack(imputed))
    # Least relevant first: Quantus runs most relevant first, so give it the reversed order.
    for name, a in (("road_morf", rel), ("road_lerf", rel.max() - rel + 1e-12)):
        road = quantus.ROAD(percentages=ROAD_PERCENTAGES, noise=0.0, normalise=False, disable_warnings=True)
        road(model=net, x_batch=x.numpy(), y_batch=targets.numpy(), a_batch=a)
        scores = road.evaluation_scores
        out[f"cxc.Saliency.{name}"] = torch.tensor([scores[p] for p in ROAD_PERCENTAGES], dtype=torch.float64)


def panel(name, net, x, methods, per_step, patch, out):
    import quantus
    from captum.attr import GuidedBackprop, InputXGradient, Saliency
    from captum.metrics import infidelity, sensitivity_max

    PATCH[0] = patch
    gen = torch.Generator().manual_seed(11)
    with torch.no_grad():
        targets = net(x).argmax(1)
    n = x.shape[0]
    infid_noise = torch.randn((n * PERTURBATIONS,) + tuple(x.shape[1:]), generator=gen) * 0.1
    sens_noise = (torch.rand((n * PERTURBATIONS,) + tuple(x.shape[1:]), generator=gen) * 2 - 1) * 0.02
    out.update({f"{name}.input": x, f"{name}.targets": targets, f"{name}.infid_noise": infid_noise,
                f"{name}.sens_noise": sens_noise})
    explainers = {
        "Saliency": lambda inp, target: Saliency(net).attribute(inp, target=target, abs=False),
        "InputXGradient": lambda inp, target: InputXGradient(net).attribute(inp, target=target),
        "GuidedBackprop": lambda inp, target: GuidedBackprop(net).attribute(inp, target=target),
    }
    for method in methods:
        h = explainers[method](x, targets).detach()
        out[f"{name}.{method}"] = h
        for norm in (False, True):
            v = infidelity(net, lambda inp: (infid_noise, inp - infid_noise), x, h, target=targets,
                           n_perturb_samples=PERTURBATIONS, normalize=norm)
            out[f"{name}.{method}.infidelity{'_norm' if norm else ''}"] = v
        out[f"{name}.{method}.sensitivity_max"] = sensitivity_max(
            explainers[method], x, perturb_func=lambda inp: inp + sens_noise,
            n_perturb_samples=PERTURBATIONS, target=targets)
        rel = unit_relevance(h, patch)
        for kind in ("deletion", "insertion"):
            curves = [flip_curve(net, x[i], rel[i], int(targets[i]), per_step, kind == "insertion") for i in range(n)]
            out[f"{name}.{method}.{kind}"] = torch.tensor(curves)
        # Quantus on the same work (its torch.Tensor(x) follows the default dtype, float64): its PixelFlipping is the deletion curve
        # without the first point; its Sparseness and Complexity read the unit relevances.
        a = rel.numpy() if x.dim() == 2 else rel.reshape(n, 1, *[-(-s // patch) for s in x.shape[2:]]).numpy()
        axes = list(range(1, a.ndim))
        if patch == 1:
            pf = quantus.PixelFlipping(features_in_step=per_step, perturb_baseline=0.0, abs=True,
                                       normalise=False, disable_warnings=True)
            q = np.array(pf(model=net, x_batch=x.numpy(), y_batch=targets.numpy(),
                            a_batch=a, channel_first=True))
            ref = out[f"{name}.{method}.deletion"][:, 1:].numpy()
            assert np.allclose(q, ref, rtol=1e-9, atol=1e-12), (method, q, ref)
            for qname, metric in (("sparseness", quantus.Sparseness), ("complexity", quantus.Complexity)):
                m = metric(normalise_func_kwargs={"normalise_axes": axes}, disable_warnings=True)
                vals = m(model=net, x_batch=x.numpy(), y_batch=targets.numpy(), a_batch=a)
                out[f"{name}.{method}.{qname}"] = torch.tensor(vals, dtype=torch.float64)
    print(f"{name}: {n} samples, {', '.join(methods)}")


def main():
    out = {}
    gen = torch.Generator().manual_seed(5)
    bean = build(FpaNet(14, 7))
    xb = f32able(torch.randn(6, 16, generator=gen) * 0.8 + 0.5)
    panel("drybean", bean, xb, ["Saliency", "InputXGradient", "GuidedBackprop"], 1, 1, out)
    cxc = build(CXCMultiSPA(4))
    xc = f32able(torch.rand(2, 1, 64, 64, generator=gen))
    panel("cxc", cxc, xc, ["Saliency", "GuidedBackprop"], 128, 1, out)
    road_fixture(cxc, xc, out["cxc.Saliency"], out["cxc.targets"], out)
    out_p = {}
    panel("cxc_patch", cxc, xc, ["Saliency"], 8, 8, out_p)
    out.update({k: v for k, v in out_p.items() if k.startswith("cxc_patch.Saliency.")})
    save_file({k: v.to(torch.float64 if v.is_floating_point() else torch.int64).contiguous() for k, v in out.items()},
              str(OUT / "metrics.safetensors"))
    print("metrics.safetensors written")


if __name__ == "__main__":
    main()
