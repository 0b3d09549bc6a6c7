"""Memory and time per fit over many consecutive small fits in one process.

    python benchmarks/fit_loop.py                           # 200 fits, TF and JAX
    python benchmarks/fit_loop.py --small                   # 16 fits
    python benchmarks/fit_loop.py --variants tf,jax,keras   # plain Keras for contrast
    python benchmarks/fit_loop.py --variants tf-off,tf --fits 100  # resumable off, on

Each variant in a fresh process, one after the other. See benchmarks/README.md.
"""

import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

# tf-off: skmnist on TensorFlow with resumable fits off (set_resumable_fits(False)),
# so that the end states it keeps do not count in the growth.
VARIANTS = {
    "tf": "tensorflow",
    "tf-off": "tensorflow",
    "jax": "jax",
    "keras": "tensorflow",
}
# Growth from fit 10 to the last: at most this much with resumable fits off, and
# the resume store's budget more with them on (issue 27).
GROWTH_FROM_10_MB = 25
HIDDEN = (32, 40, 48, 56, 64)
N_ROWS = (900, 950, 1000, 1050)
CHECKPOINTS = (1, 10, 20, 50, 100, 200)
# Fits 1-20 meet every pair of network and size once (5 widths x 4 sizes in
# turn), and compile a program for each new pair; the timing windows come after.
WARMUP = math.lcm(len(HIDDEN), len(N_ROWS))
WINDOW = 20


def checkpoints(n_fits):
    return sorted({n for n in CHECKPOINTS if n <= n_fits} | {n_fits})


