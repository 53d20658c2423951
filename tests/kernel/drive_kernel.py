"""Drive the gaxsh Jupyter kernel with Jupyter's own client (jupyter_client from PyPI).

Usage: python drive_kernel.py GAXSH_BINARY

Installs the kernelspec into a temporary prefix, starts the kernel the way Jupyter does, and
checks every part of the protocol gaxsh serves. Prints "ok <check>" per passed check; the first
failed assertion ends the run with a traceback and a non-zero status. tests/kernel.rs runs this.
"""

import base64
import os
import struct
import subprocess
import sys
import tempfile
import time

from jupyter_client.manager import start_new_kernel

TIMEOUT = 120


def ok(name):
    print(f"ok {name}", flush=True)


def run_cell(kc, code, timeout=TIMEOUT):
    """Execute code; return (reply content, iopub messages of this request)."""
    outputs = []
    reply = kc.execute_interactive(
        code, output_hook=outputs.append, timeout=timeout, allow_stdin=False
    )
    return reply["content"], outputs


def of_type(outputs, kind):
    return [m["content"] for m in outputs if m["header"]["msg_type"] == kind]


def png_size(b64):
    data = base64.b64decode(b64)
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def wait_for_reply(kc, msg_id, timeout=TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        msg = kc.get_shell_msg(timeout=deadline - time.time())
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg
    raise AssertionError("no reply")


def drain_iopub(kc, msg_id, timeout=TIMEOUT):
    """Iopub messages of one request, up to its idle status."""
    out = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        msg = kc.get_iopub_msg(timeout=deadline - time.time())
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        out.append(msg)
        if (
            msg["header"]["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
        ):
            return out
    raise AssertionError("no idle status")


def wait_until_busy_with(kc, msg_id, seconds):
    """Let a started cell run for `seconds` of its own time (after its busy status)."""
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        msg = kc.get_iopub_msg(timeout=deadline - time.time())
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["header"]["msg_type"] == "execute_input"
        ):
            time.sleep(seconds)
            return
    raise AssertionError("the cell never started")


def interrupted_cell(kc, km, code, how):
    """Start a long cell, interrupt it by signal or by message, return (reply, seconds)."""
    msg_id = kc.execute(code)
    wait_until_busy_with(kc, msg_id, 1.5)
    t0 = time.time()
    if how == "signal":
        km.interrupt_kernel()  # the kernelspec's interrupt_mode is "signal": SIGINT
    else:
        msg = kc.session.msg("interrupt_request", {})
        kc.control_channel.send(msg)
        rep = kc.get_control_msg(timeout=10)
        assert rep["header"]["msg_type"] == "interrupt_reply", rep
        assert rep["content"]["status"] == "ok", rep
    reply = wait_for_reply(kc, msg_id)
    drain_iopub(kc, msg_id)
    return reply["content"], time.time() - t0


def main():
    gaxsh = sys.argv[1]
    prefix = tempfile.mkdtemp(prefix="gaxsh-jupyter-")
    subprocess.run(
        [gaxsh, "kernel", "install", "--prefix", prefix, "--name", "gaxsh-test"],
        check=True,
    )
    os.environ["JUPYTER_PATH"] = os.path.join(prefix, "share", "jupyter")
    os.environ["GAXSH_KERNEL_SELFTEST"] = "1"
    km, kc = start_new_kernel(kernel_name="gaxsh-test", startup_timeout=60)
    try:
        check_protocol(km, kc)
        km, kc = check_restart(km, kc)
        check_shutdown(km, kc)
    finally:
        if km.is_alive():
            km.shutdown_kernel(now=True)


def check_protocol(km, kc):
    info = kc.kernel_info(reply=True, timeout=30)["content"]
    assert info["status"] == "ok"
    assert info["implementation"] == "gaxsh", info
    assert info["language_info"]["name"] == "rhai", info
    assert info["language_info"]["file_extension"] == ".rhai", info
    ok("kernel_info")

    reply, out = run_cell(kc, 'let x = 40;\nprint("hello from gaxsh");\nx + 2')
    assert reply["status"] == "ok", reply
    assert reply["execution_count"] >= 1
    streams = of_type(out, "stream")
    assert "".join(s["text"] for s in streams) == "hello from gaxsh\n", streams
    results = of_type(out, "execute_result")
    assert [r["data"]["text/plain"] for r in results] == ["42"], results
    ok("execute: stream and execute_result")

    reply, out = run_cell(kc, "x + 2;  // a trailing ; hides the value, as in IPython")
    assert reply["status"] == "ok", reply
    assert of_type(out, "execute_result") == [], out
    ok("execute: a trailing ; hides the value")

    reply, out = run_cell(kc, "let t = tensor([[1.0, 2.0], [3.0, 4.0]]);\nt.sum(1)")
    text = of_type(out, "execute_result")[0]["data"]["text/plain"]
    assert "tensor([3., 7.])" in text, text
    ok("execute: a tensor result")

    reply, out = run_cell(
        kc,
        'let p = line([1, 2, 3], [1, 4, 9], temp_path("squares.png"), #{title: "squares"});',
    )
    assert reply["status"] == "ok", reply
    shown = of_type(out, "display_data")
    assert len(shown) == 1, shown
    w, h = png_size(shown[0]["data"]["image/png"])
    assert w >= 200 and h >= 150, (w, h)
    assert "squares.png" in shown[0]["data"]["text/plain"]
    ok("display_data: a plot written by a cell is shown inline as PNG")

    reply, out = run_cell(kc, "show(p)")
    shown = of_type(out, "display_data")
    assert len(shown) == 1 and "image/png" in shown[0]["data"], out
    assert of_type(out, "execute_result") == [], "the shown path is not printed again"
    reply, out = run_cell(kc, "show(randn([6, 6]))")
    assert png_size(of_type(out, "display_data")[0]["data"]["image/png"])[0] > 6
    ok("show(path) and show(tensor)")

    reply, out = run_cell(kc, "let y = 1;\nlet z = y + no_such_var;")
    assert reply["status"] == "error", reply
    err = of_type(out, "error")[0]
    assert err["ename"] == "ScriptError", err
    tb = "\n".join(err["traceback"])
    assert "<cell" in tb and ":2:" in tb, tb
    assert "let z = y + no_such_var;" in tb, tb
    src = next(i for i, l in enumerate(err["traceback"]) if "no_such_var;" in l)
    caret = err["traceback"][src + 1]
    assert caret.rstrip().endswith("^") and caret.index("^") == err["traceback"][src].index("no_such_var"), tb
    ok("error: the script line and a caret")

    reply, out = run_cell(kc, "softmx(t, 0)")
    tb = "\n".join(of_type(out, "error")[0]["traceback"])
    assert "softmax" in tb, tb
    ok("error: a misspelt function suggests the right one")

    reply, out = run_cell(kc, "x")
    assert of_type(out, "execute_result")[0]["data"]["text/plain"] == "40"
    ok("variables survive an error")

    code = "t.su"
    c = kc.complete(code, len(code), reply=True, timeout=30)["content"]
    assert c["status"] == "ok"
    assert "sum" in c["matches"], c
    assert c["cursor_start"] == 2 and c["cursor_end"] == 4, c
    code = "t."
    c = kc.complete(code, len(code), reply=True, timeout=30)["content"]
    assert "sum" in c["matches"] and "split_mod3" not in c["matches"], c
    ok("complete: after a tensor's dot, tensor methods only")
    code = "let s = co_sc"
    c = kc.complete(code, len(code), reply=True, timeout=30)["content"]
    assert "co_score" in c["matches"], c
    code = "print(xx + t"
    c = kc.complete(code, len(code), reply=True, timeout=30)["content"]
    assert "t" in c["matches"] and "tensor" in c["matches"], c
    ok("complete: methods, functions and variables")

    code = "let q = softmax(t, 0);"
    r = kc.inspect(code, code.index("softmax") + 3, reply=True, timeout=30)["content"]
    assert r["found"] is True, r
    assert "softmax" in r["data"]["text/plain"], r
    r = kc.inspect("x", 1, reply=True, timeout=30)["content"]
    assert r["found"] and "40" in r["data"]["text/plain"], r
    r = kc.inspect("nothing_here", 3, reply=True, timeout=30)["content"]
    assert r["found"] is False, r
    ok("inspect: the registry's help and variables")

    def is_complete(code):
        kc.is_complete(code)
        return kc.get_shell_msg(timeout=30)["content"]["status"]

    assert is_complete("fn f(x) {") == "incomplete"
    assert is_complete("fn f(x) { x * 2 }") == "complete"
    assert is_complete("let = ;") == "invalid"
    ok("is_complete")

    kc.history(hist_access_type="tail", n=2, output=False)
    h = kc.get_shell_msg(timeout=30)["content"]
    assert h["status"] == "ok" and len(h["history"]) == 2, h
    assert h["history"][-1][2] == "x", h
    kc.history(hist_access_type="search", pattern="*show*", output=False)
    h = kc.get_shell_msg(timeout=30)["content"]
    assert [e[2] for e in h["history"]] == ["show(p)", "show(randn([6, 6]))"], h
    ok("history")

    reply, out = run_cell(kc, "gax?")
    assert "Optimise h = tanh" in of_type(out, "execute_result")[0]["data"]["text/plain"], out
    reply, out = run_cell(kc, "ax_sweep(drybean_fpa(), load_drybean().head(6), #{methods: \"Saliency\"})")
    data = of_type(out, "execute_result")[0]["data"]
    assert "Saliency" in data["text/plain"] and "<table" in data["text/html"], data
    ok("execute: name? shows help; tables come as HTML too")

    kc.comm_info()
    c = kc.get_shell_msg(timeout=30)["content"]
    assert c["status"] == "ok" and c["comms"] == {}, c
    ok("comm_info")

    reply, out = run_cell(
        kc,
        "let beans = load_drybean();\nlet split = beans.split_mod3();\n"
        "let s = beans.standardize();\nlet net = drybean_fpa();\n"
        "net.fit(split.train.head(2000).map(s), #{epochs: 3, batch: 16});\nnet.evaluate(split.test.head(200).map(s)).accuracy",
    )
    assert reply["status"] == "ok", reply
    displays = [d for d in of_type(out, "display_data") if d.get("transient", {}).get("display_id")]
    assert len(displays) >= 1, out
    ids = {d["transient"]["display_id"] for d in displays}
    updates = of_type(out, "update_display_data")
    assert updates and all(u["transient"]["display_id"] in ids for u in updates), updates
    assert len(updates) < 50, "progress is redrawn in place, not printed per step"
    final = updates[-1]["data"]["text/plain"]
    assert " done " in final and "epoch 3" in final, final
    assert of_type(out, "stream") == [], "training prints no lines"
    ok("progress: one display updated in place")

    run_cell(kc, "let kept = 7;")
    reply, secs = interrupted_cell(
        kc, km, "net.fit(split.train.map(s), #{epochs: 100000, batch: 16})", "message"
    )
    assert reply["status"] == "error" and reply["ename"] == "Interrupted", reply
    assert secs < 10, secs
    reply, out = run_cell(kc, "kept + 1")
    assert of_type(out, "execute_result")[0]["data"]["text/plain"] == "8"
    ok("interrupt (message): a native training loop stops; variables are kept")

    reply, secs = interrupted_cell(kc, km, "let i = 0;\nloop { i += 1; }", "signal")
    assert reply["status"] == "error" and reply["ename"] == "Interrupted", reply
    assert secs < 10, secs
    reply, out = run_cell(kc, "i > 0 && kept == 7")
    assert of_type(out, "execute_result")[0]["data"]["text/plain"] == "true"
    ok("interrupt (signal): a script loop stops; variables are kept")

    reply, out = run_cell(kc, "kernel_selftest_panic()")
    assert reply["status"] == "error", reply
    err = of_type(out, "error")[0]
    assert err["ename"] == "InternalError" and "deliberate panic" in err["evalue"], err
    reply, out = run_cell(kc, "kept")
    assert of_type(out, "execute_result")[0]["data"]["text/plain"] == "7"
    ok("a panic becomes an error reply; the kernel lives on")


def check_restart(km, kc):
    old_pid = km.provisioner.process.pid
    km.restart_kernel(now=False)
    kc.wait_for_ready(timeout=60)
    assert km.provisioner.process.pid != old_pid
    reply, out = run_cell(kc, "let fresh = 1; fresh")
    assert of_type(out, "execute_result")[0]["data"]["text/plain"] == "1"
    reply, out = run_cell(kc, "kept")
    assert reply["status"] == "error", "a restarted kernel starts empty"
    ok("restart")
    return km, kc


def check_shutdown(km, kc):
    process = km.provisioner.process
    kc.shutdown()
    reply = kc.get_control_msg(timeout=30)
    assert reply["header"]["msg_type"] == "shutdown_reply", reply
    deadline = time.time() + 10
    while process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert process.returncode == 0, process.returncode
    ok("shutdown: the kernel exits by itself with status 0")
    km.cleanup_resources()


if __name__ == "__main__":
    main()
