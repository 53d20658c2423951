"""ONNX import fixtures: architectures exported by both of torch's exporters, with Captum's
attributions computed on the original nn.Module, so `cargo test` checks gaxsh's imported models
against PyTorch + Captum without Python.

    python -m venv .venv && .venv/bin/pip install torch==2.15.0 torchvision captum==0.9.0 \\
        onnx onnxruntime onnxscript safetensors numpy
    .venv/bin/python tools/reference/onnx_fixtures.py tests/fixtures/onnx

For every architecture NAME it writes
  NAME_ts.onnx  the TorchScript exporter's graph (dynamo=False, a dynamic batch axis)
  NAME_dy.onnx  the default dynamo exporter's graph as `torch.onnx.export(m, (x,), f)` writes it
                (the batch fixed at the example's size, as users get it without dynamic_shapes;
                weights inside the file, node metadata gaxsh never reads dropped)
  NAME.safetensors
      input, logits (float64 torch), target_pred, target_given;
      <Method>.<pred|given>: Captum 0.9 in float64 on the nn.Module (DeepLift one sample per call,
      as the paper ran it), LayerGradCam on the `layer` listed below;
      <exporter>.ort_logits: onnxruntime on the float32 file;
      <exporter>.cam_default.<pred|given>: Captum's LayerGradCam on the module whose output is the
      last spatial convolution's (found by matching activations with onnxruntime);
      cam_paper.<pred|given>: on the paper's layer, for the paper's models that have one.
Weights: torch's init with seed 0, then every parameter and buffer redrawn (so no two tensors
are equal and batch-norm folding is not trivial), rounded to float32; the same numbers feed the
float64 Captum model and the float32 ONNX file.

Models whose input is 224 × 224 (AlexNet and VGG: their adaptive pools need it for the
TorchScript exporter) store inputs as the shared formula (`formula_input`) and attributions at
2,048 fixed positions per sample (`sample_idx`, shared by every map) instead of whole maps.
"""
import contextlib
import copy
import io
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from safetensors.torch import save_file
from torchvision.models import convnext, densenet, efficientnet, mobilenetv2, mobilenetv3, resnet, squeezenet

sys.path.insert(0, str(Path(__file__).parent))
from models import CXCMultiSPA, FpaNet, formula_input  # noqa: E402

warnings.filterwarnings("ignore")
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/onnx")
CLASSES = 10


def shrink(model, k, classes=CLASSES):
    """Divide every channel count by k (3-channel inputs and class outputs kept): the same
    torchvision code paths, a small file."""
    for m in list(model.modules()):
        for cname, c in list(m.named_children()):
            new = None
            if isinstance(c, nn.Conv2d):
                cin = c.in_channels if c.in_channels == 3 else c.in_channels // k
                cout = c.out_channels if c.out_channels == classes else c.out_channels // k
                g = 1 if c.groups == 1 else c.groups // k
                new = nn.Conv2d(cin, cout, c.kernel_size, c.stride, c.padding, c.dilation, g, c.bias is not None)
            elif isinstance(c, nn.BatchNorm2d):
                new = nn.BatchNorm2d(c.num_features // k, c.eps, c.momentum)
            elif isinstance(c, nn.Linear):
                out = c.out_features if c.out_features == classes else c.out_features // k
                new = nn.Linear(c.in_features // k, out, c.bias is not None)
            if new is not None:
                setattr(m, cname, new)
    return model


class Mlp(nn.Module):
    """A tabular MLP; `functional` uses torch.relu calls instead of nn.ReLU modules."""

    def __init__(self, functional=False):
        super().__init__()
        self.functional = functional
        self.fc1, self.fc2, self.fc3 = nn.Linear(16, 32), nn.Linear(32, 24), nn.Linear(24, 5)
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()

    def forward(self, x):
        if self.functional:
            return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))
        return self.fc3(self.relu2(self.fc2(self.relu1(self.fc1(x)))))


