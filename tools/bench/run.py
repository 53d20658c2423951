"""gaxsh against PyTorch + Captum on this machine: the rows of BENCHMARKS.md.

    python tools/bench/run.py [--rounds 5] [--repeats 5] [--threads 1,2] [--write BENCHMARKS.md]

Run it with a Python that has torch, captum, numpy, pillow and matplotlib (e.g.
`python -m venv .venv && .venv/bin/pip install torch captum numpy pillow matplotlib`). It builds
`target/release/gaxsh` if needed, then for each thread count runs both suites
(tools/bench/gaxsh_bench.rhai and tools/bench/torch_bench.py) in alternating order for several
rounds; each suite times every workload after a warm-up and reports the median of its repeats.
A workload's ratio is the median over rounds of (PyTorch time / gaxsh time) from the same round,
so slow phases of a shared machine hit both sides alike. Then start-up time (e), the peak
memory of the whole dry-bean pipeline (f), of a batch-32 ResNet34 AX pass (m), and the whole
ImageNet script on ../shared's 1,300 validation images against tools/bench/torch_imagenet.py (n),
and the whole COVID script on the bundled chest X-rays against tools/bench/torch_covid.py (o).

The roofline column credits each row with the multiply-adds of the passes it needs at least
(counted by torch_bench.py's forward hooks over convolutions and linear layers) and sets the
achieved GFLOP/s against the faster side's f32 gemm at that thread count (row p).

PyTorch gets the same glibc malloc tuning that helps it most here (large buffers kept instead of
returned to the kernel); gaxsh uses mimalloc.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GAXSH = ROOT / "target/release/gaxsh"
TORCH_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "268435456",
    "MALLOC_TRIM_THRESHOLD_": "1073741824",
    "MALLOC_TOP_PAD_": "16777216",
}
ROWS = {
    "a": "(a) AX sweep, 4,537 dry-bean rows, one method",
    "b": "(b) GAX, 50 steps, 256 tabular rows",
    "c": "(c) cxc_multi_spa, one 256×256 image",
    "d": "(d) MobileNetV1-0.25 at 224, one image",
    "g": "(g) ResNet34 at 224, two images; zoo model vs the same weights imported from ONNX",
    "h": "(h) the AX process on 8 images (224², cxc 256²), one method",
    "i": "(i) GAX on one 224² image, ResNet34",
    "p": "(p) gemm, f32 2048×2048 by 2048×2048 (the roofline's peak)",
    "t": "training (Adam, weight gradients): drybean_fpa 2 epochs; cxc_multi_spa 1 epoch of 64 images at 256², "
         "batch 16; ResNet18 1 epoch of 16 images at 224², batch 8",
}


def suite(cmd, env=None):
    """{workload: (seconds, flop or None)} from one run of a side's suite."""
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if out.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{out.stderr}")
    rows = (json.loads(l) for l in out.stdout.splitlines() if l.startswith("{"))
    return {j["name"]: (j["seconds"], j.get("flop")) for j in rows}


def compare(threads, rounds, repeats, onnx, device="cpu"):
    g_cmd = [GAXSH, "--threads", str(threads), "--device", device, "tools/bench/gaxsh_bench.rhai", "--repeats", str(repeats),
             "--onnx", onnx]
    t_cmd = [sys.executable, "tools/bench/torch_bench.py", "--threads", str(threads), "--repeats", str(repeats),
             "--device", device]
    g_runs, t_runs = [], []
    for r in range(rounds):
        first, second = ((g_cmd, None, g_runs), (t_cmd, TORCH_ENV, t_runs))[:: 1 if r % 2 == 0 else -1]
        for cmd, env, runs in (first, second):
            runs.append(suite(cmd, env))
        print(f"  threads {threads}: round {r + 1}/{rounds} done", file=sys.stderr)
    names = list(g_runs[0])
    result = {}
    for n in names:
        g = [run[n][0] for run in g_runs]
        t = [run[n][0] for run in t_runs]
        # The work credited to a row is the PyTorch side's count (its forward hooks).
        flop = t_runs[0][n][1]
        result[n] = (statistics.median(g), statistics.median(t), statistics.median(b / a for a, b in zip(g, t)), flop)
    return result


def roofline(result, name):
    """'gaxsh · PyTorch GFLOP/s (% of the faster gemm)' for one row at one thread count."""
    g, t, _, flop = result[name]
    gemm = result.get("p_gemm_2048")
    if not flop or not gemm:
        return "–"
    peak = gemm[3] / min(gemm[0], gemm[1])
    return f"{flop / g / 1e9:.1f} · {flop / t / 1e9:.1f} ({100 * flop / g / peak:.0f} % · {100 * flop / t / peak:.0f} %)"


