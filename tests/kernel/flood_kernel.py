"""Flood the gaxsh kernel with messages it must drop, then check it still serves.

Usage: python flood_kernel.py GAXSH_BINARY [COUNT]

Sends COUNT (default 10,000) messages with a wrong signature, no signature, too few frames, no
delimiter, or signed garbage, alternately on the shell and the control socket; then executes a
cell, interrupts a running one and shuts the kernel down, all through Jupyter's own client.
Prints "ok <check>" per passed check. tests/kernel.rs runs this.
"""

import hashlib
import hmac
import json
import os
import sys
import tempfile
import time
import uuid

import zmq
from jupyter_client.manager import start_new_kernel

TIMEOUT = 120


def ok(name):
    print(f"ok {name}", flush=True)


def frames(key, kind, i):
    header = json.dumps({"msg_id": uuid.uuid4().hex, "username": "x", "session": "flood",
                         "date": "2026-01-01T00:00:00Z", "msg_type": "execute_request",
                         "version": "5.3"}).encode()
    content = json.dumps({"code": f"print({i})"}).encode()
    parts = [header, b"{}", b"{}", content]
    good = hmac.new(key, b"".join(parts), hashlib.sha256).hexdigest().encode()
    if kind == 0:  # a wrong signature
        return [b"<IDS|MSG>", b"0" * 64] + parts
    if kind == 1:  # no signature
        return [b"<IDS|MSG>", b""] + parts
    if kind == 2:  # too few frames
        return [b"<IDS|MSG>", good, header]
    if kind == 3:  # no delimiter
        return [good] + parts
    # Signed, but not JSON.
    bad = [b"\xff\xfe not json", b"{}", b"{}", b"[]"]
    sig = hmac.new(key, b"".join(bad), hashlib.sha256).hexdigest().encode()
    return [b"<IDS|MSG>", sig] + bad


def main():
    binary = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    with tempfile.TemporaryDirectory() as prefix:
        spec = os.path.join(prefix, "share", "jupyter", "kernels", "gaxsh")
        os.makedirs(spec)
        with open(os.path.join(spec, "kernel.json"), "w") as f:
            json.dump({"argv": [binary, "kernel", "-f", "{connection_file}"],
                       "display_name": "gaxsh", "language": "rhai", "interrupt_mode": "message"}, f)
        os.environ["JUPYTER_PATH"] = os.path.join(prefix, "share", "jupyter")
        km, kc = start_new_kernel(kernel_name="gaxsh", startup_timeout=TIMEOUT)
        try:
            info = km.get_connection_info()
            key = info["key"].encode() if isinstance(info["key"], str) else info["key"]
            ctx = zmq.Context.instance()
            socks = []
            for port in (info["shell_port"], info["control_port"]):
                s = ctx.socket(zmq.DEALER)
                s.setsockopt(zmq.LINGER, 0)
                s.connect(f"tcp://{info['ip']}:{port}")
                socks.append(s)
            for i in range(count):
                socks[i % 2].send_multipart(frames(key, i % 5, i))
            # Let the kernel work through the queue.
            time.sleep(2)
            ok(f"{count} bad messages sent on shell and control")

            quiet = {"output_hook": lambda msg: None, "timeout": TIMEOUT}
            reply = kc.execute_interactive("40 + 2", **quiet)
            assert reply["content"]["status"] == "ok", reply
            ok("execute still works")

            info_reply = kc.kernel_info(reply=True, timeout=TIMEOUT)
            assert info_reply["content"]["implementation"] == "gaxsh", info_reply
            ok("kernel_info still works")

            msg_id = kc.execute("let n = 0; loop { n += 1; }")
            time.sleep(1.0)
            km.interrupt_kernel()
            deadline = time.time() + TIMEOUT
            while True:
                msg = kc.get_shell_msg(timeout=deadline - time.time())
                if msg["parent_header"].get("msg_id") == msg_id:
                    break
            assert msg["content"]["status"] == "error", msg["content"]
            reply = kc.execute_interactive("n > 0", **quiet)
            assert reply["content"]["status"] == "ok", reply
            ok("interrupt still works")

            kc.shutdown()
            deadline = time.time() + 30
            while km.is_alive() and time.time() < deadline:
                time.sleep(0.1)
            assert not km.is_alive(), "the kernel did not exit"
            ok("shutdown still works")
        finally:
            kc.stop_channels()
            if km.is_alive():
                km.shutdown_kernel(now=True)


if __name__ == "__main__":
    main()
