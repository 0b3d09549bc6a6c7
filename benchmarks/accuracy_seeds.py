"""Test accuracy over many seeds: the Keras tutorial's code against skmnist (issue 22).

    python benchmarks/accuracy_seeds.py               # 20 seeds x 4 arms: 80 full fits
    python benchmarks/accuracy_seeds.py --seeds 2     # a check that it runs
    python benchmarks/accuracy_seeds.py --small       # smoke test: 2,000 rows, 2 epochs

Arms, each fit in a fresh process, alternated per seed:

- ``tutorial``: the tutorial's code in plain Keras (run.py's contender (a)):
  ``validation_split=0.1``, so it trains on the first 90% of the rows;
- ``xla``: ``make_mnist_pipeline(random_state=seed, validation_split=0.0,
  jit_compile=True)`` on exactly those rows;
- ``no-xla``: the same with ``jit_compile=False``;
- ``default``: ``make_mnist_pipeline(random_state=seed)`` on all the rows
  (skmnist's stratified 10% hold-out), run.py's contender (b).

Reported per arm: mean, sd, min and max test accuracy, and Welch's t (with its
two-sided p) against the tutorial's arm. Writes results/accuracy_seeds.json and
.md (``accuracy_seeds_small.*`` with ``--small``).
"""

import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402
import run  # noqa: E402 - contender (a), the tutorial's code

ARMS = {
    "tutorial": "tutorial's code (plain Keras, validation_split=0.1)",
    "xla": "skmnist, tutorial's rows, jit_compile=True",
    "no-xla": "skmnist, tutorial's rows, jit_compile=False",
    "default": "skmnist default (stratified hold-out, jit_compile='auto')",
}

# -- in the child process: one fit ------------------------------------------------


def measure(cfg):
    X, y, X_test, y_test = _common.mnist(cfg["n_train"], cfg["n_test"])
    arm = cfg["name"]
    if arm == "tutorial":
        fit_cfg = {**cfg, "hidden_size": 512, "batch_size": 128}
        predict, _ = run.fit_a(fit_cfg, X, y)
        proba = np.asarray(predict(X_test))
    else:
        from skmnist import make_mnist_pipeline

        params = {"random_state": cfg["seed"], "epochs": cfg["epochs"]}
        if arm != "default":
            # Keras's validation_split holds out the last rows: train on the others.
            n_fit = len(X) - int(len(X) * 0.1)
            X, y = X[:n_fit], y[:n_fit]
            params.update(validation_split=0.0, jit_compile=arm == "xla")
        pipe = make_mnist_pipeline(**params).fit(X, y)
        proba = pipe.predict_proba(X_test)
    return {"test_accuracy": float(np.mean(proba.argmax(1) == y_test))}


# -- in the parent ------------------------------------------------------------------


def welch(a, b):
    """Welch's t of mean(a) - mean(b), and its two-sided p; None under 2 runs each."""
    if min(len(a), len(b)) < 2 or (np.var(a) == 0 and np.var(b) == 0):
        return None, None
    from scipy import stats

    result = stats.ttest_ind(a, b, equal_var=False)
    return float(result.statistic), float(result.pvalue)


def summarize(runs, arms):
    accuracy = {arm: [] for arm in arms}
    for r in runs:
        if r.get("ok"):
            accuracy[r["name"]].append(r["test_accuracy"])
    reference = accuracy.get("tutorial", [])
    summary = {}
    for arm, values in accuracy.items():
        s = summary[arm] = {"label": ARMS[arm], "n_ok": len(values), "runs": values}
        if not values:
            continue
        sd = statistics.stdev(values) if len(values) > 1 else None
        t, p = (None, None) if arm == "tutorial" else welch(values, reference)
        s.update(
            mean=statistics.fmean(values),
            sd=sd,
            min=min(values),
            max=max(values),
            welch_t=t,
            welch_p=p,
        )
    return summary