def wall(cmd, n):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def peak(cmd, env=None):
    """Wall seconds and peak RSS (MiB) of one process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env={**os.environ, **(env or {})})
    _, status, usage = os.wait4(p.pid, 0)
    if status != 0:
        sys.exit(f"{cmd} failed")
    return time.perf_counter() - t0, usage.ru_maxrss / 1024


IMAGENET_LIST = ROOT.parent / "shared/data/imagenet_val/dataset.txt"


def imagenet_pipeline():
    """Row (n): the whole ImageNet script on the 1,300 validation images of ../shared against
    tools/bench/torch_imagenet.py (one thread each, one run each)."""
    if not IMAGENET_LIST.exists():
        return f"| (n) the ImageNet pipeline: skipped, {IMAGENET_LIST} is not there | | | |"
    with tempfile.TemporaryDirectory() as d:
        g_time, g_mem = peak([GAXSH, "scripts/imagenet.rhai", "--data", IMAGENET_LIST, "--gax_n", "10", "--steps", "100",
                              "--out", f"{d}/g"])
        t_time, t_mem = peak([sys.executable, "tools/bench/torch_imagenet.py", IMAGENET_LIST, f"{d}/t"], TORCH_ENV)
    return "\n".join([
        f"| (n) the ImageNet pipeline on 1,300 validation images, MobileNetV1-0.25 (s, one run each, one thread): "
        f"`scripts/imagenet.rhai --gax_n 10 --steps 100` vs `tools/bench/torch_imagenet.py` "
        f"| {g_time:.1f} | {t_time:.1f} | **{t_time / g_time:.2f}** |",
        f"| (n) the same pipelines' peak memory (MiB) | {g_mem:.0f} | {t_mem:.0f} | **{t_mem / g_mem:.1f}** |",
    ])


COVID_EPOCHS = 10


def covid_pipeline():
    """Row (o): the whole COVID script on the bundled chest X-ray sample (training cxc_multi_spa
    for a fixed COVID_EPOCHS epochs, so both sides do the same work whatever accuracy their
    initialisations reach; the AX sweep; GAX on 10 images) against tools/bench/torch_covid.py: one
    thread each, two alternating runs each, their means."""
    g, t = [], []
    with tempfile.TemporaryDirectory() as d:
        for _ in range(2):
            g.append(peak([GAXSH, "scripts/covid.rhai", "--epochs", str(COVID_EPOCHS), "--stop_at", "1", "--out", f"{d}/g"]))
            t.append(peak([sys.executable, "tools/bench/torch_covid.py", str(COVID_EPOCHS), f"{d}/t"], TORCH_ENV))
    (g_time, g_mem), (t_time, t_mem) = (statistics.mean(s) for s in zip(*g)), (statistics.mean(s) for s in zip(*t))
    return "\n".join([
        f"| (o) the COVID pipeline on the bundled 300 chest X-rays at 256², cxc_multi_spa trained {COVID_EPOCHS} epochs "
        f"(s, mean of two alternating runs, one thread): `scripts/covid.rhai --epochs {COVID_EPOCHS} --stop_at 1` vs "
        f"`tools/bench/torch_covid.py {COVID_EPOCHS}` | {g_time:.1f} | {t_time:.1f} | **{t_time / g_time:.2f}** |",
        f"| (o) the same pipelines' peak memory (MiB) | {g_mem:.0f} | {t_mem:.0f} | **{t_mem / g_mem:.1f}** |",
    ])


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import captum
    import torch
    gv = subprocess.run([GAXSH, "--version"], capture_output=True, text=True).stdout.strip()
    return (f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}; "
            f"{gv}; torch {torch.__version__}, captum {captum.__version__}, Python {platform.python_version()}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", default=f"1,{os.cpu_count()}")
    ap.add_argument("--write", help="replace the generated part of this Markdown file")
    ap.add_argument("--device", default="cpu",
                    help="cpu, or cuda: rows (a)-(d) and training on the GPU, both sides (gaxsh built with "
                         "--features cuda, see docs/GPU.md); written between the bench-gpu markers")
    ap.add_argument("--gaxsh", type=Path, help="the gaxsh binary (default target/release/gaxsh)")
    ap.add_argument("--pipeline-only", choices=["n", "o", "no"],
                    help="only run and print row (n), the ImageNet pipeline, row (o), the COVID pipeline, or both")
    args = ap.parse_args()
    global GAXSH
    GAXSH = args.gaxsh or GAXSH
    if not GAXSH.exists():
        subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True)
    if args.pipeline_only:
        if "n" in args.pipeline_only:
            print(imagenet_pipeline())
        if "o" in args.pipeline_only:
            print(covid_pipeline())
        return
    threads = sorted({int(t) for t in args.threads.split(",")})
    onnx_dir = tempfile.TemporaryDirectory()
    onnx = f"{onnx_dir.name}/resnet34.onnx"
    subprocess.run([sys.executable, "tools/bench/torch_bench.py", "--export-onnx", onnx], cwd=ROOT, check=True,
                   capture_output=True)
    results = {t: compare(t, args.rounds, args.repeats, onnx, args.device) for t in threads}

    lines = ["| workload | " + " | ".join(f"gaxsh s ({t} thr) | PyTorch s ({t} thr) | ratio ({t} thr) | "
                                         f"GFLOP/s gaxsh · PyTorch (% of gemm peak) ({t} thr)" for t in threads) + " |",
             "|---|" + "---:|---:|---:|---:|" * len(threads)]
    for name in results[threads[0]]:
        cells = []
        for t in threads:
            g, p, r, _ = results[t][name]
            cells.append(f"{g:.4f} | {p:.4f} | **{r:.2f}** | {roofline(results[t], name)}")
        lines.append(f"| {ROWS[name[0]]}: `{name}` | " + " | ".join(cells) + " |")

    if args.device != "cpu":
        import torch
        gpu = torch.cuda.get_device_name(0)
        body = "\n".join([
            f"Measured on {gpu} beside {machine()}.",
            f"Command: `python tools/bench/run.py --device {args.device} --rounds {args.rounds} --repeats {args.repeats}"
            f" --threads {args.threads}` (ratio = PyTorch time / gaxsh time).",
            "",
            *lines,
        ])
        print(body)
        if args.write:
            write_between(Path(args.write), "<!-- bench-gpu:begin -->", "<!-- bench-gpu:end -->", body)
        return

    print("  start-up and memory", file=sys.stderr)
    g_start = wall([GAXSH, "-e", "1"], 10)
    t_start = wall([sys.executable, "-c", "import torch, captum"], 10)
    with tempfile.TemporaryDirectory() as d:
        g_time, g_mem = peak([GAXSH, "scripts/drybean.rhai", "--out", f"{d}/g"])
        t_time, t_mem = peak([sys.executable, "tools/bench/torch_drybean.py", f"{d}/t"], TORCH_ENV)
    print("  memory of a batch-32 ResNet34 AX pass", file=sys.stderr)
    _, g_b32 = peak([GAXSH, "tools/bench/memory_b32.rhai"])
    _, t_b32 = peak([sys.executable, "tools/bench/torch_bench.py", "--memory-b32", "run"], TORCH_ENV)
    live = int(subprocess.run([sys.executable, "tools/bench/torch_bench.py", "--memory-b32", "live"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout) / 2**20
    print("  the ImageNet pipeline", file=sys.stderr)
    pipeline = imagenet_pipeline()
    print("  the COVID pipeline", file=sys.stderr)
    covid = covid_pipeline()
    extra = [
        "",
        "| workload | gaxsh | PyTorch | ratio |",
        "|---|---:|---:|---:|",
        f"| (e) start to first result: `gaxsh -e 1` vs `python -c \"import torch, captum\"` (s, median of 10) | {g_start:.3f} | {t_start:.3f} | **{t_start / g_start:.1f}** |",
        f"| (f) peak memory of the dry-bean pipeline (MiB): `scripts/drybean.rhai` vs `tools/bench/torch_drybean.py` | {g_mem:.0f} | {t_mem:.0f} | **{t_mem / g_mem:.1f}** |",
        f"| the same pipelines' wall time (s, one run each) | {g_time:.2f} | {t_time:.2f} | **{t_time / g_time:.1f}** |",
        f"| (m) peak memory of the AX process (Saliency) on 32 ResNet34 images at 224², one batch, one thread (MiB): "
        f"`tools/bench/memory_b32.rhai` vs `torch_bench.py --memory-b32 run` | {g_b32:.0f} | {t_b32:.0f} | **{t_b32 / g_b32:.2f}** |",
        f"| (m) the same as a multiple of the live tensors it needs ({live:.0f} MiB: weights, input, what autograd keeps "
        f"for the backward; `--memory-b32 live`) | {g_b32 / live:.2f}× | {t_b32 / live:.2f}× | |",
        pipeline,
        covid,
    ]
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = "\n".join([
        f"Measured {stamp} on {machine()}.",
        f"Command: `python tools/bench/run.py --rounds {args.rounds} --repeats {args.repeats} --threads {args.threads}`"
        " (ratio = PyTorch time / gaxsh time; above 1, gaxsh is faster).",
        "",
        *lines,
        *extra,
    ])
    print(body)
    if args.write:
        write_between(Path(args.write), "<!-- bench:begin -->", "<!-- bench:end -->", body)


def write_between(path, begin, end, body):
    """Replace what lies between two marker lines of a Markdown file."""
    text = path.read_text()
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{body}\n{end}{tail}")


if __name__ == "__main__":
    main()
