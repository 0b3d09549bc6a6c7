"""Time a GridSearchCV of skmnist's pipeline with n_jobs=1 and with n_jobs=2.

Usage::

    python benchmarks/grid_search_njobs.py            # 10,000 real MNIST images
    python benchmarks/grid_search_njobs.py --small    # smoke test, about a minute
    python benchmarks/grid_search_njobs.py --repeats 5 --n-train 20000

The search is ``GridSearchCV(make_mnist_pipeline(random_state=seed), grid, cv=2,
refit=False)`` over ``mlp__hidden_size x mlp__epochs`` (4 candidates, so 8 fits)
on the first ``--n-train`` MNIST training images, run with ``n_jobs=1`` (every
fit in this process, TensorFlow with its default thread pools) and ``n_jobs=2``
(joblib's default loky backend: two worker processes, whose ``OMP_NUM_THREADS``
joblib sets to cpu_count // 2 and which skmnist passes on to TensorFlow). The two
settings alternate, 1 2 1 2 ..., so that a machine that gets busier or quieter
hits both alike; the report gives the median wall time of each and the speed-up
(median n_jobs=1 time / median n_jobs=2 time, and the median of the per-repeat
ratios).

The loky workers are started (and TensorFlow imported in them) before the timed
runs, by a probe that also reads TensorFlow's thread settings in the workers;
that start-up cost is reported separately (``worker_start_s``): a user pays it
once per session, on the first parallel search. While each search runs, a
sampler reads ``/proc`` every 0.2 s and records how many threads of this process
and of the workers are running, and how many threads the whole machine has
running (other users included), to tell oversubscription from a busy machine.

Writes ``grid_search_njobs.json`` (everything, raw runs included) and
``grid_search_njobs.md`` into ``--out`` (``benchmarks/results``), or
``grid_search_njobs_small.*`` with ``--small``, and prints the Markdown.

The issue's target: on a 2-core machine n_jobs=2 is not slower than n_jobs=1
(speed-up >= 1.0); the aim is 1.3. Exit status 0; with ``--strict``, 2 if the
speed-up is below 1.0 at full size.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
# Measure the skmnist next to this script, whatever is installed; loky's workers
# inherit sys.path.
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import _report  # noqa: E402  (benchmarks/ is sys.path[0] for this script)
import joblib  # noqa: E402
import numpy as np  # noqa: E402

TARGET_SPEEDUP = 1.0
AIM_SPEEDUP = 1.3

SIZES = {
    "full": {
        "n_train": 10_000,
        "hidden_sizes": "128,512",
        "epochs": "10,20",
        "repeats": 3,
    },
    "small": {
        "n_train": 1_000,
        "hidden_sizes": "16,32",
        "epochs": "1,2",
        "repeats": 1,
    },
}


def _int_list(text):
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected integers >= 1, got {text!r}")
    return values


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--size", choices=sorted(SIZES), default="full", help="full or small"
    )
    parser.add_argument(
        "--small", dest="size", action="store_const", const="small", help="--size small"
    )
    parser.add_argument("--n-train", type=int, help="first N training images")
    parser.add_argument(
        "--hidden-sizes", help="comma-separated mlp__hidden_size values (128,512)"
    )
    parser.add_argument("--epochs", help="comma-separated mlp__epochs values (10,20)")
    parser.add_argument("--cv", type=int, default=2, help="number of folds (2)")
    parser.add_argument(
        "--repeats", type=int, help="pairs of runs n_jobs=1, n_jobs=2 (3; 1 small)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random_state (0)")
    parser.add_argument(
        "--out",
        default=os.path.join(HERE, "results"),
        help="folder for the JSON and Markdown results (benchmarks/results)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 2 when n_jobs=2 is slower than n_jobs=1 (full size)",
    )
    args = parser.parse_args(argv)
    for key, value in SIZES[args.size].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    try:
        args.hidden_sizes = _int_list(str(args.hidden_sizes))
        args.epochs = _int_list(str(args.epochs))
    except (ValueError, argparse.ArgumentTypeError) as exc:
        parser.error(f"--hidden-sizes and --epochs: {exc}")
    for key in ("n_train", "repeats"):
        if getattr(args, key) < 1:
            parser.error(f"--{key.replace('_', '-')} must be >= 1")
    if args.cv < 2:
        parser.error("--cv must be >= 2")
    return args


# -- watching threads ------------------------------------------------------------


def _thread_states(pid):
    """(number of threads, number running) of process `pid`, from /proc."""
    running = total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0, 0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        total += 1
        # The state follows the command name, which is in parentheses.
        if stat[stat.rindex(")") + 2] == "R":
            running += 1
    return total, running


def _procs_running():
    """Threads running or runnable on the whole machine (/proc/stat)."""
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("procs_running"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _children(pid):
    """Process ids of the children of process `pid` (loky's workers among them)."""
    children = set()
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return children
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                children.update(int(child) for child in f.read().split())
        except OSError:
            continue
    return children


class ThreadSampler:
    """Samples, every `interval` s, the threads of this process, its children
    (loky's workers) and the whole machine, from /proc (Linux only)."""

    def __init__(self, interval=0.2):
        self.interval = interval
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        me = os.getpid()
        while not self._stop.wait(self.interval):
            pids = [me, *sorted(_children(me))]
            states = {pid: _thread_states(pid) for pid in pids}
            self.samples.append((states, _procs_running()))

    def __enter__(self):
        if os.path.isdir("/proc/self/task"):
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def summary(self):
        if not self.samples:
            return None
        ours = [sum(r for _, r in states.values()) for states, _ in self.samples]
        machine = [m for _, m in self.samples if m is not None]
        pids = sorted({pid for states, _ in self.samples for pid in states})
        per_pid = {}
        for pid in pids:
            seen = [states[pid] for states, _ in self.samples if pid in states]
            per_pid[str(pid)] = {
                "threads_max": max(total for total, _ in seen),
                "running_mean": round(statistics.fmean(r for _, r in seen), 2),
            }
        return {
            "samples": len(self.samples),
            # Our threads running at once (this process and its children, loky's
            # workers); minus the sampler itself, running while it reads /proc.
            "ours_running_mean": round(statistics.fmean(ours) - 1, 2),
            "ours_running_max": max(ours) - 1,
            # All threads running on the machine (others' included, ours too).
            "machine_running_mean": (
                round(statistics.fmean(machine), 2) if machine else None
            ),
            "per_process": per_pid,
        }


# -- the measurements --------------------------------------------------------------


def _worker_probe(seconds):
    """In a loky worker: start TensorFlow as a fit does, report its thread pools."""
    from skmnist import MNISTClassifier, load_mnist_sample

    X, y = load_mnist_sample(return_X_y=True)
    X = X[:200].reshape(200, -1) / 255.0
    MNISTClassifier(hidden_size=8, epochs=1, random_state=0).fit(X, y[:200])
    import tensorflow as tf

    time.sleep(seconds)  # keeps this worker busy so that the next task starts another
    return {
        "pid": os.getpid(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def start_workers(n_jobs):
    """Start joblib's loky workers for `n_jobs` (as GridSearchCV will use them)."""
    start = time.perf_counter()
    reports = joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(_worker_probe)(1.0) for _ in range(2 * n_jobs)
    )
    elapsed = time.perf_counter() - start
    workers = {}
    for report in reports:
        workers[report.pop("pid")] = report
    return elapsed, workers


def parent_threads():
    import tensorflow as tf

    return {
        "pid": os.getpid(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def time_search(X, y, n_jobs, args):
    from sklearn.model_selection import GridSearchCV

    from skmnist import make_mnist_pipeline

    search = GridSearchCV(
        make_mnist_pipeline(random_state=args.seed),
        {"mlp__hidden_size": args.hidden_sizes, "mlp__epochs": args.epochs},
        cv=args.cv,
        refit=False,
        n_jobs=n_jobs,
    )
    load = _report.loadavg()
    with ThreadSampler() as sampler:
        start = time.perf_counter()
        search.fit(X, y)
        wall = time.perf_counter() - start
    results = search.cv_results_
    fit_times = np.asarray(results["mean_fit_time"]) * args.cv
    score_times = np.asarray(results["mean_score_time"]) * args.cv
    return {
        "n_jobs": n_jobs,
        "wall_s": wall,
        # Time spent in fit and score calls, summed over the fits: over wall_s,
        # how many fits ran at once on average (plus joblib's overhead).
        "sum_fit_s": float(fit_times.sum()),
        "sum_score_s": float(score_times.sum()),
        "fit_s_per_candidate": [round(float(t) / args.cv, 3) for t in fit_times],
        "mean_test_score": [float(s) for s in results["mean_test_score"]],
        "best_params": search.best_params_,
        "loadavg_before": load,
        "threads": sampler.summary(),
        # This process's children after the run: loky's workers (and its resource
        # tracker); a pid not among the probed workers means loky replaced one.
        "children_after": sorted(_children(os.getpid())),
    }


# -- reporting -------------------------------------------------------------------


def summarize(runs):
    walls = {n: [r["wall_s"] for r in runs if r["n_jobs"] == n] for n in (1, 2)}
    medians = {n: statistics.median(w) for n, w in walls.items()}
    pairs = [
        a["wall_s"] / b["wall_s"]
        for a, b in zip(
            [r for r in runs if r["n_jobs"] == 1],
            [r for r in runs if r["n_jobs"] == 2],
            strict=True,
        )
    ]
    speedup = medians[1] / medians[2]
    scores = {
        n: [r["mean_test_score"] for r in runs if r["n_jobs"] == n] for n in (1, 2)
    }
    reference = scores[1][0]
    return {
        "median_wall_s": {str(n): round(m, 2) for n, m in medians.items()},
        "speedup": round(speedup, 3),
        "paired_speedups": [round(p, 3) for p in pairs],
        "median_paired_speedup": round(statistics.median(pairs), 3),
        "target_speedup": TARGET_SPEEDUP,
        "aim_speedup": AIM_SPEEDUP,
        "target_met": speedup >= TARGET_SPEEDUP,
        "aim_met": speedup >= AIM_SPEEDUP,
        # Seeded fits give the same scores wherever they run.
        "same_scores": all(
            np.allclose(s, reference, rtol=1e-5, atol=0)
            for n in (1, 2)
            for s in scores[n]
        ),
    }


def _fmt_threads(run):
    threads = run["threads"]
    if threads is None:
        return "n/a", "n/a"
    machine = threads["machine_running_mean"]
    return f"{threads['ours_running_mean']:.2f}", (
        "n/a" if machine is None else f"{machine:.2f}"
    )


def render_markdown(report):
    config, summary = report["config"], report["summary"]
    machine = report["machine"]
    lines = [
        "# GridSearchCV: n_jobs=1 vs n_jobs=2",
        "",
        f"{config['n_candidates']} candidates (mlp__hidden_size "
        f"{config['hidden_sizes']} x mlp__epochs {config['epochs']}) x "
        f"cv={config['cv']} = {config['n_fits']} fits, refit=False, on the first "
        f"{config['n_train']:,} MNIST training images; "
        f"{config['repeats']} repeat(s), n_jobs alternating 1 2 1 2 ...; "
        f"{machine['cpu_count']} cores (joblib.cpu_count()), load average "
        f"{machine['loadavg_start']} at the start, {machine['loadavg_end']} at the "
        "end.",
        "",
        "| n_jobs | wall time per run (s) | median (s) | sum of fit times (s) "
        "| our threads running | machine threads running |",
        "|--:|:--|--:|--:|--:|--:|",
    ]
    for n_jobs in (1, 2):
        runs = [r for r in report["runs"] if r["n_jobs"] == n_jobs]
        walls = ", ".join(f"{r['wall_s']:.1f}" for r in runs)
        fits = ", ".join(f"{r['sum_fit_s']:.1f}" for r in runs)
        ours = ", ".join(_fmt_threads(r)[0] for r in runs)
        theirs = ", ".join(_fmt_threads(r)[1] for r in runs)
        lines.append(
            f"| {n_jobs} | {walls} | {summary['median_wall_s'][str(n_jobs)]:.1f} "
            f"| {fits} | {ours} | {theirs} |"
        )
    verdict = (
        ("met" if summary["target_met"] else "**not met**")
        + f" (target >= {TARGET_SPEEDUP}, aim {AIM_SPEEDUP}: "
        + ("reached)" if summary["aim_met"] else "not reached)")
    )
    threads = report["threads_config"]
    workers = ", ".join(
        f"intra-op {w['intra_op']}, inter-op {w['inter_op']}, "
        f"OMP_NUM_THREADS={w['OMP_NUM_THREADS']}"
        for w in threads["workers"].values()
    )
    parent = threads["parent"]
    lines += [
        "",
        f"**Speed-up** (median n_jobs=1 / median n_jobs=2): "
        f"**{summary['speedup']:.2f}x**, {verdict}; per repeat: "
        + ", ".join(f"{p:.2f}" for p in summary["paired_speedups"])
        + f" (median {summary['median_paired_speedup']:.2f}).",
        "",
        f"Same scores with n_jobs=1 and 2: {summary['same_scores']}. Starting the "
        f"{len(threads['workers'])} loky workers (TensorFlow import and a first "
        f"fit, not in the times above): {report['worker_start_s']:.1f} s.",
        "",
        f"TensorFlow threads: parent intra-op {parent['intra_op']} (0 = one per "
        f"core), inter-op {parent['inter_op']}, "
        f"OMP_NUM_THREADS={parent['OMP_NUM_THREADS']}; workers: {workers}.",
        "",
        "*Sum of fit times* adds each fit's own duration: over the wall time it "
        "says how many fits ran at once. *Our threads running*: mean number of "
        "threads of this process and the workers that were running at a sample "
        "(every 0.2 s); *machine threads running*: the same for the whole machine "
        "(`procs_running`), other users included. The machine is shared, so "
        "absolute times are noisy: read the per-repeat ratios.",
        "",
    ]
    return "\n".join(lines)


def _write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None):
    args = parse_args(argv)
    from skmnist import fetch_mnist

    X, y = fetch_mnist(subset="train", return_X_y=True)
    X, y = X[: args.n_train], y[: args.n_train]
    n_candidates = len(args.hidden_sizes) * len(args.epochs)
    print(
        f"GridSearchCV: {n_candidates} candidates x cv={args.cv} = "
        f"{n_candidates * args.cv} fits on {len(X):,} images, "
        f"{args.repeats} repeat(s) of n_jobs=1, n_jobs=2",
        flush=True,
    )
    load_start = _report.loadavg()
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

    # Start TensorFlow here, and the loky workers, before anything is timed.
    from skmnist import MNISTClassifier

    X_small = X[:200].reshape(200, -1) / 255.0
    MNISTClassifier(hidden_size=8, epochs=1, random_state=0).fit(X_small, y[:200])
    worker_start_s, workers = start_workers(2)
    print(
        f"loky workers started in {worker_start_s:.1f} s: {len(workers)} worker(s), "
        + "; ".join(
            f"intra-op {w['intra_op']} OMP_NUM_THREADS={w['OMP_NUM_THREADS']}"
            for w in workers.values()
        ),
        flush=True,
    )

    runs = []
    for repeat in range(args.repeats):
        for n_jobs in (1, 2):
            run = time_search(X, y, n_jobs, args)
            run["repeat"] = repeat
            runs.append(run)
            ours, theirs = _fmt_threads(run)
            print(
                f"repeat {repeat + 1}/{args.repeats} n_jobs={n_jobs}: "
                f"{run['wall_s']:.1f} s (fits {run['sum_fit_s']:.1f} s; threads "
                f"running: ours {ours}, machine {theirs}; load "
                f"{run['loadavg_before']})",
                flush=True,
            )

    report = {
        "benchmark": "grid_search_njobs",
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "started": started,
        "config": {
            "size": args.size,
            "n_train": len(X),
            "hidden_sizes": args.hidden_sizes,
            "epochs": args.epochs,
            "cv": args.cv,
            "n_candidates": n_candidates,
            "n_fits": n_candidates * args.cv,
            "refit": False,
            "repeats": args.repeats,
            "seed": args.seed,
            "backend": "loky",
        },
        "machine": {
            "cpu_count": joblib.cpu_count(),
            "os_cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_start": load_start,
            "loadavg_end": _report.loadavg(),
            "versions": {
                dist: _report.package_version(dist)
                for dist in ("tensorflow", "keras", "scikit-learn", "joblib")
            },
        },
        "worker_start_s": worker_start_s,
        "threads_config": {
            "parent": parent_threads(),
            "workers": {str(pid): w for pid, w in workers.items()},
        },
        "runs": runs,
        "summary": summarize(runs),
    }
    markdown = render_markdown(report)
    os.makedirs(args.out, exist_ok=True)
    stem = "grid_search_njobs" + ("_small" if args.size == "small" else "")
    _write(os.path.join(args.out, stem + ".json"), json.dumps(report, indent=2) + "\n")
    _write(os.path.join(args.out, stem + ".md"), markdown)
    print()
    print(markdown)
    if args.strict and args.size == "full" and not report["summary"]["target_met"]:
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