def windows(n_fits):
    """The early and late timing windows (slices of fit indices), after warm-up.

    Shorter runs (``--small``) start after their first third instead.
    """
    start = WARMUP if n_fits >= WARMUP + 2 * WINDOW else n_fits // 3
    size = min(WINDOW, (n_fits - start) // 2)
    return slice(start, start + size), slice(n_fits - size, n_fits)


def keras_fit(X, y, hidden_size, epochs, seed):
    """A plain Keras user's fit: a new model, compiled and fitted."""
    import keras

    keras.utils.set_random_seed(seed)
    model = _common.tutorial_mlp(hidden_size)
    x = _common.scale(X)
    model.fit(x, y, batch_size=128, epochs=epochs, validation_split=0.1, verbose=0)
    return lambda images: model.predict(_common.scale(images), verbose=0)


def measure(cfg):
    from skmnist import load_mnist_sample, make_mnist_pipeline, set_resumable_fits

    if cfg["name"] == "tf-off":
        set_resumable_fits(False)
    X, y = load_mnist_sample(return_X_y=True)
    rss, seconds = [], []
    for i in range(cfg["n_fits"]):
        rows = np.random.default_rng(i).permutation(len(X))
        n_rows = N_ROWS[i % len(N_ROWS)]
        fit_rows, other = rows[:n_rows], rows[n_rows:]
        params = {"hidden_size": HIDDEN[i % len(HIDDEN)], "epochs": cfg["epochs"]}
        t0 = time.perf_counter()
        if cfg["name"] == "keras":
            predict = keras_fit(X[fit_rows], y[fit_rows], seed=i, **params)
        else:
            pipe = make_mnist_pipeline(random_state=i, **params)
            predict = pipe.fit(X[fit_rows], y[fit_rows]).predict_proba
        predict(X[other])
        seconds.append(time.perf_counter() - t0)
        rss.append(_common.rss_mb())
    return {"rss_mb": rss, "fit_s": seconds}


def summarize(r):
    rss, fit_s = r["rss_mb"], r["fit_s"]
    first, last = windows(len(rss))
    early, late = _common.median(fit_s[first]), _common.median(fit_s[last])
    return {
        "n_fits": len(rss),
        "rss_at": {n: rss[n - 1] for n in checkpoints(len(rss))},
        "growth_mb": rss[-1] - rss[0],
        "growth_after_warmup_mb": rss[-1] - rss[first.start - 1],
        "growth_from_10_mb": rss[-1] - rss[min(10, len(rss)) - 1],
        "fit_s_early": early,
        "fit_s_late": late,
        "slowdown": late / early,
        "noise_lines": r["noise_lines"],
    }


def markdown(report):
    cfg, rows = report["config"], []
    at = checkpoints(cfg["n_fits"])
    for name, s in report["summary"].items():
        if s is None:
            rows.append([name, "failed", *[""] * (len(at) + 6)])
            continue
        rows.append(
            [name, VARIANTS[name]]
            + [f"{s['rss_at'][n]:.0f}" for n in at]
            + [f"{s['growth_mb']:+.0f}", f"{s['growth_after_warmup_mb']:+.0f}"]
            + [f"{s['growth_from_10_mb']:+.0f}"]
            + [f"{s[k]:.3f}" for k in ("fit_s_early", "fit_s_late", "slowdown")]
        )
    header = ["variant", "backend", *[f"RSS MB after fit {n}" for n in at]]
    early, late = windows(cfg["n_fits"])
    header += ["growth MB", f"growth MB after fit {early.start}"]
    header += ["growth MB after fit 10"]
    header += [f"fit s, fits {w.start + 1}-{w.stop}" for w in (early, late)]
    header += ["late / early"]
    lines = _common.head(
        report,
        "Consecutive fits in one process",
        f"{cfg['n_fits']} fits per process: hidden_size {list(HIDDEN)} and "
        f"{list(N_ROWS)} training rows of the packaged sample in turn, "
        f"epochs={cfg['epochs']}, then `predict_proba` on the other rows. *fit s*: "
        "fit + predict_proba, median over the window; *RSS*: `VmRSS` (10^6 bytes); "
        f"growth from fit 1 to fit {cfg['n_fits']}, and from the end of the warm-up "
        f"(the first {WARMUP} fits meet every network and size once).",
    )
    lines.append(_common.table(header, rows))
    return "\n".join(lines + _common.tail(report)) + "\n"


def _growth_from_10(names, summary):
    """The targets on the growth from fit 10, when ``tf-off`` ran: resumable fits
    off, and on (``tf``, allowed the store's budget more) beside it."""
    from skmnist.engine._resume import MAX_RESUMABLE_BYTES

    budget = {"tf-off": 0, "tf": MAX_RESUMABLE_BYTES / 1e6}
    rows = []
    for name in (n for n in ("tf-off", "tf") if n in names and "tf-off" in names):
        growth = (summary.get(name) or {}).get("growth_from_10_mb")
        text = f"RSS growth from fit 10, {name}, MB"
        limit = round(GROWTH_FROM_10_MB + budget[name], 1)
        rows.append((f"growth10_{name}", text, growth, "<=", limit))
    return rows


def main(argv=None):
    parser = _common.parser(__doc__)
    parser.add_argument("--variants", default="tf,jax")
    parser.add_argument("--fits", type=int, help="fits per process (200; small 16)")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    names = _common.names(parser, args.variants, VARIANTS, "--variants")
    n_fits = args.fits or (16 if args.small else 200)
    if n_fits < 15:
        parser.error("--fits must be at least 15 (two timing windows after warm-up)")
    size = "small" if args.small else "full"
    cfg = {"size": size, "variants": names, "n_fits": n_fits, "epochs": 2}
    report, t0 = _common.start(__file__, argv)
    runs, summary = [], {}
    for name in names:
        r = _common.fresh(__file__, {**cfg, "name": name}, VARIANTS[name], args.timeout)
        runs.append({**r, "name": name})
        summary[name] = s = summarize(r) if r.get("ok") else None
        print(
            f"  {name:<6} RSS {s['rss_at'][1]:.0f} -> {r['rss_mb'][-1]:.0f} MB, fit "
            f"{s['fit_s_early']:.3f} -> {s['fit_s_late']:.3f} s"
            if s
            else f"  {name:<6} FAILED: {r['error']}",
            flush=True,
        )
    rows = []
    for name in ("tf", "jax"):
        s = summary.get(name) or {}
        growth, slowdown = s.get("growth_mb"), s.get("slowdown")
        rows.append((f"growth_{name}", f"RSS growth, {name}, MB", growth, "<=", 50))
        rows.append((f"slowdown_{name}", f"late / early fits' time, {name}", slowdown))
        rows[-1] += ("<=", 1.1)
    rows += _growth_from_10(names, summary)
    report.update(config=cfg, summary=summary, runs=runs)
    report["targets"] = _common.judge(rows, enforced=not args.small)
    stem = "fit_loop_small" if args.small else "fit_loop"
    return _common.finish(report, t0, args.out, stem, markdown)


if __name__ == "__main__":
    _common.entry(main, measure)
