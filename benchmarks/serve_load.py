"""Load test of ``skmnist serve``: concurrent clients on 127.0.0.1, bounded.

Usage::

    python benchmarks/serve_load.py            # 20 clients, 2,000 requests per body
    python benchmarks/serve_load.py --small    # smoke test: 4 clients, 100 requests
    python benchmarks/serve_load.py --bodies json --requests 5000 --model m.skmnist

The script starts everything itself and stops by itself:

1. a model: ``skmnist train --sample --epochs 2 --random-state 0`` (the
   reference network, 784-512-512-10, on the packaged sample; the size of the
   network, not its accuracy, sets the cost of a prediction), unless
   ``--model`` names a ``.skmnist`` file; ``--small`` trains a 64-unit one;
2. the server: ``python -m skmnist serve MODEL --port 0`` in a child process
   (this checkout's skmnist), bound to 127.0.0.1;
3. for each kind of body, one single-image ``POST /predict`` per distinct test
   digit, one at a time, whose label is the reference; then ``--requests``
   requests from ``--concurrency`` clients (asyncio, one keep-alive connection
   each, ``--timeout`` seconds per request), each client sending its next
   request as soon as the previous one is answered. Every answer is checked:
   status 200 and the same label as the reference (else it counts as an error
   or a wrong prediction).

Kinds of body (``--bodies``): ``json`` (``{"image": <28x28 array>}``, a test
digit as MNIST stores it) and ``png`` (the digit as dark ink on white paper,
a 112x112 PNG as the drawing page sends, converted by the server as ``skmnist
predict`` converts photos).

Reports throughput (answers per second of wall time), latency percentiles, the
error count, the server's model calls (so the mean batch size of the
micro-batching) and the CPU seconds of the server and of the clients, with the
machine's CPU model (``lscpu``) and load. The clients run on the same machine
as the server and take part of its CPU.

Writes ``serve_load.json`` and ``serve_load.md`` (``serve_load_small.*`` with
``--small``) into ``--out`` (``benchmarks/results``) and prints the Markdown.

Targets (from the issue): 0 errors and no crash; with 20 clients on 2 cores,
single-image ``POST /predict`` at >= 200 requests/s with p99 latency < 100 ms.
Exit status 0; 1 if a request failed, a prediction was wrong or the server
died; with ``--strict``, 2 if a target is missed at full size.
"""

import argparse
import asyncio
import contextlib
import datetime
import io
import json
import os
import re
import resource
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)  # this checkout's skmnist, whatever is installed

import _common  # noqa: E402  (benchmarks/ is sys.path[0] for this script)
import httpx2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from skmnist import load_mnist_sample  # noqa: E402  (no TensorFlow)

