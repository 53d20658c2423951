"""Execute a notebook with the gaxsh kernel through nbclient (Jupyter's own executor).

Usage: python run_notebook.py GAXSH_BINARY NOTEBOOK OUTPUT

Installs the kernelspec into a temporary prefix, runs every cell (a cell error fails the run),
writes the executed notebook to OUTPUT and prints one line per output kind it holds, e.g.
"outputs image/png 3". tests/kernel.rs checks those lines.
"""

import collections
import os
import subprocess
import sys
import tempfile

import nbformat
from nbclient import NotebookClient


def main():
    gaxsh, notebook, output = sys.argv[1:4]
    prefix = tempfile.mkdtemp(prefix="gaxsh-jupyter-")
    subprocess.run(
        [gaxsh, "kernel", "install", "--prefix", prefix, "--name", "gaxsh-test"],
        check=True,
    )
    os.environ["JUPYTER_PATH"] = os.path.join(prefix, "share", "jupyter")
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="gaxsh-test",
        timeout=600,
        resources={"metadata": {"path": os.getcwd()}},
    )
    client.execute()
    nbformat.write(nb, output)
    counts = collections.Counter()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            counts[out["output_type"]] += 1
            for mime in out.get("data", {}):
                counts[mime] += 1
    for kind, n in sorted(counts.items()):
        print(f"outputs {kind} {n}")


if __name__ == "__main__":
    main()
