"""Write gaxsh's compact MobileNetV2 op graph from the TFLite graph and weights in ../shared.

The original graph JSON names tensors but not kernel sizes or channel counts; this adds them
(read from the weights), replaces tensor names by op indices, and keeps each conv's weight and
bias tensor names so the Rust loader can convert the dequantised TFLite file.

    python tools/mobilenet_v2_graph.py ../shared/data/weights/mobilenet_v2_1.0_224 \
        data/weights/mobilenet_v2_1.0_224/graph.json
"""
import json
import sys
from pathlib import Path

from safetensors.numpy import load_file

src, out = Path(sys.argv[1]), Path(sys.argv[2])
g = json.loads((src / "mobilenet_v2_1.0_224_dequant_graph.json").read_text())
w = load_file(str(src / "mobilenet_v2_1.0_224_dequant_f32.safetensors"))
producers = {g["input"]: -1}
ops = []
for o in g["ops"]:
    if o["op"] == "SOFTMAX":
        continue  # gaxsh models output logits
    inputs = [producers[n] for n in o["inputs"] if n in producers]
    e = {"op": o["op"], "inputs": inputs}
    if o["op"] in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        k = w[o["inputs"][1]]
        if o["op"] == "CONV_2D":  # OHWI
            cout, kh, kw, cin = k.shape
        else:  # 1HWC
            _, kh, kw, cout = k.shape
            cin = cout
        e.update(kernel=kh, cin=cin, cout=cout, stride=o["stride"][0], act=o["act"],
                 weight=o["inputs"][1], bias=o["inputs"][2])
    producers[o["outputs"][0]] = len(ops)
    ops.append(e)
out.write_text(json.dumps({"source": "mobilenet_v2_1.0_224_dequant_graph.json (Apache-2.0, google-coral)",
                           "ops": ops}, indent=1) + "\n")
print(f"{len(ops)} ops -> {out}")
