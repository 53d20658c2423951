"""PyTorch definitions of the paper's models with the authors' state_dict names
(../shared/paper/METHOD.md §1), used to generate gaxsh's reference fixtures.

Every activation is its own module (never reused), as in the authors' code and as Captum needs.
"""
import numpy as np
import torch
import torch.nn as nn


class FPA(nn.Module):
    """Feature Product Attention: (B, d) -> (B, c, c)."""

    def __init__(self, input_c=1, output_c=14):
        super().__init__()
        self.c = output_c
        self.fconvs = nn.ModuleDict({"0": nn.Conv1d(input_c, 7, 7), "1": nn.Conv1d(7, 2 * output_c, 3)})
        self.bns = nn.ModuleDict({"0": nn.BatchNorm1d(7), "1": nn.BatchNorm1d(2 * output_c)})
        self.act = nn.ModuleDict({"0": nn.ReLU(), "1": nn.ReLU()})
        self.softmax = nn.Softmax(dim=-1)
        self.relu = nn.ReLU()  # declared but unused, as in the authors' code

    def forward(self, x):
        x = x.unsqueeze(1)
        for i in ("0", "1"):
            x = self.act[i](self.bns[i](self.fconvs[i](x)))
        q, k = x[:, : self.c], x[:, self.c :]
        return self.softmax(torch.bmm(q, k.transpose(1, 2)) / self.c**0.5)


class FpaNet(nn.Module):
    """drybeanFPA (c=14, 7 classes) and ccfFPA (c=7, 2 classes)."""

    def __init__(self, c, classes):
        super().__init__()
        self.fpa = FPA(1, c)
        self.fc = nn.Linear(c * c, classes)

    def forward(self, x):
        return self.fc(self.fpa(x).flatten(1))


class SPA(nn.Module):
    """Spatial Product Attention: (B, C, H, W) -> (B, c, c)."""

    def __init__(self, input_c, out_c):
        super().__init__()
        self.c = out_c
        chans = [(input_c, 7, 7), (7, 7, 3), (7, 17, 3), (17, 2 * out_c, 3)]
        self.convs = nn.ModuleDict({str(i): nn.Conv2d(a, b, k, stride=2) for i, (a, b, k) in enumerate(chans)})
        self.bns = nn.ModuleDict({str(i): nn.BatchNorm2d(b) for i, (_, b, _) in enumerate(chans)})
        self.act = nn.ModuleDict({str(i): nn.ReLU() for i in range(4)})
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x):
        for i in map(str, range(4)):
            x = self.act[i](self.bns[i](self.convs[i](x)))
        b, c2 = x.shape[:2]
        x = x.reshape(b, c2, -1)
        q, k = x[:, : self.c], x[:, self.c :]
        return self.softmax(torch.bmm(q, k.transpose(1, 2)) / self.c**0.5)


class Decon(nn.Module):
    def __init__(self):
        super().__init__()
        self.deconv1 = nn.ConvTranspose2d(1, 3, 3, stride=2, bias=False)
        self.act = nn.LeakyReLU(0.01)

    def forward(self, x):
        return self.act(self.deconv1(x))


