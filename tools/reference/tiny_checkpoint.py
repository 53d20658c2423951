"""Write tests/fixtures/tiny_checkpoint.pt: a small torch.save checkpoint in the authors'
{'net': state_dict} wrapper, the seed that tests/properties.rs mutates to check the checkpoint
reader refuses corrupt files without crashing.

Usage: python tools/reference/tiny_checkpoint.py
"""

import pathlib

import torch

torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 2))
out = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "tiny_checkpoint.pt"
torch.save({"net": net.state_dict()}, out)
print(out, out.stat().st_size, "bytes")
