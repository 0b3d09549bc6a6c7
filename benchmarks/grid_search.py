"""A realistic grid search on real MNIST: skmnist with n_jobs=1 and 2, and a plain
scikeras KerasClassifier of the same network.

    python benchmarks/grid_search.py            # 12 candidates x cv=3, 10,000 images
    python benchmarks/grid_search.py --small    # smoke test: 4 candidates, 600 images

Each configuration in a fresh process. See benchmarks/README.md.
"""

import json
import os
import sys
import tempfile
import time

from sklearn.base import BaseEstimator, TransformerMixin

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

MEMORY = ("rss_first_mb", "rss_last_mb", "peak_first_mb", "peak_last_mb")
CONFIGS = {"skmnist-1": 1, "skmnist-2": 2, "scikeras-1": 1, "scikeras-2": 2}
SIZES = {
    "full": {"hidden_size": [64, 128, 256, 512], "epochs": [5, 10, 20], "cv": 3}
    | {"n_train": 10_000, "n_test": 10_000},
    "small": {"hidden_size": [16, 32], "epochs": [1, 2], "cv": 2}
    | {"n_train": 600, "n_test": 500},
}

# -- in the child process: one grid search ---------------------------------------


class MemoryLog(TransformerMixin, BaseEstimator):
    """Pass-through step: appends (pid, event, VmRSS MB, VmHWM MB) to ``path``."""

    def __init__(self, path=None):
        self.path = path

    def _log(self, event):
        with open("/proc/self/status") as f:
            status = dict(line.split(":", 1) for line in f)
        mb = [int(status[k].split()[0]) * 1024 / 1e6 for k in ("VmRSS", "VmHWM")]
        with open(self.path, "a") as f:
            f.write(json.dumps([os.getpid(), event, *mb]) + "\n")

    def fit(self, X, y=None):
        self._log("fit")
        return self

    def fit_transform(self, X, y=None):
        self.fit(X, y)
        return X

    def transform(self, X):
        self._log("score")
        return X


def build_network(hidden_size):
    """The model-building function a scikeras user writes: the tutorial's MLP."""
    return _common.tutorial_mlp(hidden_size)


def make_search(library, seed, log, cfg):
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    if library == "skmnist":
        from skmnist import make_mnist_pipeline

        steps, hidden = make_mnist_pipeline(random_state=seed).steps, "hidden_size"
    else:
        from scikeras.wrappers import KerasClassifier

        clf = KerasClassifier(
            model=build_network,
            model__hidden_size=512,
            epochs=20,
            batch_size=128,
            validation_split=0.1,
            random_state=seed,
            verbose=0,
        )
        steps = [("flatten", FunctionTransformer(_common.scale)), ("mlp", clf)]
        hidden = "model__hidden_size"
    grid = {f"mlp__{hidden}": cfg["hidden_size"], "mlp__epochs": cfg["epochs"]}
    pipe = Pipeline([("rss", MemoryLog(log)), *steps])
    return GridSearchCV(pipe, grid, cv=cfg["cv"], n_jobs=cfg["n_jobs"])


def measure(cfg):
    X, y, X_test, y_test = _common.mnist(cfg["n_train"], cfg["n_test"])
    library = cfg["name"].split("-")[0]
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "memory.jsonl")
        search = make_search(library, cfg["seed"], log, cfg)  # imports Keras here
        t0 = time.perf_counter()
        search.fit(X, y)
        wall_s = time.perf_counter() - t0
        test_accuracy = float(search.score(X_test, y_test))
        with open(log) as f:
            records = [json.loads(line) for line in f]
    workers = {}
    for pid, event, rss, peak in records:
        workers.setdefault(pid, []).append((event, rss, peak))
    memory = []
    for pid, log in workers.items():
        first = next((r for r in log if r[0] == "score"), log[0])  # after a fit
        memory.append(
            {
                "pid": pid,
                "fits": sum(r[0] == "fit" for r in log),
                "rss_first_mb": first[1],
                "rss_last_mb": log[-1][1],
                "peak_first_mb": first[2],
                "peak_last_mb": log[-1][2],
            }
        )
    best = {k.split("__")[-1]: v for k, v in search.best_params_.items()}
    return {
        "wall_s": wall_s,
        "n_candidates": len(search.cv_results_["params"]),
        "best_params": best,
        "best_cv_accuracy": float(search.best_score_),
        "cv_accuracy": [float(s) for s in search.cv_results_["mean_test_score"]],
        "test_accuracy": test_accuracy,
        "workers": memory,
    }


# -- in the parent ---------------------------------------------------------------


