"""Benchmark skmnist against the Keras tutorial, scikit-learn and the JAX backend.

Usage::

    python benchmarks/run.py            # full: 60,000 images, 20 epochs, 3 repeats
    python benchmarks/run.py --small    # smoke test: 2,000 images, 1 epoch, 1 repeat
    python benchmarks/run.py --contenders a,b --epochs 5 --out /tmp/bench

Contenders (each fit in its own fresh process, alternated a b c d a b c d ...):

(a) the Keras MNIST tutorial in plain Keras on TensorFlow;
(b) ``skmnist.make_mnist_pipeline(random_state=seed)`` with skmnist's defaults;
(c) scikit-learn's ``MLPClassifier`` with the same architecture;
(d) (b) on the JAX backend, when jax is installed.

Probes, also in fresh processes, in every repetition: TensorFlow's float32 GEMM
rate (the ceiling the fit times are compared with), ``import skmnist`` and a warm
``fetch_mnist``. Writes ``latest.json`` and ``latest.md`` into ``--out``
(``benchmarks/results``) and prints the Markdown table.

Exit status: 0, or 1 if a measurement crashed; with ``--strict``, 2 if a target
failed at full size. See benchmarks/README.md.
"""

import argparse
import datetime
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CONTENDER_SCRIPT = os.path.join(HERE, "_contender.py")
sys.path.insert(0, HERE)

import _report  # noqa: E402

ALL_CONTENDERS = ("a", "b", "c", "d")

