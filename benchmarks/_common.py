"""What the benchmarks share: the machine, fresh processes, result files, tables.

Each benchmark script runs its measurements as ``python SCRIPT --child JSON`` in
fresh processes (:func:`fresh`, :func:`child`): the Keras backend is chosen before
Keras is imported, memory and compiled code are the measurement's own, and its
stderr is counted. Linux only (``/proc``).
"""

import argparse
import datetime
import importlib.metadata
import json
import operator
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
PACKAGES = ("skmnist", "tensorflow", "keras", "jax", "jaxlib", "scikeras")
PACKAGES += ("scikit-learn", "numpy", "starlette", "uvicorn")
# Lines of TensorFlow, absl, XLA or Keras on stderr: the noise a user sees.
NOISE = re.compile(
    r"tensorflow|absl|keras|xla|onednn|cuda|cuinit|retracing|^[IWEF]\d{4} ", re.I
)


def cpu():
    """The CPU's model name and its flags that matter for speed."""
    model, flags = platform.processor() or platform.machine(), []
    try:
        with open("/proc/cpuinfo") as f:
            info = dict(line.split(":", 1) for line in f if ":" in line)
    except OSError:
        return model, flags
    info = {key.strip(): value.strip() for key, value in info.items()}
    flags = [
        flag
        for flag in sorted(info.get("flags", "").split())
        if flag in ("avx", "avx2", "fma") or flag.startswith(("avx512", "amx"))
    ]
    return info.get("model name", model), flags


def loadavg():
    """The 1, 5 and 15 minute load averages."""
    return [round(v, 2) for v in os.getloadavg()]


def machine():
    """The machine block of every result file."""
    model, flags = cpu()
    versions = {"python": platform.python_version()}
    for dist in PACKAGES:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    env = ("OMP_NUM_THREADS", "XLA_FLAGS", "TF_XLA_FLAGS", "OPENBLAS_CORETYPE")
    return {
        "cpu_model": model,
        "cpu_flags": flags,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        "loadavg": loadavg(),
        "environment": {k: os.environ[k] for k in env if k in os.environ},
        "versions": versions,
    }


def machine_text(m):
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
    end = f" at the start, {m['loadavg_end']} at the end" if "loadavg_end" in m else ""
    return (
        f"Machine: {m['cpu_model']}, {m['cpus_usable']} of {m['cpu_count']} CPUs "
        f"usable; speed flags: {' '.join(m['cpu_flags']) or 'none'}; "
        f"{m['platform']}; load average {m['loadavg']}{end}. {versions}."
    )


def now():
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def rss_mb():
    """This process's resident memory now, in MB (10^6 bytes)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def mnist(n_train, n_test):
    """The first ``n_train`` training and ``n_test`` test images of real MNIST."""
    from skmnist import fetch_mnist

    X, y = fetch_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_mnist(subset="test", return_X_y=True)
    return X[:n_train], y[:n_train], X_test[:n_test], y_test[:n_test]


def scale(images):
    """The tutorial's preprocessing: flatten, float32, divide by 255."""
    return images.reshape(len(images), -1).astype("float32") / 255


def tutorial_mlp(hidden_size=512, loss="sparse_categorical_crossentropy"):
    """The Keras tutorial's network, compiled as it compiles it (Adam at 1e-3)."""
    import keras

    layers = [keras.Input(shape=(784,))]
    layers += [keras.layers.Dense(hidden_size, activation="relu") for _ in "12"]
    model = keras.Sequential([*layers, keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    return model


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def mean(values):
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def fresh(script, config, backend=None, timeout=None):
    """Run ``script --child config`` in a fresh Python; its result, with stderr counts.

    The child imports the skmnist next to ``benchmarks/``. ``TF_CPP_MIN_LOG_LEVEL``
    is unset, so that TensorFlow's log lines are what a user would see.
    """
    env = dict(os.environ, KERAS_BACKEND=backend or "tensorflow")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO, env.get("PYTHONPATH")) if p)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    cmd = [sys.executable, script, "--child", json.dumps(config)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
        )
        stdout, stderr, error = proc.stdout, proc.stderr, f"exit {proc.returncode}"
    except subprocess.TimeoutExpired as exc:
        stdout, stderr = "", exc.stderr or b""
        stderr = (
            stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
        )
        error = f"timed out after {timeout} s"
    lines = stderr.splitlines()
    noise = [line for line in lines if NOISE.search(line)]
    stats = {
        "elapsed_s": time.perf_counter() - t0,
        "stderr_lines": len(lines),
        "noise_lines": len(noise),
        "noise_sample": noise[:10],
    }
    try:
        return {**json.loads(stdout.splitlines()[-1]), **stats}
    except (IndexError, ValueError):
        last = next((x for x in reversed(lines) if x.strip()), "no output")[:300]
        tail = stderr[-3000:]
        return {"ok": False, "error": f"{error}: {last}", "stderr_tail": tail, **stats}