def summarize(runs, names):
    summary = {}
    for name in names:
        mine = [r for r in runs if r["name"] == name and r.get("ok")]
        if not mine:
            summary[name] = None
            continue
        workers = [w for r in mine for w in r["workers"]]
        summary[name] = {
            "wall_s": _common.median([r["wall_s"] for r in mine]),
            "wall_s_runs": [r["wall_s"] for r in mine],
            "test_accuracy": _common.median([r["test_accuracy"] for r in mine]),
            "best_params": mine[0]["best_params"],
            "best_cv_accuracy": mine[0]["best_cv_accuracy"],
            "noise_lines": max(r["noise_lines"] for r in mine),
            "stderr_lines": max(r["stderr_lines"] for r in mine),
            "n_processes": len(mine[0]["workers"]),
            **{key: max(w[key] for w in workers) for key in MEMORY},
        }
    return summary


def targets(summary, enforced):
    one, two, scikeras = (summary.get(k) for k in list(CONFIGS)[:3])
    ratio = gap = speedup = None
    if one and scikeras:
        ratio = one["wall_s"] / scikeras["wall_s"]
        gap = abs(one["test_accuracy"] - scikeras["test_accuracy"])
    if one and two:
        speedup = one["wall_s"] / two["wall_s"]
    noise = [s["noise_lines"] for s in (one, two) if s]
    rows = [
        ("wall_ratio", "wall time, skmnist n_jobs=1 / scikeras", ratio, "<=", 0.6),
        ("accuracy_gap", "test accuracy, skmnist vs scikeras, gap", gap, "<=", 0.003),
        ("speedup_njobs", "speed-up, skmnist n_jobs=2 over 1", speedup, ">=", 1.3),
        ("noise_lines", "TensorFlow/absl/Keras lines on stderr, skmnist")
        + (sum(noise) if noise else None, "==", 0),
    ]
    return _common.judge(rows, enforced)


def markdown(report):
    cfg, rows = report["config"], []
    for name, s in report["summary"].items():
        if s is None:
            rows.append([name, "failed", *[""] * 7])
            continue
        rows.append(
            [
                name,
                f"{s['wall_s']:.1f}",
                ", ".join(f"{k} {v}" for k, v in s["best_params"].items()),
                f"{s['best_cv_accuracy']:.4f}",
                f"{s['test_accuracy']:.4f}",
                str(s["n_processes"]),
                f"{s['rss_first_mb']:.0f} -> {s['rss_last_mb']:.0f}",
                f"{s['peak_first_mb']:.0f} -> {s['peak_last_mb']:.0f}",
                f"{s['noise_lines']} / {s['stderr_lines']}",
            ]
        )
    header = ["configuration", "wall s", "best candidate", "best CV acc", "test acc"]
    header += ["processes", "RSS MB, first -> last", "peak RSS MB, first -> last"]
    header += ["noise / stderr lines"]
    lines = _common.head(
        report,
        "Grid search",
        f"`GridSearchCV` over hidden_size {cfg['hidden_size']} x epochs "
        f"{cfg['epochs']}, cv={cfg['cv']}, on the first {cfg['n_train']:,} MNIST "
        f"training images, refitted, scored on {cfg['n_test']:,} test images; seed "
        f"{cfg['seed']}; {cfg['repeats']} fresh process(es) per configuration.",
    )
    lines += [
        _common.table(header, rows),
        "",
        "*noise*: stderr lines of TensorFlow, absl, XLA or Keras, workers' included, "
        "with `TF_CPP_MIN_LOG_LEVEL` unset. Columns: benchmarks/README.md.",
    ]
    return "\n".join(lines + _common.tail(report)) + "\n"


def main(argv=None):
    parser = _common.parser(__doc__)
    parser.add_argument("--configs", default="skmnist-1,skmnist-2,scikeras-1")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    names = _common.names(parser, args.configs, CONFIGS, "--configs")
    size = "small" if args.small else "full"
    cfg = {"size": size, **SIZES[size], "seed": args.seed, "repeats": args.repeats}
    report, t0 = _common.start(__file__, argv)
    runs = []
    for _ in range(args.repeats):
        for name in names:
            child = {**cfg, "name": name, "n_jobs": CONFIGS[name]}
            r = {**_common.fresh(__file__, child, None, args.timeout), "name": name}
            runs.append(r)
            print(
                f"  {name:<10} {r['wall_s']:.1f} s, best {r['best_params']}, test acc "
                f"{r['test_accuracy']:.4f}, {r['noise_lines']} noise lines"
                if r.get("ok")
                else f"  {name:<10} FAILED: {r['error']}",
                flush=True,
            )
    summary = summarize(runs, names)
    report.update(config={**cfg, "configs": names}, summary=summary, runs=runs)
    report["targets"] = targets(summary, enforced=not args.small)
    stem = "grid_search_small" if args.small else "grid_search"
    return _common.finish(report, t0, args.out, stem, markdown)


if __name__ == "__main__":
    _common.entry(main, measure)