class CXCMultiSPA(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.spa1 = SPA(1, 128)
        self.decon = Decon()
        self.spa2 = SPA(3, 16)
        self.fc = nn.Linear(256, classes)

    def forward(self, x):
        a = self.spa1(x).unsqueeze(1)
        a2 = self.spa2(self.decon(a))
        return self.fc(a2.reshape(a2.shape[0], -1))


class BasicBlock(nn.Module):
    """torchvision's BasicBlock with two distinct ReLUs (the authors' Captum edit)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.relu2 = nn.ReLU()

    def forward(self, x):
        h = self.relu1(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        idt = x if self.downsample is None else self.downsample(x)
        return self.relu2(h + idt)


class ResNet(nn.Module):
    """torchvision ResNet (BasicBlock) names: conv1, bn1, maxpool, layerN.M.*, fc."""

    def __init__(self, blocks, widths, classes, in_ch=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = widths[0]
        for i, (n, w) in enumerate(zip(blocks, widths)):
            layers = []
            for j in range(n):
                layers.append(BasicBlock(cin, w, 2 if (j == 0 and i > 0) else 1))
                cin = w
            setattr(self, f"layer{i + 1}", nn.Sequential(*layers))
        self.n_layers = len(blocks)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(self.n_layers):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


class AlexNet(nn.Module):
    """torchvision AlexNet names (features.N, avgpool, classifier.N), non-in-place ReLUs."""

    def __init__(self, classes=1000):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(), nn.Linear(9216, 4096), nn.ReLU(),
            nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def formula_state_dict(model):
    """Deterministic weights both sides compute (gaxsh: `nn::formula`): for a tensor named
    `name` with flat index i, u = sin(0.731 i + 0.37 s), s = (sum of the name's bytes) mod 97."""
    sd = {}
    for name, t in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            sd[name] = torch.zeros_like(t)
            continue
        n = t.numel()
        seed = sum(name.encode()) % 97
        u = np.sin(0.731 * np.arange(n, dtype=np.float64) + 0.37 * seed)
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "running_var":
            v = 0.5 + 0.5 * np.abs(u)
        elif leaf in ("running_mean", "bias"):
            v = 0.1 * u
        elif t.dim() == 1:
            v = 1.0 + 0.2 * u
        else:
            v = u * np.sqrt(3.0 / (n / t.shape[0]))
        sd[name] = torch.from_numpy(v.reshape(t.shape)).to(t.dtype)
    return sd


def formula_input(shape, phase=0.5):
    """Deterministic inputs: sin(0.917 i + phase), row-major over the whole batch."""
    n = int(np.prod(shape))
    return torch.from_numpy(np.sin(0.917 * np.arange(n, dtype=np.float64) + phase).reshape(shape))


class KerasMobileNetV1(nn.Module):
    """Keras MobileNetV1 (alpha 0.25) in PyTorch: TF "SAME" padding, BN eps 1e-3, ReLU6; the
    layer names of gaxsh's port, so the same converted weights load into both."""

    BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
              (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]

    def __init__(self, alpha_div=4, act=nn.ReLU6):
        super().__init__()
        self.act = act
        self.units = []
        cin = 32 // alpha_div
        self._unit("conv1", nn.Conv2d(3, cin, 3, 2, bias=False), 2)
        for i, (cout, s) in enumerate(self.BLOCKS, start=1):
            cout //= alpha_div
            self._unit(f"conv_dw_{i}", nn.Conv2d(cin, cin, 3, s, groups=cin, bias=False), s)
            self._unit(f"conv_pw_{i}", nn.Conv2d(cin, cout, 1, bias=False), 1)
            cin = cout
        self.conv_preds = nn.Conv2d(cin, 1000, 1)

    def _unit(self, name, conv, stride):
        setattr(self, name, conv)
        setattr(self, f"{name}_bn", nn.BatchNorm2d(conv.out_channels, eps=1e-3))
        setattr(self, f"{name}_relu", self.act())
        self.units.append((name, stride, conv.kernel_size[0]))

    def forward(self, x):
        import torch.nn.functional as F
        for name, s, k in self.units:
            h, w = x.shape[2:]
            ph = max((-(-h // s) - 1) * s + k - h, 0)
            pw = max((-(-w // s) - 1) * s + k - w, 0)
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
            x = getattr(self, name)(x)
            x = getattr(self, f"{name}_relu")(getattr(self, f"{name}_bn")(x))
        x = x.mean((2, 3), keepdim=True)
        return self.conv_preds(x).flatten(1)


def keras_v1_state_dict(path):
    """The Keras file's tensors under the port's names (HWIO kernels → OIHW)."""
    from safetensors.numpy import load_file
    out = {}
    for k, v in load_file(path).items():
        layer, leaf = k.rsplit(".", 1)
        t = torch.from_numpy(v)
        if leaf == "kernel":
            out[f"{layer}.weight"] = t.permute(3, 2, 0, 1).contiguous()
        elif leaf == "depthwise_kernel":
            out[f"{layer}.weight"] = t.permute(2, 3, 0, 1).contiguous()
        else:
            out[f"{layer}." + {"bias": "bias", "gamma": "weight", "beta": "bias",
                               "moving_mean": "running_mean", "moving_variance": "running_var"}[leaf]] = t
    return out