class Conv1dNet(nn.Module):
    """A 1-D convolutional tabular model: (N, 20) → (N, 1, 20) → conv/BN/ReLU/pool → linear."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1, self.relu1 = nn.Conv1d(1, 6, 5, padding=2), nn.BatchNorm1d(6), nn.ReLU()
        self.pool = nn.MaxPool1d(2)
        self.conv2, self.relu2 = nn.Conv1d(6, 8, 3), nn.ReLU()
        self.fc = nn.Linear(8 * 8, 4)

    def forward(self, x):
        h = self.pool(self.relu1(self.bn1(self.conv1(x.unsqueeze(1)))))
        return self.fc(self.relu2(self.conv2(h)).flatten(1))


class MixedCnn(nn.Module):
    """Every nonlinearity Captum's DeepLift knows, and the hook orders that decide which rule
    applies: a max-pool on a convolution (its rule) followed by a ReLU (whose rule is lost),
    LeakyReLU, Tanh, ELU, Sigmoid, Softplus, an average pool."""

    def __init__(self):
        super().__init__()
        self.conv1, self.pool1, self.relu1 = nn.Conv2d(3, 6, 3, padding=1), nn.MaxPool2d(2), nn.ReLU()
        self.conv2, self.bn2, self.lrelu = nn.Conv2d(6, 8, 3, padding=1), nn.BatchNorm2d(8), nn.LeakyReLU(0.1)
        self.conv3, self.tanh = nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.Tanh()
        self.avg = nn.AvgPool2d(2)
        self.fc1, self.elu = nn.Linear(8, 16), nn.ELU(0.7)
        self.fc2, self.sigmoid = nn.Linear(16, 12), nn.Sigmoid()
        self.fc3, self.softplus = nn.Linear(12, 8), nn.Softplus()
        self.fc4 = nn.Linear(8, 5)

    def forward(self, x):
        h = self.relu1(self.pool1(self.conv1(x)))
        h = self.lrelu(self.bn2(self.conv2(h)))
        h = self.avg(self.tanh(self.conv3(h))).flatten(1)
        h = self.softplus(self.fc3(self.sigmoid(self.fc2(self.elu(self.fc1(h))))))
        return self.fc4(h)


def basic_block_forward(self, x):
    """torchvision's BasicBlock.forward with its second ReLU call its own module (Captum needs
    one module per call site)."""
    identity = x
    out = self.relu(self.bn1(self.conv1(x)))
    out = self.bn2(self.conv2(out))
    if self.downsample is not None:
        identity = self.downsample(x)
    return self.relu_out(out + identity)


def bottleneck_forward(self, x):
    identity = x
    out = self.relu(self.bn1(self.conv1(x)))
    out = self.relu_mid(self.bn2(self.conv2(out)))
    out = self.bn3(self.conv3(out))
    if self.downsample is not None:
        identity = self.downsample(x)
    return self.relu_out(out + identity)


def densenet_forward(self, x):
    """torchvision's DenseNet.forward with its final F.relu an nn.ReLU module."""
    out = self.relu_final(self.features(x))
    return self.classifier(torch.flatten(F.adaptive_avg_pool2d(out, (1, 1)), 1))


def captum_ready(model):
    """The same function, one nn.ReLU module per call site and nothing in place."""
    import types
    m = copy.deepcopy(model)
    for mod in m.modules():
        if hasattr(mod, "inplace"):
            mod.inplace = False
        if isinstance(mod, resnet.BasicBlock):
            mod.relu_out = nn.ReLU()
            mod.forward = types.MethodType(basic_block_forward, mod)
        if isinstance(mod, resnet.Bottleneck):
            mod.relu_mid, mod.relu_out = nn.ReLU(), nn.ReLU()
            mod.forward = types.MethodType(bottleneck_forward, mod)
    if isinstance(m, densenet.DenseNet):
        m.relu_final = nn.ReLU()
        m.forward = types.MethodType(densenet_forward, m)
    return m


def small_head(model, channels, activation):
    """torchvision fixes the last 1×1 convolution at 1,280 channels whatever the width; a
    narrower one keeps the file small (same layer kinds)."""
    from torchvision.ops.misc import Conv2dNormActivation
    c_in = model.features[-1][0].in_channels
    model.features[-1] = Conv2dNormActivation(c_in, channels, kernel_size=1, norm_layer=nn.BatchNorm2d,
                                              activation_layer=activation)
    model.classifier[-1] = nn.Linear(channels, CLASSES)
    return model


def mobilenet_v2_small():
    setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2], [6, 64, 2, 2], [6, 96, 1, 1], [6, 160, 1, 2],
               [6, 320, 1, 1]]
    m = mobilenetv2.MobileNetV2(num_classes=CLASSES, width_mult=0.25, inverted_residual_setting=setting)
    return small_head(m, 96, nn.ReLU6)


