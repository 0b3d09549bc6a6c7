"""A realistic grid search on real MNIST: skmnist with n_jobs=1 and 2, and a plain
scikeras KerasClassifier of the same network.

    python benchmarks/grid_search.py            # 12 candidates x cv=3, 10,000 images
    python benchmarks/grid_search.py --small    # smoke test: 4 candidates, 600 images
    python benchmarks/grid_search.py --resume   # resumable fits on vs off

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

# --resume: searches with resumable fits on and off, side by side (name -> config).
# "grid": the grid above; "epochs": a grid over epochs against its longest value
# alone; "halving": HalvingGridSearchCV with epochs as the resource.
RESUME = {
    "full": {
        "grid": {"n_train": 10_000, "hidden_size": [64, 128, 256, 512]}
        | {"epochs": [5, 10, 20], "cv": 3, "refit": True},
        "epochs": {"n_train": 9_000, "hidden_size": [128, 256], "epochs": [3, 6, 12]}
        | {"cv": 3, "refit": False},
        "halving": {"n_train": 10_000, "hidden_size": [64, 128, 256, 512]}
        | {"min_resources": 2, "max_resources": 18, "cv": 3, "refit": True},
    },
    "small": {
        "grid": {"n_train": 600, "hidden_size": [16, 32], "epochs": [1, 2]}
        | {"cv": 2, "refit": True},
        "epochs": {"n_train": 600, "hidden_size": [16], "epochs": [1, 2, 4]}
        | {"cv": 2, "refit": False},
        "halving": {"n_train": 600, "hidden_size": [8, 16, 32, 64]}
        | {"min_resources": 1, "max_resources": 9, "cv": 2, "refit": True},
    },
}
# Each run: (name, study, resumable, epochs override). Alternating on and off.
RESUME_RUNS = [
    ("grid-on", "grid", True, None),
    ("grid-off", "grid", False, None),
    ("epochs-all-on", "epochs", True, None),
    ("epochs-longest-on", "epochs", True, "longest"),
    ("epochs-all-off", "epochs", False, None),
    ("halving-on", "halving", True, None),
    ("halving-off", "halving", False, None),
]

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
    pipe = Pipeline([("rss", MemoryLog(log)), *steps])
    if cfg.get("search") == "halving":
        from sklearn.experimental import enable_halving_search_cv  # noqa: F401
        from sklearn.model_selection import HalvingGridSearchCV

        return HalvingGridSearchCV(
            pipe,
            {f"mlp__{hidden}": cfg["hidden_size"]},
            resource="mlp__epochs",
            min_resources=cfg["min_resources"],
            max_resources=cfg["max_resources"],
            factor=3,
            cv=cfg["cv"],
            refit=cfg.get("refit", True),
            random_state=seed,
            n_jobs=cfg["n_jobs"],
        )
    grid = {f"mlp__{hidden}": cfg["hidden_size"], "mlp__epochs": cfg["epochs"]}
    refit = cfg.get("refit", True)
    return GridSearchCV(pipe, grid, cv=cfg["cv"], refit=refit, n_jobs=cfg["n_jobs"])


def measure(cfg):
    X, y, X_test, y_test = _common.mnist(cfg["n_train"], cfg["n_test"])
    library = cfg["name"].split("-")[0]
    if "resumable" in cfg:
        library = "skmnist"
        from skmnist import set_resumable_fits

        set_resumable_fits(cfg["resumable"])
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "memory.jsonl")
        search = make_search(library, cfg["seed"], log, cfg)  # imports Keras here
        t0 = time.perf_counter()
        search.fit(X, y)
        wall_s = time.perf_counter() - t0
        refit = cfg.get("refit", True)
        test_accuracy = float(search.score(X_test, y_test)) if refit else None
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
    results = search.cv_results_
    scores = [k for k in results if k.endswith("test_score") and "rank" not in k]
    resumed = None
    if library == "skmnist":
        from skmnist.engine import _resume

        resumed = dict(_resume.COUNTS)
    return {
        "wall_s": wall_s,
        "n_candidates": len(results["params"]),
        # Every candidate's fold scores, to compare runs value for value.
        "params": [
            {k.split("__")[-1]: v for k, v in p.items()} for p in results["params"]
        ],
        "scores": {k: [float(v) for v in results[k]] for k in scores},
        "resumed": resumed,
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


# -- --resume: resumable fits on vs off --------------------------------------------


def resume_runs(cfg, repeats, timeout):
    runs = []
    for _ in range(repeats):
        for name, study, resumable, epochs in RESUME_RUNS:
            child = {**RESUME[cfg["size"]][study], "seed": cfg["seed"], "n_jobs": 1}
            child.update(name=name, study=study, resumable=resumable, n_test=1000)
            if study == "halving":
                child["search"] = "halving"
            if epochs == "longest":
                child["epochs"] = child["epochs"][-1:]
            r = {**_common.fresh(__file__, child, None, timeout), "name": name}
            runs.append(r)
            print(
                f"  {name:<18} {r['wall_s']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} "
                f"MB, lookups {r['resumed']}"
                if r.get("ok")
                else f"  {name:<18} FAILED: {r['error']}",
                flush=True,
            )
    return runs


def same_scores(a, b):
    """Whether runs ``a`` and ``b`` scored their common candidates identically."""
    if not (a and b):
        return None
    common = [p for p in a["params"] if p in b["params"]]
    for key in a["scores"]:
        if key.startswith("split") or key == "mean_test_score":
            mine = [a["scores"][key][a["params"].index(p)] for p in common]
            theirs = [b["scores"][key][b["params"].index(p)] for p in common]
            if mine != theirs:
                return False
    return bool(common)


def resume_summary(runs):
    summary = {}
    for name, *_ in RESUME_RUNS:
        mine = [r for r in runs if r["name"] == name and r.get("ok")]
        summary[name] = mine and {
            "wall_s": _common.median([r["wall_s"] for r in mine]),
            "wall_s_runs": [r["wall_s"] for r in mine],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in mine),
            "n_candidates": mine[0]["n_candidates"],
            "resumed": mine[0]["resumed"],
            "best_params": mine[0]["best_params"],
            "best_cv_accuracy": mine[0]["best_cv_accuracy"],
            "epochs": sorted({p["epochs"] for p in mine[0]["params"]}),
            "run": mine[0],
        }
    return summary


def resume_targets(summary, enforced):
    def ratio(a, b):
        a, b = summary[a], summary[b]
        return a["wall_s"] / b["wall_s"] if a and b else None

    def same(a, b):
        return same_scores(
            summary[a] and summary[a]["run"], summary[b] and summary[b]["run"]
        )

    on, off = summary["grid-on"], summary["grid-off"]
    rss = on["peak_rss_mb"] - off["peak_rss_mb"] if on and off else None
    rows = [
        ("grid_wall_ratio", "grid: wall time, resumption on / off")
        + (ratio("grid-on", "grid-off"), "<=", 0.65),
        ("grid_same", "grid: every cv_results_ score identical on and off")
        + (same("grid-on", "grid-off"), "==", True),
        ("grid_peak_rss", "grid: peak RSS MB, on - off", rss, "<=", 300),
        ("epochs_ratio", "epochs: all values / the longest alone, wall time")
        + (ratio("epochs-all-on", "epochs-longest-on"), "<=", 1.25),
        ("epochs_same", "epochs: the longest value's scores as when alone")
        + (same("epochs-all-on", "epochs-longest-on"), "==", True),
        ("epochs_same_off", "epochs: every score identical on and off")
        + (same("epochs-all-on", "epochs-all-off"), "==", True),
        ("halving_ratio", "halving: wall time, resumption on / off")
        + (ratio("halving-on", "halving-off"), "<", 1),
        ("halving_same", "halving: every cv_results_ score identical on and off")
        + (same("halving-on", "halving-off"), "==", True),
    ]
    return _common.judge(rows, enforced)


def resume_markdown(report):
    studies, rows = RESUME[report["config"]["size"]], []
    for name, s in report["summary"].items():
        if not s:
            rows.append([name, "failed", *[""] * 5])
            continue
        rows.append(
            [
                name,
                f"{s['wall_s']:.1f}",
                str(s["n_candidates"]),
                ", ".join(map(str, s["epochs"])),
                "{hits} of {n}".format(
                    hits=s["resumed"]["hits"], n=sum(s["resumed"].values())
                )
                if s["resumed"]
                else "n/a",
                f"{s['peak_rss_mb']:.0f}",
                f"{s['best_cv_accuracy']:.4f}",
            ]
        )
    header = ["search", "wall s", "candidates", "epochs", "fits resumed"]
    header += ["peak RSS MB", "best CV acc"]
    grid, epochs, halving = studies["grid"], studies["epochs"], studies["halving"]
    lines = _common.head(
        report,
        "Resumable fits: grid searches with resumption on and off",
        f"*grid*: `GridSearchCV(make_mnist_pipeline(random_state=0))` over hidden_size "
        f"{grid['hidden_size']} x epochs {grid['epochs']}, cv={grid['cv']}, on the "
        f"first {grid['n_train']:,} MNIST training images, refitted. *epochs*: "
        f"hidden_size {epochs['hidden_size']} x epochs {epochs['epochs']} (*all*) or "
        f"its last value alone (*longest*), cv={epochs['cv']}, {epochs['n_train']:,} "
        f"images, refit=False. *halving*: `HalvingGridSearchCV` over hidden_size "
        f'{halving["hidden_size"]} with resource="mlp__epochs" from '
        f"{halving['min_resources']} to {halving['max_resources']}, factor 3, "
        f"cv={halving['cv']}, {halving['n_train']:,} images. n_jobs=1; each search in "
        "a fresh process, *on* and *off* one after the other; *fits resumed*: "
        "the fits that started from an earlier fit's end state, of those that "
        "could (an int random_state). Compare the ratios, not the seconds: the "
        "load average below says how busy the machine was.",
    )
    lines += [_common.table(header, rows)]
    return "\n".join(lines + _common.tail(report)) + "\n"


def main(argv=None):
    parser = _common.parser(__doc__)
    parser.add_argument("--configs", default="skmnist-1,skmnist-2,scikeras-1")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--resume", action="store_true", help="resumable fits on vs off"
    )
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.resume:
        size = "small" if args.small else "full"
        cfg = {"size": size, "seed": args.seed, "repeats": args.repeats}
        cfg["studies"] = RESUME[size]
        report, t0 = _common.start(__file__, argv)
        runs = resume_runs(cfg, args.repeats, args.timeout)
        summary = resume_summary(runs)
        report.update(config=cfg, summary=summary, runs=runs)
        report["targets"] = resume_targets(summary, enforced=not args.small)
        for s in summary.values():
            if s:
                s.pop("run")
        stem = "grid_search_resume" + ("_small" if args.small else "")
        return _common.finish(report, t0, args.out, stem, resume_markdown)
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
