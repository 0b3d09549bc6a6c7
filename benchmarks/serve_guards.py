"""``skmnist serve`` against misbehaving clients, measured from outside.

Usage::

    python benchmarks/serve_guards.py --model m.skmnist    # about 1.5 minutes
    python benchmarks/serve_guards.py                      # trains a small model first

Starts ``python -m skmnist serve MODEL --port 0`` (this checkout's skmnist) in
child processes on 127.0.0.1 and measures the figures of issue 20's targets:

1. 400 stalled connections (a third send nothing, a third half their headers,
   a third half a body) against a server whose limit on open files is 256
   (``resource.setrlimit`` in the child): the slowest ``GET /health`` of
   another client, asked after every 25 stalled connections, and how many
   lines stderr grew by;
2. a client that trickles its headers at one byte per second: seconds until
   the server closes it;
3. ``GET /model`` with ``Host: evil.example:1234``: the status;
4. Ctrl+C (SIGINT) and SIGTERM with three half-sent requests open: seconds
   to exit, exit status, and whether stderr holds a traceback.

Targets: /health within 2 s throughout and stderr growing by a few lines; the
trickle closed within 40 s; the evil Host a 4xx; exit within 3 s, status 0,
no traceback. Writes ``serve_guards.json`` and ``.md`` into ``--out``
(``benchmarks/results``).
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

import _common  # noqa: E402

ADDRESS = re.compile(r" at http://127\.0\.0\.1:(\d+)/ ")
CHILD = """
import resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if {nofile}:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min({nofile}, hard), hard))
from skmnist.serve import run
run(sys.argv[1], port=0)
"""
STALLS = (
    b"",
    b"GET /health HTTP/1.1\r\nHost: 127.0",
    b"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
    b'\r\nContent-Length: 5000\r\n\r\n{"image": [[0, 0',
)


def start(model, nofile=0):
    env = dict(os.environ, PYTHONPATH=REPO)
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(nofile=nofile), model],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    line = process.stdout.readline()
    match = ADDRESS.search(line)
    if not match:
        process.kill()
        raise RuntimeError(f"no address: {line!r} {process.stderr.read()[-2000:]}")
    return process, int(match.group(1))


def stop(process, sig=signal.SIGINT):
    started = time.monotonic()
    process.send_signal(sig)
    try:
        status = process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        status = process.wait(30)
    took = time.monotonic() - started
    return status, took, process.stdout.read(), process.stderr.read()


def health(port):
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            ok = sock.recv(65536).startswith(b"HTTP/1.1 200")
    except OSError:
        ok = False
    return ok, time.monotonic() - started


def stalled_flood(model):
    process, port = start(model, nofile=256)
    sockets, slowest, failures = [], 0.0, 0
    try:
        for i in range(400):
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                sock.sendall(STALLS[i % 3])
                sockets.append(sock)
            except OSError:
                pass
            if i % 25 == 24:
                ok, took = health(port)
                failures += not ok
                slowest = max(slowest, took)
    finally:
        status, _, out, err = stop(process)
        for sock in sockets:
            sock.close()
    return {
        "health_checks": 16,
        "health_failures": failures,
        "slowest_health_s": round(slowest, 3),
        "stderr_lines": len(err.splitlines()),
        "stderr": err[-2000:],
        "exit_status": status,
    }


def trickle_and_host(model):
    process, port = start(model)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /model HTTP/1.1\r\nHost: evil.example:1234\r\n\r\n")
            evil = int(sock.recv(65536).split(b" ", 2)[1])
        sock = socket.create_connection(("127.0.0.1", port), timeout=1)
        started = time.monotonic()
        closed_after = None
        try:
            for byte in b"GET /health HTTP/1.1\r\nHost: localhost\r\n" + b"X: y" * 100:
                sock.sendall(bytes([byte]))
                try:
                    if sock.recv(1) == b"":
                        closed_after = time.monotonic() - started
                    break
                except TimeoutError:
                    if time.monotonic() - started > 90:
                        break
        except OSError:
            closed_after = time.monotonic() - started
        finally:
            sock.close()
    finally:
        stop(process)
    return {"evil_host_status": evil, "trickle_closed_after_s": closed_after}


def stop_with_half_sent(model, sig):
    process, port = start(model)
    half = []
    for sent in STALLS:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(sent)
        half.append(sock)
    health(port)
    status, took, out, err = stop(process, sig)
    for sock in half:
        sock.close()
    return {
        "signal": signal.Signals(sig).name,
        "exit_status": status,
        "exit_s": round(took, 3),
        "traceback": "Traceback" in err,
        "stdout_tail": out.strip().splitlines()[-1:],
        "stderr": err[-2000:],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="a .skmnist file (default: train one)")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        model = args.model
        if model is None:
            model = os.path.join(folder, "m.skmnist")
            subprocess.run(
                [sys.executable, "-m", "skmnist", "train", "--sample", "--epochs", "3",
                 "--hidden-size", "64", "--random-state", "0", "--out", model],
                check=True, env=dict(os.environ, PYTHONPATH=REPO),
            )  # fmt: skip
        report = {
            "machine": _common.machine(),
            "stalled_flood": stalled_flood(model),
            "trickle_and_host": trickle_and_host(model),
            "stops": [
                stop_with_half_sent(model, s) for s in (signal.SIGINT, signal.SIGTERM)
            ],
        }
    flood, trick = report["stalled_flood"], report["trickle_and_host"]
    lines = [
        "# `skmnist serve` against misbehaving clients (`benchmarks/serve_guards.py`)",
        "",
        f"{_common.machine_text(report['machine'])}; shared with other "
        "agents' jobs (not quiet).",
        "",
        "| target | measured |",
        "|---|---|",
        f"| 400 stalled connections, `ulimit -n 256`: /health within 2 s | "
        f"slowest of 16: {flood['slowest_health_s']:.3f} s, "
        f"{flood['health_failures']} failed |",
        f"| ... stderr grows by a few lines | {flood['stderr_lines']} lines |",
        f"| 1 byte/s header trickle closed within 40 s | "
        f"{trick['trickle_closed_after_s']:.1f} s |",
        f"| `Host: evil.example` gets 4xx | {trick['evil_host_status']} |",
    ]
    for s in report["stops"]:
        lines.append(
            f"| {s['signal']} with half-sent requests: exit within 3 s, status 0, "
            f"no traceback | {s['exit_s']:.2f} s, status {s['exit_status']}, "
            f"traceback: {'yes' if s['traceback'] else 'no'} |"
        )
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "serve_guards.json"), "w") as f:
        json.dump(report, f, indent=2)
    with open(os.path.join(args.out, "serve_guards.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