def efficientnet_small():
    s, last = efficientnet._efficientnet_conf("efficientnet_b0", width_mult=0.25, depth_mult=0.25)
    m = efficientnet.EfficientNet(s, 0.2, last_channel=last, num_classes=CLASSES)
    return small_head(m, 96, nn.SiLU)


def convnext_small():
    cfg = [convnext.CNBlockConfig(8, 16, 1), convnext.CNBlockConfig(16, 32, 1), convnext.CNBlockConfig(32, None, 1)]
    return convnext.ConvNeXt(cfg, num_classes=CLASSES)


# name: (constructor, per-sample input shape, Grad-CAM layer (module path), samples)
ARCHS = {
    "resnet18": (lambda: shrink(resnet.resnet18(num_classes=CLASSES), 16), (3, 24, 24), "layer3", 2),
    "resnet50": (lambda: shrink(resnet.ResNet(resnet.Bottleneck, [1, 1, 1, 1], num_classes=CLASSES), 16),
                 (3, 24, 24), "layer2", 2),
    "alexnet": (lambda: shrink(torchvision.models.AlexNet(num_classes=CLASSES), 32), (3, 224, 224), "features.7", 2),
    "vgg11": (lambda: shrink(torchvision.models.vgg11(num_classes=CLASSES), 64), (3, 224, 224), "features.12", 2),
    "mobilenet_v2": (mobilenet_v2_small, (3, 24, 24), "features.5", 2),
    "mobilenet_v3": (lambda: mobilenetv3.mobilenet_v3_small(num_classes=CLASSES, width_mult=0.25,
                                                            reduced_tail=True), (3, 24, 24), "features.3", 2),
    "densenet": (lambda: densenet.DenseNet(growth_rate=4, block_config=(2, 2), num_init_features=8, bn_size=2,
                                           num_classes=CLASSES), (3, 24, 24), "features.denseblock2", 2),
    "efficientnet": (efficientnet_small, (3, 24, 24), "features.3", 2),
    "squeezenet": (lambda: shrink(squeezenet.squeezenet1_1(num_classes=CLASSES), 8), (3, 35, 35), "features.6", 2),
    "convnext": (convnext_small, (3, 24, 24), "features.3", 2),
    "mlp": (lambda: Mlp(), (16,), None, 4),
    "mlp_functional": (lambda: Mlp(functional=True), (16,), None, 4),
    "conv1d": (lambda: Conv1dNet(), (20,), None, 4),
    "mixed_cnn": (lambda: MixedCnn(), (3, 8, 8), "lrelu", 3),
    "drybean_fpa": (lambda: FpaNet(14, 7), (16,), None, 4),
    "ccf_fpa": (lambda: FpaNet(7, 2), (28,), None, 4),
    "cxc_multi_spa": (lambda: CXCMultiSPA(4), (1, 64, 64), "spa1.act.0", 2),
}
BIG = {"alexnet", "vgg11"}
# The paper's Grad-CAM layers (METHOD.md §4.2b), which gaxsh picks by default for exported copies
# of its models where the export kept that layer: (module, capture its input).
PAPER_LAYERS = {"drybean_fpa": ("fpa.fconvs.0", True), "ccf_fpa": ("fpa.fconvs.0", True),
                "alexnet": ("features.0", False)}
# Exported in float64: the exporters fold batch norms into convolutions in the file's precision,
# and DeepLift through the attention softmax amplifies float32 folding error past 1e-4.
DOUBLE = {"cxc_multi_spa"}
SAMPLED = 2048


def randomized(make, seed=0):
    """The architecture with every parameter and buffer drawn anew, rounded to float32."""
    torch.manual_seed(seed)
    m = make().float().eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, t in list(m.named_parameters()) + list(m.named_buffers()):
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            elif name.endswith("running_mean") or name.endswith("bias"):
                t.copy_(0.1 * torch.randn(t.shape, generator=g))
            elif t.dim() <= 1 or name.endswith("layer_scale"):
                t.copy_(1.0 + 0.2 * torch.randn(t.shape, generator=g))
            else:
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=g) * (2.0 / fan_in) ** 0.5)
    return m


def get_module(net, path):
    m = net
    for part in path.split("."):
        m = m[int(part)] if isinstance(m, (nn.Sequential, nn.ModuleList)) and part.isdigit() else getattr(m, part)
    return m