def targets(summary, enforced):
    ref = summary.get("tutorial", {})
    rows = []
    for arm in ("xla", "no-xla"):
        s = summary.get(arm, {})
        gap = sd_ratio = None
        if s.get("mean") is not None and ref.get("mean") is not None:
            gap = abs(s["mean"] - ref["mean"])
        if s.get("sd") is not None and ref.get("sd"):
            sd_ratio = s["sd"] / ref["sd"]
        rows.append((f"gap_{arm}", f"mean gap, {arm} vs tutorial", gap, "<=", 0.0005))
        rows.append((f"sd_ratio_{arm}", f"sd {arm} / tutorial", sd_ratio, "<=", 1.3))
    d = summary.get("default", {})
    shortfall = None
    if d.get("mean") is not None and ref.get("mean") is not None:
        shortfall = ref["mean"] - d["mean"]
    rows.append(("shortfall_default", "mean tutorial - default", shortfall, "<=", 5e-4))
    return _common.judge(rows, enforced)


def markdown(report):
    cfg, summary = report["config"], report["summary"]
    header = ["arm", "seeds", "mean", "sd", "min", "max", "Welch t vs tutorial", "p"]
    header.append("test accuracy per seed")
    rows = []
    for s in summary.values():
        if not s["n_ok"]:
            rows.append([s["label"], 0, *[""] * 7])
            continue
        rows.append(
            [
                s["label"],
                s["n_ok"],
                f"{s['mean']:.4f}",
                _common.fmt(s["sd"], ".4f"),
                f"{s['min']:.4f}",
                f"{s['max']:.4f}",
                _common.fmt(s["welch_t"], ".2f"),
                _common.fmt(s["welch_p"], ".3f"),
                " ".join(f"{a:.4f}" for a in s["runs"]),
            ]
        )
    lines = _common.head(
        report,
        "Test accuracy over seeds",
        f"Real MNIST: the first {cfg['n_train']:,} training images, "
        f"{cfg['n_test']:,} test images; {cfg['epochs']} epochs, batch 128; seeds "
        f"{cfg['seeds'][0]}-{cfg['seeds'][-1]}; a fresh process per fit, arms "
        "alternated per seed. The tutorial's arm and the two 'tutorial's rows' arms "
        "train on the same rows (the first 90%); the default arm on a stratified, "
        "seeded 90%. Welch's t: positive when the arm's mean is above the "
        "tutorial's. Only accuracy is measured, which a busy machine does not "
        "change (a seed's fit is deterministic on one machine and stack).",
    )
    lines += [_common.table(header, rows)]
    return "\n".join(lines + _common.tail(report)) + "\n"


def main(argv=None):
    parser = _common.parser(__doc__)
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--seeds", type=int, help="seeds per arm (20; small 2)")
    parser.add_argument("--seed", type=int, default=0, help="the first seed")
    parser.add_argument("--epochs", type=int, help="epochs (20; small 2)")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    arms = _common.names(parser, args.arms, ARMS, "--arms")
    small = args.small
    n_seeds = args.seeds or (2 if small else 20)
    cfg = {
        "size": "small" if small else "full",
        "arms": arms,
        "epochs": args.epochs or (2 if small else 20),
        "n_train": 2000 if small else 60000,
        "n_test": 2000 if small else 10000,
        "seeds": list(range(args.seed, args.seed + n_seeds)),
    }
    report, t0 = _common.start(__file__, argv)
    runs = []
    for seed in cfg["seeds"]:
        for name in arms:
            child = {**cfg, "name": name, "seed": seed}
            r = _common.fresh(__file__, child, None, args.timeout)
            runs.append({**r, "name": name, "seed": seed})
            result = r.get("test_accuracy", r.get("error"))
            print(f"  {name:<8} seed {seed}  {result}", flush=True)
    summary = summarize(runs, arms)
    report.update(config=cfg, summary=summary, runs=runs)
    report["targets"] = targets(summary, enforced=not small and n_seeds >= 20)
    stem = "accuracy_seeds_small" if small else "accuracy_seeds"
    return _common.finish(report, t0, args.out, stem, markdown)


if __name__ == "__main__":
    _common.entry(main, measure)