TARGET_RPS = 200.0
TARGET_P99_MS = 100.0
N_DISTINCT = 100  # distinct test digits sent, round robin
ADDRESS = re.compile(r" at (http://[^ ]+/) ")
BODY_KINDS = ("json", "png")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="smoke test")
    parser.add_argument("--requests", type=int, help="requests per body kind")
    parser.add_argument("--concurrency", type=int, help="concurrent clients")
    parser.add_argument(
        "--warmup", type=int, help="unmeasured concurrent requests first"
    )
    parser.add_argument(
        "--bodies",
        default=",".join(BODY_KINDS),
        help="comma-separated body kinds: json, png (default: both)",
    )
    parser.add_argument("--model", help="a .skmnist file (default: train one)")
    parser.add_argument("--timeout", type=float, default=10.0, help="s per request")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args(argv)
    args.requests = args.requests or (100 if args.small else 2000)
    args.concurrency = args.concurrency or (4 if args.small else 20)
    if args.warmup is None:
        args.warmup = 20 if args.small else 200
    args.bodies = [b.strip() for b in args.bodies.split(",") if b.strip()]
    unknown = set(args.bodies) - set(BODY_KINDS)
    if unknown:
        parser.error(f"unknown body kinds {sorted(unknown)}; choose from {BODY_KINDS}")
    for name in ("requests", "concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


# -- machine facts -------------------------------------------------------------


def process_cpu_s(pid):
    """User + system CPU seconds of process `pid` (Linux /proc), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def machine_busy_s():
    """CPU seconds spent by the whole machine so far (every process), or None."""
    try:
        with open("/proc/stat", encoding="utf-8") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu_s():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- the model and the server ----------------------------------------------------


def train_model(folder, small):
    path = os.path.join(folder, "serve_load.skmnist")
    command = [sys.executable, "-m", "skmnist", "train", "--sample", "--epochs"]
    command += ["1", "--hidden-size", "64"] if small else ["2"]
    command += ["--random-state", "0", "--verbose", "0", "--out", path]
    print(f"training: {shlex.join(command[1:])}", flush=True)
    subprocess.run(command, check=True, timeout=600, env=_child_env())
    return path


def _child_env():
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=REPO + (os.pathsep + path if path else ""))


class Server:
    """``python -m skmnist serve MODEL --port 0`` in a child process."""

    def __init__(self, model, timeout=300):
        self.command = [sys.executable, "-m", "skmnist", "serve", model, "--port", "0"]
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_child_env(),
        )
        self.stderr = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self.url = self._address(timeout)

    def _drain_stderr(self):
        for line in self.process.stderr:
            self.stderr.append(line)

    def _address(self, timeout):
        found = []

        def read():
            for line in self.process.stdout:
                match = ADDRESS.search(line)
                if match:
                    found.append(match.group(1).rstrip("/"))
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if not found:
            self.stop()
            raise RuntimeError(
                f"the server printed no address in {timeout} s: "
                + "".join(self.stderr)[-2000:]
            )
        return found[0]

    def alive(self):
        return self.process.poll() is None

    def stop(self, timeout=30):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        return self.process.returncode


# -- the load ---------------------------------------------------------------------


def make_bodies(kind, digits):
    """(content type, body bytes) for each digit."""
    if kind == "json":
        return [
            ("application/json", json.dumps({"image": d.tolist()}).encode())
            for d in digits
        ]
    side = 112
    bodies = []
    for d in digits:
        paper = Image.fromarray(255 - d).resize((side, side), Image.Resampling.BILINEAR)
        buffer = io.BytesIO()
        paper.save(buffer, "PNG")
        bodies.append(("image/png", buffer.getvalue()))
    return bodies


async def _post(client, body):
    content_type, data = body
    return await client.post(
        "/predict", content=data, headers={"content-type": content_type}
    )


async def references(url, bodies, timeout):
    """The label of each body, asked one at a time."""
    async with httpx2.AsyncClient(base_url=url, timeout=timeout) as client:
        labels = []
        for body in bodies:
            answer = await _post(client, body)
            answer.raise_for_status()
            labels.append(answer.json()["labels"][0])
        return labels


async def load(url, bodies, expected, n_requests, concurrency, timeout):
    """`n_requests` requests from `concurrency` clients; per-request results.

    The clients are made before the clock starts: making one (its SSL context,
    unused on http://) takes milliseconds of this process's event loop, which
    would otherwise delay the first answers.
    """
    results = []
    counter = iter(range(n_requests))

    async def client_loop(client):
        for i in counter:
            k = i % len(bodies)
            start = time.perf_counter()
            try:
                answer = await _post(client, bodies[k])
                latency = time.perf_counter() - start
                if answer.status_code != 200:
                    results.append((latency, f"status {answer.status_code}", None))
                else:
                    label = answer.json()["labels"][0]
                    results.append((latency, None, label == expected[k]))
            except httpx2.HTTPError as exc:
                latency = time.perf_counter() - start
                results.append((latency, f"{type(exc).__name__}: {exc}", None))

    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx2.AsyncClient(
                    base_url=url,
                    timeout=timeout,
                    limits=httpx2.Limits(
                        max_connections=1, max_keepalive_connections=1
                    ),
                )
            )
            for _ in range(concurrency)
        ]
        start = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for client in clients))
        wall = time.perf_counter() - start
    return results, wall


def percentile(values, q):
    return float(np.percentile(values, q)) if values else None


def measure(server, kind, digits, args):
    bodies = make_bodies(kind, digits)
    expected = asyncio.run(references(server.url, bodies, args.timeout))
    warmup, _ = asyncio.run(
        load(server.url, bodies, expected, args.warmup, args.concurrency, args.timeout)
    )
    health = httpx2.get(server.url + "/health", timeout=args.timeout).json()
    server_cpu, client_cpu = process_cpu_s(server.process.pid), own_cpu_s()
    machine_cpu = machine_busy_s()
    results, wall = asyncio.run(
        load(
            server.url, bodies, expected, args.requests, args.concurrency, args.timeout
        )
    )
    server_cpu_end, client_cpu_end = process_cpu_s(server.process.pid), own_cpu_s()
    machine_cpu_end = machine_busy_s()
    server_s = None if server_cpu is None else server_cpu_end - server_cpu
    client_s = client_cpu_end - client_cpu
    others_s = None
    if machine_cpu is not None and server_s is not None:
        others_s = max(0.0, machine_cpu_end - machine_cpu - server_s - client_s)
    after = httpx2.get(server.url + "/health", timeout=args.timeout).json()
    latencies_ms = [1000 * latency for latency, _, _ in results]
    errors = [error for _, error, _ in results if error]
    calls = after["model_calls"] - health["model_calls"]
    images = after["images_predicted"] - health["images_predicted"]
    return {
        "body": kind,
        "body_bytes_mean": round(statistics.fmean(len(b) for _, b in bodies)),
        "requests": len(results),
        "concurrency": args.concurrency,
        "warmup_requests": len(warmup),
        "warmup_errors": sum(1 for _, error, ok in warmup if error or ok is False),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "wrong_predictions": sum(1 for _, _, ok in results if ok is False),
        "wall_s": round(wall, 3),
        "throughput_rps": round(len(results) / wall, 1),
        "p50_ms": round(percentile(latencies_ms, 50), 2),
        "p90_ms": round(percentile(latencies_ms, 90), 2),
        "p99_ms": round(percentile(latencies_ms, 99), 2),
        "max_ms": round(max(latencies_ms), 2),
        "model_calls": calls,
        "mean_batch": round(images / calls, 2) if calls else None,
        "server_cpu_s": None if server_s is None else round(server_s, 2),
        "server_cpu_ms_per_request": (
            None if server_s is None else round(1000 * server_s / len(results), 2)
        ),
        "client_cpu_s": round(client_s, 2),
        # Other processes' CPU use meanwhile: the machine may be shared.
        "others_cpu_s": None if others_s is None else round(others_s, 2),
    }


# -- the report --------------------------------------------------------------------


def targets(run, enforced):
    return {
        "no_errors": run["errors"] == 0 and run["wrong_predictions"] == 0,
        "throughput": run["throughput_rps"] >= TARGET_RPS if enforced else None,
        "p99": run["p99_ms"] < TARGET_P99_MS if enforced else None,
    }


def _mark(value):
    return "n/a" if value is None else ("yes" if value else "**no**")


def render_markdown(report):
    machine, settings = report["machine"], report["settings"]
    lines = [
        "# skmnist serve: load test" + (" (small)" if settings["small"] else ""),
        "",
        f"Command: `{report['command']}`, started {report['started']}, "
        f"{report['duration_s'] / 60:.1f} min. {_common.machine_text(machine)}",
        "",
        f"{settings['concurrency']} concurrent clients (asyncio, one keep-alive "
        f"connection each) on the same machine as the server, "
        f"{settings['requests']:,} single-image `POST /predict` requests per kind "
        f"of body after {settings['warmup']} unmeasured ones, {N_DISTINCT} "
        f"distinct test digits; model: {settings['model']}.",
        "",
        "| body | bytes | requests | errors | wrong | req/s | p50 ms | p90 ms "
        "| p99 ms | max ms | model calls | mean batch | server CPU ms/req "
        "| client CPU s | others' CPU s | wall s |",
        "|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for run in report["runs"]:
        lines.append(
            f"| {run['body']} | {run['body_bytes_mean']:,} | {run['requests']:,} "
            f"| {run['errors']} | {run['wrong_predictions']} "
            f"| {run['throughput_rps']:.1f} | {run['p50_ms']:.1f} "
            f"| {run['p90_ms']:.1f} | {run['p99_ms']:.1f} | {run['max_ms']:.1f} "
            f"| {run['model_calls']:,} | {run['mean_batch']} "
            f"| {run['server_cpu_ms_per_request']} | {run['client_cpu_s']} "
            f"| {run['others_cpu_s']} | {run['wall_s']:.1f} |"
        )
    lines += [
        "",
        f"Server: crashed {'yes' if report['server']['crashed'] else 'no'}, exit "
        f"status {report['server']['exit_status']} after Ctrl+C.",
        "",
        f"| body | 0 errors, 0 wrong | >= {TARGET_RPS:.0f} req/s "
        f"| p99 < {TARGET_P99_MS:.0f} ms |",
        "|:--|:--|:--|:--|",
    ]
    for run in report["runs"]:
        t = run["targets"]
        lines.append(
            f"| {run['body']} | {_mark(t['no_errors'])} | {_mark(t['throughput'])} "
            f"| {_mark(t['p99'])} |"
        )
    if settings["small"]:
        lines += ["", "Small mode: the speed targets are not judged."]
    lines += [
        "",
        '*json*: `{"image": <28x28 array>}`; *png*: the digit as dark ink on '
        "white, 112x112 as the drawing page sends it, converted by the server as "
        "`skmnist predict` converts photos. *wrong*: "
        "answers whose label differs from the same request's answer alone. "
        "*mean batch*: images per model call (micro-batching of concurrent "
        "requests). *server CPU ms/req*: the server process's CPU time per "
        "request; *others' CPU s*: CPU time that other processes of the machine "
        "used during the run (the machine may be shared: 2 cores give "
        "2 x wall s in all).",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    started = datetime.datetime.now(datetime.UTC)
    t0 = time.perf_counter()
    machine = _common.machine()
    X, _ = load_mnist_sample(subset="test", return_X_y=True)
    digits = X[:N_DISTINCT]
    with tempfile.TemporaryDirectory(prefix="skmnist-serve-load-") as folder:
        model = args.model or train_model(folder, args.small)
        server = Server(model)
        print(f"server: {server.url} (pid {server.process.pid})", flush=True)
        runs, crashed = [], False
        try:
            for kind in args.bodies:
                run = measure(server, kind, digits, args)
                run["targets"] = targets(run, enforced=not args.small)
                runs.append(run)
                print(
                    f"{kind}: {run['throughput_rps']} req/s, p50 {run['p50_ms']} ms, "
                    f"p99 {run['p99_ms']} ms, {run['errors']} errors, "
                    f"{run['wrong_predictions']} wrong, mean batch {run['mean_batch']}",
                    flush=True,
                )
                if not server.alive():
                    crashed = True
                    break
        finally:
            crashed = crashed or not server.alive()
            exit_status = server.stop()
    report = {
        "command": shlex.join(["python", "benchmarks/serve_load.py", *sys.argv[1:]])
        if argv is None
        else shlex.join(["python", "benchmarks/serve_load.py", *argv]),
        "started": started.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - t0, 1),
        "settings": {
            "small": args.small,
            "requests": args.requests,
            "concurrency": args.concurrency,
            "bodies": args.bodies,
            "timeout_s": args.timeout,
            "warmup": args.warmup,
            "n_distinct_digits": N_DISTINCT,
            "model": args.model
            or (
                "784-64-64-10, 1 epoch on the packaged sample"
                if args.small
                else "784-512-512-10, 2 epochs on the packaged sample"
            ),
        },
        "machine": {
            **machine,
            "loadavg_end": [round(v, 2) for v in os.getloadavg()],
        },
        "server": {"crashed": crashed, "exit_status": exit_status},
        "targets": {"throughput_rps": TARGET_RPS, "p99_ms": TARGET_P99_MS},
        "runs": runs,
    }
    markdown = render_markdown(report)
    os.makedirs(args.out, exist_ok=True)
    stem = "serve_load" + ("_small" if args.small else "")
    with open(os.path.join(args.out, stem + ".json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, stem + ".md"), "w", encoding="utf-8") as f:
        f.write(markdown)
    print()
    print(markdown)
    failed = (
        crashed
        or any(
            r["errors"] or r["wrong_predictions"] or r["warmup_errors"] for r in runs
        )
        or len(runs) < len(args.bodies)
    )
    if failed:
        return 1
    if args.strict and not args.small:
        if not all(r["targets"]["throughput"] and r["targets"]["p99"] for r in runs):
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