# Node metadata the dynamo exporter writes that gaxsh never reads (source stack traces, FX
# nodes, class hierarchies): dropped from the committed files to keep them small.
UNREAD_METADATA = {"pkg.torch.onnx.stack_trace", "pkg.torch.onnx.fx_node", "pkg.torch.onnx.class_hierarchy"}


def export(model, x, path, dynamo):
    import onnx
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        if dynamo:
            # What a user runs: the default exporter, shapes fixed by the example.
            torch.onnx.export(model, (x,), str(path), dynamo=True, external_data=False)
        else:
            torch.onnx.export(model, (x,), str(path), dynamo=False, input_names=["input"],
                              output_names=["logits"], dynamic_axes={"input": {0: "batch"}})
    if dynamo:
        m = onnx.load(str(path))
        for n in m.graph.node:
            keep = [p for p in n.metadata_props if p.key not in UNREAD_METADATA]
            del n.metadata_props[:]
            n.metadata_props.extend(keep)
        onnx.save(m, str(path))


def ort_run(path, x, extra_outputs=()):
    """onnxruntime's outputs on float32 x: the logits, and optionally intermediate values."""
    import onnx
    import onnxruntime as ort
    model = onnx.load(str(path))
    if extra_outputs:
        inferred = onnx.shape_inference.infer_shapes(model)
        info = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
        for name in extra_outputs:
            model.graph.output.append(info[name] if name in info else onnx.ValueInfoProto(name=name))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    names = [o.name for o in sess.get_outputs()]
    # A graph exported with a fixed batch runs one sample at a time.
    step = inp.shape[0] if isinstance(inp.shape[0], int) else len(x)
    xs = x.double() if inp.type == "tensor(double)" else x.float()
    parts = [sess.run(None, {inp.name: xs[i:i + step].numpy()}) for i in range(0, len(x), step)]
    return {n: np.concatenate([p[k] for p in parts]) for k, n in enumerate(names)}


def default_cam_value(path, x):
    """The value gaxsh's default Grad-CAM layer is, and its value on x: the output of the last
    Conv/ConvTranspose whose output still has more than one position (shapes from onnxruntime)."""
    import onnx
    convs = [n.output[0] for n in onnx.load(str(path)).graph.node if n.op_type in ("Conv", "ConvTranspose")]
    if not convs:
        return None, None
    values = ort_run(path, x, convs)
    spatial = [c for c in convs if values[c].ndim >= 3 and int(np.prod(values[c].shape[2:])) > 1]
    return (spatial[-1], values[spatial[-1]]) if spatial else (None, None)


def matching_module(net, x, value):
    """The module of `net` whose output equals `value` (an ONNX intermediate) on x."""
    outs = {}
    hooks = [m.register_forward_hook(lambda mod, i, o, name=name: outs.setdefault(name, o.detach()))
             for name, m in net.named_modules() if name]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    want = torch.from_numpy(value).double()
    best = None
    for name, o in outs.items():
        if isinstance(o, torch.Tensor) and o.shape == want.shape:
            err = (o.double() - want).abs().max().item() / max(want.abs().max().item(), 1e-12)
            if err < 1e-4 and (best is None or err < best[1]):
                best = (name, err)
    if best is None:
        raise SystemExit(f"no module's output matches ONNX value of shape {tuple(want.shape)}")
    return best[0]


def gradcam(net, layer, x, target, layer_input=False):
    from captum.attr import LayerAttribution, LayerGradCam
    a = LayerGradCam(net, get_module(net, layer)).attribute(x, target=target, attribute_to_layer_input=layer_input)
    if x.dim() == 4:
        a = LayerAttribution.interpolate(a, tuple(x.shape[2:]), interpolate_mode="bilinear")
        return a.expand(x.shape).contiguous()
    # Tabular input: the (N, 1, L) map brought to the d features (linear, half-pixel).
    if a.shape[-1] != x.shape[1]:
        a = F.interpolate(a.reshape(len(x), 1, -1), size=x.shape[1], mode="linear", align_corners=False)
    return a.reshape(x.shape).contiguous()