def child(measure):
    """In a child of :func:`fresh`: print ``measure(config)`` as one JSON line.

    Whatever the measured code prints goes to stderr; stdout holds the result.
    """
    config = json.loads(sys.argv[2])
    sys.stdout.flush()
    result_fd = os.dup(1)
    os.dup2(2, 1)
    result = measure(config)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    result.update(ok=True, pid=os.getpid(), peak_rss_mb=peak)
    sys.stdout.flush()
    os.write(result_fd, (json.dumps(result) + "\n").encode())


def table(header, rows):
    """A Markdown table: the first column left-aligned, the others right."""
    align = [":--"] + ["--:"] * (len(header) - 1)
    lines = [f"| {' | '.join(header)} |", f"|{'|'.join(align)}|"]
    for row in rows:
        cells = ["n/a" if c is None else str(c) for c in row]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def judge(targets, enforced=True):
    """``(id, description, value, op, threshold)`` rows -> target records."""
    ops = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, "==": operator.eq}
    return [
        {
            "id": key,
            "description": text,
            "value": value,
            "required": f"{op} {threshold}",
            "passed": None if value is None else bool(ops[op](value, threshold)),
            "enforced": enforced,
        }
        for key, text, value, op, threshold in targets
    ]


def target_table(targets):
    rows = []
    for t in targets:
        result = {True: "PASS", False: "FAIL", None: "n/a"}[t["passed"]]
        if t["passed"] is not None and not t["enforced"]:
            result += " (not enforced)"
        rows.append([t["description"], fmt(t["value"], ".4g"), t["required"], result])
    return table(["target", "value", "required", "result"], rows)


def parser(doc):
    """An argument parser with the options every benchmark has."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="smoke-test size")
    parser.add_argument("--out", default=RESULTS, help="folder for the results")
    parser.add_argument("--timeout", type=float, default=3600, help="s per process")
    return parser


def names(parser, text, allowed, option):
    """The comma-separated names in ``text``, all among ``allowed``."""
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    if not chosen or set(chosen) - set(allowed):
        parser.error(f"{option} takes names among {', '.join(allowed)}; got {text!r}")
    return chosen


def start(script, argv):
    """Print what runs, and where; the report's first entries."""
    command = " ".join(["python", f"benchmarks/{os.path.basename(script)}", *argv])
    report = {"command": command, "created": now(), "machine": machine()}
    print(f"{command}\n{machine_text(report['machine'])}", flush=True)
    return report, time.perf_counter()


def finish(report, t0, out, stem, markdown):
    """Complete and write ``report``; the exit status: 1 if a measurement failed."""
    report["machine"]["loadavg_end"] = loadavg()
    report["duration_s"] = time.perf_counter() - t0
    report["failures"] = [
        {"name": r["name"], "seed": r.get("seed"), "error": r["error"]}
        for r in report["runs"]
        if not r.get("ok")
    ]
    write(out, stem, report, markdown(report))
    return 1 if report["failures"] else 0


def head(report, title, *paragraphs):
    """The opening lines of a Markdown report."""
    lines = [f"# {title} ({report['config']['size']} size)", ""]
    lines += [
        f"Command: `{report['command']}`, started {report['created']}, "
        f"{report['duration_s'] / 60:.1f} min.",
        "",
    ]
    for paragraph in (*paragraphs, machine_text(report["machine"])):
        lines += [paragraph, ""]
    return lines


def tail(report):
    """The closing lines of a Markdown report: targets and failures."""
    lines = ["", target_table(report["targets"])]
    if report["failures"]:
        lines += ["", "Failures:", ""]
        for f in report["failures"]:
            seed = "" if f["seed"] is None else f" (seed {f['seed']})"
            lines.append(f"- {f['name']}{seed}: {f['error']}")
    return lines


def entry(main, measure):
    """A benchmark script's entry point: the parent, or a child with ``--child``."""
    if sys.argv[1:2] == ["--child"]:
        child(measure)
    else:
        sys.exit(main())


def write(out, stem, report, markdown):
    """Write ``stem.json`` and ``stem.md`` into ``out`` atomically; print the table."""
    os.makedirs(out, exist_ok=True)
    for ext, text in (("json", json.dumps(report, indent=2) + "\n"), ("md", markdown)):
        path = os.path.join(out, f"{stem}.{ext}")
        with open(f"{path}.tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(f"{path}.tmp", path)
    print(f"\n{markdown}\nWrote {os.path.join(out, stem)}.json and .md", flush=True)
