"""What the moving progress bar costs: the reference fit, silent and watched.

    python benchmarks/progress_bar.py              # ~6 min: 3 pairs of reference fits
    python benchmarks/progress_bar.py --small      # smoke test

Each fit in a fresh process, in pairs side by side (silent, then watched, then
the next pair in the other order): ``make_mnist_pipeline(random_state=seed)`` on
the 60,000 training images with ``verbose=0``, and with ``verbose=1`` while its
standard output is a pseudo-terminal (``os.openpty``, drained by a thread as a
terminal would), so that the bar is drawn live and an epoch runs in several
compiled calls. See benchmarks/README.md.
"""

import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402


def _watched(fit):
    """Run ``fit()`` with ``sys.stdout`` on a pseudo-terminal; (result, text shown)."""
    master, slave = os.openpty()
    chunks = []

    def drain():
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO once the other end is closed
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    saved, sys.stdout = sys.stdout, open(slave, "w", encoding="utf-8")
    try:
        result = fit()
    finally:
        sys.stdout.close()
        sys.stdout = saved
        reader.join(timeout=10)
        os.close(master)
    return result, b"".join(chunks).decode(errors="replace")


def updates_per_epoch(text, steps):
    """The distinct step counts drawn in each epoch, from a terminal's text."""
    epochs = re.split(r"(?=Epoch \d+/)", text)[1:]
    counts = {}
    for part in epochs:
        epoch = int(re.match(r"Epoch (\d+)/", part).group(1))
        found = re.findall(rf"\b(\d+)/{steps}\b", part)
        counts.setdefault(epoch, set()).update(int(n) for n in found)
    return [len(counts[e]) for e in sorted(counts)]


def measure(cfg):
    from skmnist import make_mnist_pipeline

    X, y, _, _ = _common.mnist(cfg["n_train"], 0)
    pipe = make_mnist_pipeline(
        random_state=cfg["seed"], epochs=cfg["epochs"], verbose=cfg["verbose"]
    )

    def fit():
        t0 = time.perf_counter()
        pipe.fit(X, y)
        return time.perf_counter() - t0

    result = {"verbose": cfg["verbose"]}
    if cfg["verbose"]:
        result["fit_s"], text = _watched(fit)
        clf = pipe[-1]
        steps = -(-round(len(X) * (1 - clf.validation_split)) // clf.batch_size)
        result["steps_per_epoch"] = steps
        result["updates_per_epoch"] = updates_per_epoch(text, steps)
        result["control_chars"] = sorted(set(re.findall(r"[\x00-\x09\x0b-\x1f]", text)))
    else:
        result["fit_s"] = fit()
    result["val_loss"] = pipe[-1].history_["val_loss"]
    return result


def summarize(runs, repeats):
    pairs = []
    for i in range(repeats):
        silent = next(r for r in runs if r["pair"] == i and r["verbose"] == 0)
        watched = next(r for r in runs if r["pair"] == i and r["verbose"] == 1)
        if silent.get("ok") and watched.get("ok"):
            pairs.append((silent, watched))
    if not pairs:
        return None
    updates = [min(w["updates_per_epoch"]) for _, w in pairs]
    return {
        "n_pairs": len(pairs),
        "fit_s_silent": _common.median([s["fit_s"] for s, _ in pairs]),
        "fit_s_watched": _common.median([w["fit_s"] for _, w in pairs]),
        "ratios": [w["fit_s"] / s["fit_s"] for s, w in pairs],
        "ratio": _common.median([w["fit_s"] / s["fit_s"] for s, w in pairs]),
        "steps_per_epoch": pairs[0][1]["steps_per_epoch"],
        "updates_per_epoch_min": min(updates),
        "same_history": all(s["val_loss"] == w["val_loss"] for s, w in pairs),
    }


def markdown(report):
    cfg, s = report["config"], report["summary"]
    lines = _common.head(
        report,
        "Cost of the moving progress bar",
        f"`make_mnist_pipeline(random_state=seed, epochs={cfg['epochs']})` on "
        f"{cfg['n_train']:,} real MNIST training images, seeds "
        f"{cfg['seeds']}; each fit in a fresh process, `verbose=0` and `verbose=1` "
        "on a pseudo-terminal side by side (the order alternates per pair). "
        "*ratio*: watched over silent fit time, per pair, median. *updates*: the "
        "fewest distinct step counts drawn in an epoch.",
    )
    if s is None:
        lines.append("Every pair failed.")
    else:
        rows = [
            [
                s["n_pairs"],
                f"{s['fit_s_silent']:.2f}",
                f"{s['fit_s_watched']:.2f}",
                " ".join(f"{r:.3f}" for r in s["ratios"]),
                f"{s['ratio']:.3f}",
                s["steps_per_epoch"],
                s["updates_per_epoch_min"],
                "yes" if s["same_history"] else "NO",
            ]
        ]
        header = ["pairs", "fit s, verbose=0", "fit s, verbose=1 on a terminal"]
        header += ["ratio per pair", "ratio", "steps per epoch", "updates per epoch"]
        header += ["same val_loss"]
        lines.append(_common.table(header, rows))
    return "\n".join(lines + _common.tail(report)) + "\n"


def main(argv=None):
    parser = _common.parser(__doc__)
    parser.add_argument("--repeats", type=int, default=3, help="pairs of fits")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    size = "small" if args.small else "full"
    n_train, epochs = (5000, 2) if args.small else (60000, 20)
    repeats = 1 if args.small else args.repeats
    cfg = {"size": size, "n_train": n_train, "epochs": epochs}
    cfg["seeds"] = list(range(repeats))
    report, t0 = _common.start(__file__, argv)
    runs = []
    for pair in range(repeats):
        order = (0, 1) if pair % 2 == 0 else (1, 0)
        for verbose in order:
            child = {**cfg, "seed": pair, "verbose": verbose}
            r = _common.fresh(__file__, child, timeout=args.timeout)
            runs.append({**r, "name": f"verbose={verbose}", "pair": pair})
            shown = f"{r['fit_s']:.2f} s" if r.get("ok") else f"FAILED: {r['error']}"
            print(f"  pair {pair} verbose={verbose}: {shown}", flush=True)
    summary = summarize(runs, repeats)
    s = summary or {}
    rows = [
        ("cost", "watched / silent fit time", s.get("ratio"), "<=", 1.03),
        ("updates", "updates in an epoch, fewest", s.get("updates_per_epoch_min"))
        + (">=", 10),
        ("same", "same history silent and watched", s.get("same_history"), "==", 1),
    ]
    report.update(config=cfg, summary=summary, runs=runs)
    report["targets"] = _common.judge(rows, enforced=not args.small)
    stem = "progress_bar_small" if args.small else "progress_bar"
    return _common.finish(report, t0, args.out, stem, markdown)


if __name__ == "__main__":
    _common.entry(main, measure)