def captum_maps(net, x, targets, layer):
    from captum.attr import Deconvolution, DeepLift, GuidedBackprop, InputXGradient, IntegratedGradients, Saliency
    out = {}
    for tname, t in targets.items():
        out[f"Saliency.{tname}"] = Saliency(net).attribute(x, target=t, abs=False)
        out[f"InputXGradient.{tname}"] = InputXGradient(net).attribute(x, target=t)
        out[f"Deconvolution.{tname}"] = Deconvolution(net).attribute(x, target=t)
        out[f"GuidedBackprop.{tname}"] = GuidedBackprop(net).attribute(x, target=t)
        out[f"DeepLift.{tname}"] = torch.cat([DeepLift(net).attribute(x[i:i + 1], target=t[i:i + 1])
                                              for i in range(len(x))])
        if tname == "pred":
            out[f"IG.{tname}"] = IntegratedGradients(net).attribute(x, target=t, n_steps=8, method="gausslegendre")
        if layer:
            out[f"LayerGradCam.{tname}"] = gradcam(net, layer, x, t)
    return out


def store(out, key, t, sampled):
    t = t.detach().double()
    if not sampled:
        out[key] = t.float().contiguous()
        return
    # Fixed positions spread over every sample: a stride coprime to the sample size.
    flat = t.reshape(len(t), -1)
    idx = (torch.arange(SAMPLED) * 7919) % flat.shape[1]
    out["sample_idx"] = idx
    out[key] = flat[:, idx].float().contiguous()


def build(name):
    make, shape, layer, samples = ARCHS[name]
    model = randomized(make)
    ref = captum_ready(model).double()
    big = name in BIG
    if big:
        x = formula_input((samples,) + shape, 0.5).float().double()
    else:
        g = torch.Generator().manual_seed(7)
        x = (torch.randn((samples,) + shape, generator=g, dtype=torch.float64) + (0.5 if len(shape) == 1 else 0.0))
        x = x.float().double()
    with torch.no_grad():
        logits = ref(x)
    pred = logits.argmax(1)
    given = (pred + 1) % logits.shape[1]
    out = {"logits": logits.float(), "target_pred": pred, "target_given": given}
    if not big:
        out["input"] = x.float()
    for k, v in captum_maps(ref, x, {"pred": pred, "given": given}, layer).items():
        store(out, k, v, big)
    if name in PAPER_LAYERS:
        module, layer_input = PAPER_LAYERS[name]
        for tname, t in (("pred", pred), ("given", given)):
            store(out, f"cam_paper.{tname}", gradcam(ref, module, x, t, layer_input), big)
    if name == "mlp_functional":
        # Captum on the same weights with nn.ReLU modules: what gaxsh computes on this graph.
        modular = captum_ready(randomized(lambda: Mlp(functional=False))).double()
        for k, v in captum_maps(modular, x, {"pred": pred, "given": given}, None).items():
            store(out, "modules." + k, v, False)
    double = name in DOUBLE
    example = x[:1].double() if double else x[:1].float()
    exported = copy.deepcopy(model).double() if double else model
    for tag, dynamo in (("ts", False), ("dy", True)):
        path = OUT / f"{name}_{tag}.onnx"
        export(exported, example, path, dynamo)
        # onnxruntime has no float64 Conv: a float32 twin (not kept) stands in for finding
        # the default Grad-CAM node; the float64 file's logits are checked against PyTorch only.
        ort_path = path
        if double:
            ort_path = Path("/tmp") / f"{name}_{tag}_f32.onnx"
            export(model, x[:1].float(), ort_path, dynamo)
        else:
            ort = ort_run(path, x)
            out[f"{tag}.ort_logits"] = torch.from_numpy(list(ort.values())[0]).float()
        cam, value = default_cam_value(ort_path, x)
        if cam is not None:
            module = matching_module(ref, x, value)
            print(f"  {name} {tag}: default Grad-CAM value {cam} = module {module}")
            for tname, t in (("pred", pred), ("given", given)):
                store(out, f"{tag}.cam_default.{tname}", gradcam(ref, module, x, t), big)
    save_file({k: v.contiguous() for k, v in out.items()}, str(OUT / f"{name}.safetensors"))
    sizes = sum((OUT / f"{name}_{t}.onnx").stat().st_size for t in ("ts", "dy"))
    print(f"{name}: {samples} samples, onnx {sizes // 1024} KiB, pred {pred.tolist()}")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    names = sys.argv[2:] or list(ARCHS)
    for n in names:
        build(n)
