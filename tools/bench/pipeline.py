"""What the PyTorch pipelines of the benchmark (torch_drybean.py, torch_imagenet.py,
torch_covid.py) share: a training epoch, the six-method AX sweep in batches, the AX process's CO rows for one batch and method, the CO table as CSV, AUROC per method and mode with
the box plot, and GAX's CO trajectories with their plot."""
import csv

import numpy as np
import torch
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def train_epoch(net, opt, x, y, batch=16):
    """One epoch as the authors' trainval.py: train mode, a fresh shuffle, mean cross-entropy and
    an Adam step per batch (the last one partial)."""
    net.train()
    order = torch.randperm(len(y))
    for i in range(0, len(order), batch):
        b = order[i:i + batch]
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x[b]), y[b]).backward()
        opt.step()


def kappa_for(logits, targets):
    """CO's weights: 1 at the target, -1/(C-1) elsewhere."""
    kappa = torch.full_like(logits, -1.0 / (logits.shape[1] - 1))
    kappa[torch.arange(len(targets)), targets] = 1.0
    return kappa


def ax_rows(net, xb, yb, start, method, a, before):
    """The CO rows of one batch and method, both modes: h = A / max|A| per sample, then x + h and
    x ⊙ h through the model. Rows: (method, mode, index, label, pred_before, pred_after, co)."""
    pred = before.argmax(1)
    kappa = kappa_for(before, yb)
    mx = a.flatten(1).abs().max(1).values
    h = a / torch.where(mx == 0, torch.ones_like(mx), mx).view(-1, *([1] * (a.dim() - 1)))
    rows = []
    for mode, xa in (("sum", xb + h), ("mult", xb * h)):
        with torch.no_grad():
            after = net(xa)
        co = (kappa * (after - before)).sum(1)
        for i in range(len(yb)):
            rows.append((method, mode, start + i, yb[i].item(), pred[i].item(), after[i].argmax().item(), co[i].item()))
    return rows


def ax_sweep(net, x, y, batch, grad_cam):
    """The paper's six methods over (x, y) in batches, targets from each batch's own forward pass:
    the CO rows of every batch, method and mode. `grad_cam(xb, pred)` is the pipeline's Grad-CAM
    heatmap at input shape (its layer, and how the layer's map reaches the input)."""
    from captum.attr import DeepLift, Deconvolution, GuidedBackprop, InputXGradient, Saliency
    methods = {
        "Saliency": lambda xb, pred: Saliency(net).attribute(xb, target=pred, abs=False),  # signed
        "InputXGradient": lambda xb, pred: InputXGradient(net).attribute(xb, target=pred),
        "LayerGradCam": grad_cam,
        "Deconvolution": lambda xb, pred: Deconvolution(net).attribute(xb, target=pred),
        "GuidedBackprop": lambda xb, pred: GuidedBackprop(net).attribute(xb, target=pred),
        "DeepLift": lambda xb, pred: DeepLift(net).attribute(xb, target=pred),
    }
    rows = []
    for start in range(0, len(y), batch):
        xb, yb = x[start:start + batch], y[start:start + batch]
        with torch.no_grad():
            before = net(xb)
        pred = before.argmax(1)
        for name, attribute in methods.items():
            rows += ax_rows(net, xb, yb, start, name, attribute(xb, pred).detach(), before)
    return rows, list(methods)


def auroc(pos, neg):
    s = np.concatenate([pos, neg])
    ranks = s.argsort().argsort() + 1.0
    return (ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def write_and_summarise(rows, methods, out):
    """co_scores.csv, AUROC of CO (correct against wrong) per method and mode, boxplot_co.png."""
    with open(out / "co_scores.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["method", "mode", "index", "label", "pred_before", "pred_after", "co"])
        w.writerows(rows)
    groups = {}
    for name, mode, _, label, pb, _, co in rows:
        groups.setdefault((name, mode), ([], []))[0 if pb == label else 1].append(co)
    for (name, mode), (ok, wrong) in groups.items():
        if ok and wrong:
            print(name, mode, "AUROC", round(auroc(np.array(ok), np.array(wrong)), 4))
    fig, ax = plt.subplots(figsize=(10, 5))
    data, labels = [], []
    for name in methods:
        ok, wrong = groups[(name, "sum")]
        data += [ok, wrong]
        labels += [f"{name}\ncorrect", f"{name}\nwrong"]
    ax.boxplot(data)
    ax.set_xticks(range(1, len(labels) + 1), labels, fontsize=6)
    fig.savefig(out / "boxplot_co.png", dpi=100)


def gax_trajectories(net, x, out, steps, ls, bias, target=None):
    """GAX (h = tanh(w ⊙ x + b), or without b) by Adam (lr 0.1) on -CO + ls/S with |x| + ε
    denominators; with a target, a sample past it leaves the loss (Adam's momentum still moves
    it, where gaxsh freezes it) and the loop ends when all are past. Writes gax_scores.csv and
    gax_curves.png."""
    with torch.no_grad():
        y0 = net(x)
    kappa = kappa_for(y0, y0.argmax(1))
    w = torch.ones_like(x, requires_grad=True)
    b = torch.full_like(x, 0.01, requires_grad=True) if bias else None
    opt = torch.optim.Adam([w] + ([b] if bias else []), lr=0.1)
    den = x.abs() + 1e-4
    active = torch.ones(len(x), dtype=torch.bool)
    traj = []
    for _ in range(steps):
        opt.zero_grad()
        h = torch.tanh(w * x + b) if bias else torch.tanh(w * x)
        s = (kappa * (net(x + h) - y0)).sum(1)
        traj.append(s.detach().numpy())
        if target is not None:
            active &= s.detach() <= target
            if not active.any():
                break
        sim = ((h - x + 1e-4) ** 2 / den).flatten(1).mean(1)
        ((-s + ls / sim) * active).sum().backward()
        opt.step()
    traj = np.array(traj)
    np.savetxt(out / "gax_scores.csv", traj, delimiter=",")
    fig, ax = plt.subplots()
    ax.plot(traj)
    fig.savefig(out / "gax_curves.png", dpi=100)
