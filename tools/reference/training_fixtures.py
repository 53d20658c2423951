"""Reference of a convolutional net's training steps (so `cargo test` needs no Python):

    python tools/reference/training_fixtures.py tests/fixtures

Writes tests/fixtures/train_cxc.safetensors (float64): cxc_multi_spa at 64² with the formula
weights, trained in train mode (batch statistics, running-statistics updates) for one epoch of 8
formula images (labels i mod 4) in batches of 4 with Adam (lr 1e-3, betas (0.5, 0.999)) and the
mean cross-entropy, as `fit(#{epochs: 1, batch: 4, shuffle: false})` trains. Stored: the loss of
each step (`loss`) and every batch-norm tensor, the first convolution, the transposed
convolution and the classifier after training (`state.<name>`).
"""
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).parent))
from models import CXCMultiSPA, formula_input, formula_state_dict  # noqa: E402

torch.set_default_dtype(torch.float64)
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")

net = CXCMultiSPA(4).double()
net.load_state_dict(formula_state_dict(net))
net.train()
x = formula_input((8, 1, 64, 64), 0.5)
y = torch.arange(8) % 4
opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.999))
losses = []
for i in range(0, 8, 4):
    opt.zero_grad()
    loss = F.cross_entropy(net(x[i:i + 4]), y[i:i + 4])
    loss.backward()
    opt.step()
    losses.append(loss.item())

kept = ("spa1.convs.0.weight", "spa1.convs.0.bias", "decon.deconv1.weight", "fc.weight", "fc.bias")
out = {"loss": torch.tensor(losses)}
for name, t in net.state_dict().items():
    if (".bns." in name and not name.endswith("num_batches_tracked")) or name in kept:
        out[f"state.{name}"] = t.detach().clone().contiguous()
save_file(out, OUT / "train_cxc.safetensors")
print(f"wrote {OUT / 'train_cxc.safetensors'}: {len(out)} tensors")
