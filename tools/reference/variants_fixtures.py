"""Reference logits of the model variants a Keras-style user describes (so `cargo test` needs no
Python):

    python tools/reference/variants_fixtures.py tests/fixtures

Writes tests/fixtures/variants.safetensors (float64, formula weights):
  mobilenet_relu.input / .logits  MobileNetV1-0.25 at 64² with plain ReLU instead of Keras's ReLU6
                                  (`model("mobilenet_v1", #{activation: "relu"})`)
  yaml_same.input / .logits       a YAML net whose conv2d layers use `padding: same`: TensorFlow's
                                  SAME (output ⌈n / stride⌉, the odd pixel padded after), with an
                                  odd input (15×13), stride 2 and an even kernel (4)
"""
import sys
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).parent))
from models import KerasMobileNetV1, formula_input, formula_state_dict  # noqa: E402

torch.set_default_dtype(torch.float64)
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")


class SameConv2d(nn.Conv2d):
    """nn.Conv2d with TensorFlow's SAME padding, written out as TensorFlow defines it."""

    def forward(self, x):
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        h, w = x.shape[2:]
        ph = max((-(-h // sh) - 1) * sh + kh - h, 0)
        pw = max((-(-w // sw) - 1) * sw + kw - w, 0)
        return super().forward(F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)))


def build(net):
    net.load_state_dict(formula_state_dict(net))
    return net.double().eval()


def main():
    out = {}
    with torch.no_grad():
        mb = build(KerasMobileNetV1(act=nn.ReLU))
        x = formula_input((1, 3, 64, 64), 0.5)
        out["mobilenet_relu.input"], out["mobilenet_relu.logits"] = x, mb(x)
        # The YAML net of tests/model_parity.rs, layer for layer (names 0..5 as nn.Sequential).
        net = build(nn.Sequential(SameConv2d(3, 4, 3, stride=2), nn.ReLU(), SameConv2d(4, 5, 4),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 3)))
        x = formula_input((2, 3, 15, 13), 0.3)
        out["yaml_same.input"], out["yaml_same.logits"] = x, net(x)
    save_file({k: v.contiguous() for k, v in out.items()}, str(OUT / "variants.safetensors"))
    print("variants.safetensors written")


if __name__ == "__main__":
    main()