# Size presets; the command line overrides single values.
SIZES = {
    "full": {
        "n_train": None,
        "n_test": None,
        "epochs": None,
        "repeats": 3,
        "gemm_size": 4096,
        "gemm_warmup": 2,
        "gemm_runs": 5,
        "fetch_runs": 5,
        "import_runs": 3,
        "timeout": 3600,
    },
    "small": {
        "n_train": 2000,
        "n_test": 2000,
        "epochs": 1,
        "repeats": 1,
        "gemm_size": 1024,
        "gemm_warmup": 1,
        "gemm_runs": 3,
        "fetch_runs": 3,
        "import_runs": 1,
        "timeout": 600,
    },
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--size",
        choices=sorted(SIZES),
        default="full",
        help="full (the issue's targets) or small (a CI smoke test)",
    )
    parser.add_argument(
        "--small", dest="size", action="store_const", const="small", help="--size small"
    )
    parser.add_argument(
        "--contenders",
        default=",".join(ALL_CONTENDERS),
        help="comma-separated subset of a,b,c,d (default: all; d only with jax)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        help="epochs for every contender (default: 20 at full size, 1 small; "
        "at full size (b) and (d) keep skmnist's default unless this is given)",
    )
    parser.add_argument("--repeats", type=int, help="repetitions (3 full, 1 small)")
    parser.add_argument("--seed", type=int, default=0, help="seed of repetition 1")
    parser.add_argument("--n-train", type=int, help="first N training images")
    parser.add_argument("--n-test", type=int, help="first N test images")
    parser.add_argument("--hidden-size", type=int, help="hidden units (512)")
    parser.add_argument("--gemm-size", type=int, help="GEMM probe n (4096 full)")
    parser.add_argument(
        "--out",
        default=os.path.join(HERE, "results"),
        help="folder for latest.json and latest.md (benchmarks/results)",
    )
    parser.add_argument(
        "--timeout", type=float, help="seconds allowed per child process"
    )
    parser.add_argument(
        "--render",
        metavar="JSON",
        help="measure nothing: summarize the runs in an earlier latest.json again "
        "and write latest.json and latest.md into --out",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 2 when a target fails at full size",
    )
    args = parser.parse_args(argv)

    preset = SIZES[args.size]
    for key, value in preset.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    names = [n.strip() for n in args.contenders.split(",") if n.strip()]
    unknown = sorted(set(names) - set(ALL_CONTENDERS))
    if unknown or not names:
        parser.error(
            "--contenders takes a comma-separated subset of a,b,c,d; "
            f"got {args.contenders!r}"
        )
    args.contenders = [n for n in ALL_CONTENDERS if n in names]
    for key in ("repeats", "epochs", "n_train", "n_test", "hidden_size", "gemm_size"):
        value = getattr(args, key)
        if value is not None and value < 1:
            parser.error(f"--{key.replace('_', '-')} must be >= 1; got {value}")
    return args


def child_env(name):
    env = dict(os.environ)
    # Measure the skmnist next to this script, whatever is installed.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO, env.get("PYTHONPATH")) if p)
    env["KERAS_BACKEND"] = "jax" if name == "d" else "tensorflow"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def child_command(name, seed, args):
    cmd = [sys.executable, CONTENDER_SCRIPT, name, "--seed", str(seed)]
    if name in ALL_CONTENDERS:
        if args.epochs is not None:
            cmd += ["--epochs", str(args.epochs)]
        if args.n_train is not None:
            cmd += ["--n-train", str(args.n_train)]
        if args.n_test is not None:
            cmd += ["--n-test", str(args.n_test)]
        if args.hidden_size is not None:
            cmd += ["--hidden-size", str(args.hidden_size)]
    elif name == "gemm":
        cmd += [
            "--gemm-size",
            str(args.gemm_size),
            "--gemm-warmup",
            str(args.gemm_warmup),
            "--gemm-runs",
            str(args.gemm_runs),
        ]
    elif name == "fetch":
        cmd += ["--fetch-runs", str(args.fetch_runs)]
    return cmd


def source_digest():
    """SHA-256 of skmnist's Python sources: which code version a child measured.

    Other developers may edit skmnist while a long run is under way; the report
    says so when the digest changes between measurements.
    """
    digest = hashlib.sha256()
    package = os.path.join(REPO, "skmnist")
    for folder, dirs, files in sorted(os.walk(package)):
        dirs.sort()
        for file in sorted(files):
            if file.endswith(".py"):
                path = os.path.join(folder, file)
                digest.update(os.path.relpath(path, REPO).encode() + b"\0")
                with open(path, "rb") as f:
                    digest.update(f.read() + b"\0")
    return digest.hexdigest()[:12]


def run_child(name, seed, rep, args):
    """Run one measurement in a fresh process; return its result dict."""
    cmd = child_command(name, seed, args)
    base = {
        "name": name,
        "seed": seed,
        "rep": rep,
        "loadavg_before": _report.loadavg(),
        "skmnist_source": source_digest(),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
    }
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            cwd=REPO,
            env=child_env(name),
            capture_output=True,
            text=True,
            timeout=args.timeout,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if exc.stderr else ""
        return {
            **base,
            "ok": False,
            "error": f"timed out after {args.timeout} s",
            "stderr_tail": stderr[-3000:],
            "elapsed_s": time.perf_counter() - t0,
        }
    elapsed = time.perf_counter() - t0
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    result = None
    if proc.returncode == 0 and lines:
        try:
            result = json.loads(lines[-1])
        except json.JSONDecodeError:
            result = None
    if result is None:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        return {
            **base,
            "ok": False,
            "returncode": proc.returncode,
            "error": f"exit status {proc.returncode}: {tail[0][:300]}",
            "stderr_tail": proc.stderr[-3000:],
            "elapsed_s": elapsed,
        }
    result.update(base, elapsed_s=elapsed)
    return result


def describe(result):
    """One progress line for a finished child."""
    head = f"  {result['name']:<6} seed={result['seed']}"
    if not result.get("ok"):
        return f"{head}  FAILED: {result['error']}"
    name = result["name"]
    if name == "gemm":
        body = f"{result['gflops_best']:.1f} GFLOP/s at {result['size']}^3"
    elif name == "fetch":
        body = f"fetch {result['fetch_s']:.3f} s"
    elif name == "import":
        body = (
            f"import {1e3 * result['import_s']:.1f} ms, with "
            f"{', '.join(result['light_names'])} "
            f"{1e3 * result['import_light_s']:.1f} ms, tensorflow imported: "
            f"{result['tensorflow_imported']}"
        )
    else:
        body = (
            f"fit {result['fit_s']:.1f} s, acc {result['test_accuracy']:.4f}, "
            f"log loss {result['log_loss']:.4f}, predict {result['predict_s']:.3f} s, "
            f"RSS {result['peak_rss_bytes'] / 1e6:.0f} MB"
        )
    return f"{head}  {body}  ({result['elapsed_s']:.0f} s in all)"


def _write_atomic(path, text):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def write_outputs(report, out):
    """Write latest.json and latest.md into `out`; print the Markdown."""
    os.makedirs(out, exist_ok=True)
    text = _report.markdown(report)
    json_path = os.path.join(out, "latest.json")
    _write_atomic(json_path, json.dumps(report, indent=2) + "\n")
    _write_atomic(os.path.join(out, "latest.md"), text)
    print()
    print(text)
    print(f"Wrote {json_path} and latest.md.")


def render(path, out):
    """Summarize the raw runs of an earlier latest.json again and rewrite both files."""
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    report["summary"] = _report.summarize(
        report["runs"], report["config"]["contenders"]
    )
    report["targets"] = _report.evaluate_targets(
        report["summary"], enforced=report["config"]["size"] == "full"
    )
    write_outputs(report, out)
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.render is not None:
        return render(args.render, args.out)
    notes = []
    if "d" in args.contenders and importlib.util.find_spec("jax") is None:
        args.contenders.remove("d")
        notes.append("(d) skipped: jax is not installed.")
    if not os.environ.get("SKMNIST_DATA_HOME"):
        notes.append(
            "SKMNIST_DATA_HOME is not set: MNIST was read from (or downloaded to) "
            "fetch_mnist's default folder."
        )
    seeds = [args.seed + i for i in range(args.repeats)]
    order = ["import"] * args.import_runs + ["fetch", "gemm", *args.contenders]
    command = shlex.join(["python", "benchmarks/run.py", *argv])
    print(
        f"{command}: {args.size} size, {args.repeats} repetition(s), order per "
        f"repetition: {' '.join(order)}",
        flush=True,
    )

    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = _report.loadavg()
    runs = []
    for rep, seed in enumerate(seeds, start=1):
        print(f"repetition {rep}/{args.repeats} (seed {seed})", flush=True)
        for name in order:
            result = run_child(name, seed, rep, args)
            runs.append(result)
            print(describe(result), flush=True)
    load_end = _report.loadavg()
    summary = _report.summarize(runs, args.contenders)
    targets = _report.evaluate_targets(summary, enforced=args.size == "full")
    failures = [
        {"name": r["name"], "rep": r["rep"], "seed": r["seed"], "error": r["error"]}
        for r in runs
        if not r.get("ok")
    ]
    versions = {
        dist: _report.package_version(dist)
        for dist in ("skmnist", "tensorflow", "keras", "jax", "scikit-learn", "numpy")
    }
    versions = {"python": platform.python_version(), **versions}
    n_train_used = next(
        (
            r["n_fit_samples"] + r["n_val_samples"]
            for r in runs
            if r.get("ok") and "n_fit_samples" in r
        ),
        args.n_train,
    )
    report = {
        "schema": 1,
        "created": started.isoformat(timespec="seconds"),
        "duration_s": (
            datetime.datetime.now(datetime.timezone.utc) - started
        ).total_seconds(),
        "command": command,
        "ok": not failures,
        "config": {
            "size": args.size,
            "contenders": args.contenders,
            "order": order,
            "repeats": args.repeats,
            "seeds": seeds,
            "epochs": args.epochs,
            "n_train": args.n_train,
            "n_test": args.n_test,
            "n_train_used": n_train_used or 0,
            "n_test_used": args.n_test or 10000,
            "hidden_size": args.hidden_size,
            "gemm_size": args.gemm_size,
            "gemm_warmup": args.gemm_warmup,
            "gemm_runs": args.gemm_runs,
            "fetch_runs": args.fetch_runs,
            "import_runs_per_repetition": args.import_runs,
            "data_home": os.environ.get("SKMNIST_DATA_HOME"),
        },
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "loadavg_start": load_start,
            "loadavg_end": load_end,
            "versions": versions,
        },
        "summary": summary,
        "targets": targets,
        "failures": failures,
        "notes": notes,
        "runs": runs,
    }
    write_outputs(report, args.out)

    if failures:
        return 1
    if (
        args.strict
        and args.size == "full"
        and any(t["passed"] is False for t in targets)
    ):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
