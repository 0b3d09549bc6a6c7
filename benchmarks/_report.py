"""Summaries, targets and tables from the raw results of benchmarks/run.py.

Pure functions of the list of per-process results (standard library only), so
that they can be tested without running anything.
"""

import importlib.metadata
import os
import statistics

LABELS = {
    "a": "(a) Keras tutorial, TensorFlow",
    "b": "(b) skmnist pipeline, TensorFlow",
    "c": "(c) scikit-learn MLPClassifier",
    "d": "(d) skmnist pipeline, JAX",
}

# Forward + backward pass of a dense network: about 6 FLOP per weight per sample.
FLOP_PER_PARAM_PER_SAMPLE = 6


def package_version(dist):
    """Installed version of the distribution `dist`, or None."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def loadavg():
    """The machine's 1, 5 and 15 minute load averages, or None where unknown."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _mean(values):
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def training_flop(run):
    """FLOP of one training run: 6 x samples trained on x weights x epochs."""
    return (
        FLOP_PER_PARAM_PER_SAMPLE
        * run["n_fit_samples"]
        * run["n_params"]
        * run["n_iter"]
    )


def _paired_ratios(runs_by_rep, name, key, reference="a"):
    """Per repetition, value(name) / value(reference), when both ran."""
    ratios = []
    for rep_runs in runs_by_rep.values():
        mine, ref = rep_runs.get(name), rep_runs.get(reference)
        if mine is None or ref is None:
            continue
        if mine.get(key) is None or not ref.get(key):
            continue
        ratios.append(mine[key] / ref[key])
    return ratios


def summarize(runs, contenders):
    """Aggregate the successful runs into per-contender and per-probe summaries.

    Parameters
    ----------
    runs : list of dict
        One result per child process, each with ``name``, ``rep`` and ``ok``.
    contenders : list of str
        The contenders that were asked for, in order.

    Returns
    -------
    summary : dict
        ``ceiling``, ``import``, ``fetch`` and ``contenders`` (name -> summary).
    """
    ok = [r for r in runs if r.get("ok")]
    gemm = [r for r in ok if r["name"] == "gemm"]
    ceiling = None
    if gemm:
        best = max(gemm, key=lambda r: r["gflops_best"])
        ceiling = {
            "gflops": best["gflops_best"],
            "size": best["size"],
            "n_processes": len(gemm),
            "gflops_best_per_process": [r["gflops_best"] for r in gemm],
        }
    imports = [r for r in ok if r["name"] == "import"]
    fetches = [r for r in ok if r["name"] == "fetch"]

    runs_by_rep = {}
    for r in ok:
        if r["name"] in contenders:
            runs_by_rep.setdefault(r["rep"], {})[r["name"]] = r

    summaries = {}
    for name in contenders:
        mine = [r for r in ok if r["name"] == name]
        failed = [r for r in runs if r["name"] == name and not r.get("ok")]
        s = {"label": LABELS[name], "n_ok": len(mine), "n_failed": len(failed)}
        if mine:
            fit = [r["fit_s"] for r in mine]
            fractions = []
            for r in mine:
                r_flop = training_flop(r)
                if ceiling is not None and r["fit_s"] > 0:
                    fractions.append(r_flop / r["fit_s"] / (ceiling["gflops"] * 1e9))
            rss_mb = [r["peak_rss_bytes"] / 1e6 for r in mine]
            s.update(
                backend=mine[0].get("backend"),
                seeds=[r["seed"] for r in mine],
                fit_s={"median": _median(fit), "runs": fit},
                fit_ratio_to_a={
                    "median": _median(_paired_ratios(runs_by_rep, name, "fit_s")),
                    "runs": _paired_ratios(runs_by_rep, name, "fit_s"),
                },
                training_flop=training_flop(mine[0]),
                n_iter=[r["n_iter"] for r in mine],
                n_fit_samples=mine[0]["n_fit_samples"],
                n_params=mine[0]["n_params"],
                gemm_fraction={"median": _median(fractions), "runs": fractions},
                test_accuracy={
                    "mean": _mean([r["test_accuracy"] for r in mine]),
                    "min": min(r["test_accuracy"] for r in mine),
                    "runs": [r["test_accuracy"] for r in mine],
                },
                log_loss={
                    "mean": _mean([r["log_loss"] for r in mine]),
                    "runs": [r["log_loss"] for r in mine],
                },
                predict_s={
                    "median": _median([r["predict_s"] for r in mine]),
                    "runs": [r["predict_s"] for r in mine],
                },
                predict_first_s={
                    "median": _median([r["predict_first_s"] for r in mine]),
                    "runs": [r["predict_first_s"] for r in mine],
                },
                predict_ratio_to_a={
                    "median": _median(_paired_ratios(runs_by_rep, name, "predict_s")),
                    "runs": _paired_ratios(runs_by_rep, name, "predict_s"),
                },
                peak_rss_mb={"median": _median(rss_mb), "runs": rss_mb},
                rss_ratio_to_a={
                    "median": _median(
                        _paired_ratios(runs_by_rep, name, "peak_rss_bytes")
                    ),
                    "runs": _paired_ratios(runs_by_rep, name, "peak_rss_bytes"),
                },
                params=mine[0].get("params"),
            )
        summaries[name] = s

    return {
        "ceiling": ceiling,
        "import": {
            "median_s": _median([r["import_s"] for r in imports]),
            "runs_s": [r["import_s"] for r in imports],
            "light_median_s": _median([r.get("import_light_s") for r in imports]),
            "light_runs_s": [r.get("import_light_s") for r in imports],
            "light_names": imports[0].get("light_names") if imports else None,
            "tensorflow_imported": any(r["tensorflow_imported"] for r in imports)
            if imports
            else None,
            "keras_imported": any(r["keras_imported"] for r in imports)
            if imports
            else None,
        },
        "fetch": {
            "median_s": _median([r["fetch_s"] for r in fetches]),
            "runs_s": [r["fetch_s"] for r in fetches],
            "tensorflow_imported": any(r["tensorflow_imported"] for r in fetches)
            if fetches
            else None,
        },
        "contenders": summaries,
    }


def _get(summary, name, *keys):
    value = summary["contenders"].get(name)
    for key in keys:
        if value is None:
            return None
        value = value.get(key)
    return value


def evaluate_targets(summary, *, enforced):
    """The targets of the issue, each with its value and PASS / FAIL / n/a.

    ``enforced`` is False at the smoke-test size: the targets are then reported
    for information only.
    """
    targets = [
        (
            "fit_ratio_b_a",
            "fit time (b) / (a), median of paired repetitions",
            _get(summary, "b", "fit_ratio_to_a", "median"),
            "<=",
            0.5,
        ),
        (
            "accuracy_b_min",
            "test accuracy (b), every seed",
            _get(summary, "b", "test_accuracy", "min"),
            ">=",
            0.980,
        ),
        (
            "accuracy_b_mean",
            "test accuracy (b), mean over seeds",
            _get(summary, "b", "test_accuracy", "mean"),
            ">=",
            0.981,
        ),
        (
            "predict_ratio_b_a",
            "predict_proba (b) / Keras predict at batch 128 (a)",
            _get(summary, "b", "predict_ratio_to_a", "median"),
            "<=",
            1.0,
        ),
        (
            "rss_ratio_b_a",
            "peak RSS (b) / (a)",
            _get(summary, "b", "rss_ratio_to_a", "median"),
            "<=",
            1.1,
        ),
        (
            "import_s",
            "`import skmnist`, seconds (median of fresh processes)",
            summary["import"]["median_s"],
            "<",
            0.3,
        ),
        (
            "import_without_tensorflow",
            "`import skmnist` (and its data utilities) leave TensorFlow unimported",
            None
            if summary["import"]["tensorflow_imported"] is None
            else not summary["import"]["tensorflow_imported"],
            "==",
            True,
        ),
        (
            "fetch_s",
            '`fetch_mnist(subset="train")` from a warm cache, seconds',
            summary["fetch"]["median_s"],
            "<",
            0.5,
        ),
    ]
    results = []
    for key, description, value, op, threshold in targets:
        if value is None:
            passed = None
        elif op == "<=":
            passed = value <= threshold
        elif op == "<":
            passed = value < threshold
        elif op == ">=":
            passed = value >= threshold
        else:
            passed = value == threshold
        results.append(
            {
                "id": key,
                "description": description,
                "value": value,
                "op": op,
                "threshold": threshold,
                "passed": passed,
                "enforced": enforced,
            }
        )
    return results


# -- formatting ------------------------------------------------------------------


def _fmt(value, spec, missing="n/a"):
    return missing if value is None else format(value, spec)


def contender_table(summary):
    """The Markdown table of medians, one row per contender."""
    lines = [
        "| contender | fit s (median) | ratio to (a) | % of GEMM ceiling "
        "| test acc (mean, min) | log loss | predict s | peak RSS MB |",
        "|:--|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for s in summary["contenders"].values():
        if not s["n_ok"]:
            lines.append(f"| {s['label']} | failed | | | | | | |")
            continue
        fraction = s["gemm_fraction"]["median"]
        acc = s["test_accuracy"]
        cells = [
            s["label"],
            _fmt(s["fit_s"]["median"], ".1f"),
            _fmt(s["fit_ratio_to_a"]["median"], ".2f"),
            _fmt(None if fraction is None else 100 * fraction, ".1f"),
            f"{acc['mean']:.4f}, {acc['min']:.4f}",
            _fmt(s["log_loss"]["mean"], ".4f"),
            _fmt(s["predict_s"]["median"], ".3f"),
            _fmt(s["peak_rss_mb"]["median"], ".0f"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt_seconds(value):
    """Seconds, in milliseconds below 0.1 s (a lazy import takes well under 1 ms)."""
    if value is None:
        return "n/a"
    return f"{1e3 * value:.1f} ms" if value < 0.1 else f"{value:.3f} s"


def _fmt_target_value(t):
    value = t["value"]
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if t["id"].endswith("_s"):
        return _fmt_seconds(value)
    return f"{value:.5f}" if t["id"].startswith("accuracy") else f"{value:.2f}"


def _fmt_threshold(t):
    if isinstance(t["threshold"], bool):
        return "yes"
    unit = " s" if t["id"].endswith("_s") else ""
    return f"{t['op']} {t['threshold']}{unit}"


def target_table(targets):
    """The Markdown table of targets with PASS / FAIL (or n/a)."""
    lines = ["| target | value | required | result |", "|:--|--:|--:|:--|"]
    for t in targets:
        result = {True: "PASS", False: "FAIL", None: "n/a"}[t["passed"]]
        if t["passed"] is not None and not t["enforced"]:
            result += " (not enforced)"
        lines.append(
            f"| {t['description']} | {_fmt_target_value(t)} | "
            f"{_fmt_threshold(t)} | {result} |"
        )
    return "\n".join(lines)


def _loadavg_text(load):
    return "n/a" if load is None else ", ".join(f"{x:.2f}" for x in load)


def _plural(n, word, plural=None):
    return f"{n:,} " + (word if n == 1 else plural or f"{word}s")


def source_note(runs):
    """A note when skmnist's source changed between measurements, else None.

    Each run carries ``skmnist_source``, a digest of skmnist's sources taken just
    before it started; other developers may edit skmnist during a long run.
    """
    digests = [r.get("skmnist_source") for r in runs if r.get("skmnist_source")]
    versions = list(dict.fromkeys(digests))
    if len(versions) < 2:
        return None
    label = {digest: f"v{i}" for i, digest in enumerate(versions, start=1)}
    by_name = {}
    for r in runs:
        if r.get("skmnist_source"):
            by_name.setdefault(r["name"], []).append(label[r["skmnist_source"]])
    per_name = "; ".join(
        f"{name}: {' '.join(labels)}"
        for name, labels in by_name.items()
        if name != "gemm"  # the GEMM probe does not use skmnist
    )
    return (
        f"skmnist's source changed during the run: {len(versions)} versions ("
        + ", ".join(f"{label[d]} {d}" for d in versions)
        + f"). Version measured, per repetition: {per_name}. Compare only runs "
        "on one version."
    )


def _work_lines(summary):
    """One line per contender: the training work its FLOP count assumes."""
    lines = []
    for name, s in summary["contenders"].items():
        if not s["n_ok"]:
            continue
        epochs = sorted(set(s["n_iter"]))
        epochs_text = "/".join(str(e) for e in epochs)
        lines.append(
            f"({name}) {epochs_text} epoch(s) x {s['n_fit_samples']:,} samples x "
            f"{s['n_params']:,} weights x 6 = {s['training_flop']:.3g} FLOP"
        )
    return lines


def markdown(report):
    """The whole Markdown report: set-up, table of contenders, targets, notes."""
    cfg, machine, summary = report["config"], report["machine"], report["summary"]
    ceiling = summary["ceiling"]
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v)
    epochs = (
        _plural(cfg["epochs"], "epoch")
        if cfg["epochs"] is not None
        else "20 epochs (skmnist's default for (b) and (d))"
    )
    lines = [
        f"# skmnist benchmark ({cfg['size']} size)",
        "",
        f"Command: `{report['command']}`, started {report['created']}, "
        f"{report['duration_s'] / 60:.1f} min.",
        "",
        f"Data: real MNIST, {_plural(cfg['n_train_used'], 'training image')}, "
        f"{_plural(cfg['n_test_used'], 'test image')}; {epochs}, batch 128; "
        f"{_plural(cfg['repeats'], 'repetition')}, seed(s) "
        f"{', '.join(map(str, cfg['seeds']))}. In each repetition every "
        f"measurement runs in a fresh process, in the order "
        f"{' '.join(cfg['order'])}.",
        "",
        f"Machine: {_plural(machine['cpu_count'], 'CPU core')}, "
        f"{machine['platform']}; load average (1, 5, 15 min) "
        f"{_loadavg_text(machine['loadavg_start'])} at the start, "
        f"{_loadavg_text(machine['loadavg_end'])} at the end. {versions}.",
        "",
    ]
    if ceiling is not None:
        lines += [
            f"GEMM ceiling: TensorFlow float32 `matmul` at {ceiling['size']}^3, "
            f"{ceiling['gflops']:.1f} GFLOP/s (best over "
            f"{_plural(ceiling['n_processes'], 'process', 'processes')}).",
            "",
        ]
    lines += [
        contender_table(summary),
        "",
        "Medians over repetitions. *fit s*: from the raw uint8 images in memory to "
        "a trained model (scaling, building, compiling, training). *ratio to (a)*: "
        "median over repetitions of fit time / fit time of (a) in the same "
        "repetition. *% of GEMM ceiling*: training FLOP (6 x samples trained on x "
        "weights x epochs) / fit time / GEMM rate. *test acc*, *log loss*: on the "
        "test images, mean over seeds ((a): `model.evaluate`). *predict s*: "
        "`predict_proba` ((a): scaling + Keras `predict`, batch 128) on the raw test "
        "images, median of 3 calls after a first one. *peak RSS*: maximum resident "
        "set of the contender's process (10^6 bytes).",
        "",
        target_table(report["targets"]),
        "",
    ]
    imp, fetch = summary["import"], summary["fetch"]
    tf_imported = imp["tensorflow_imported"]
    tf_text = "n/a" if tf_imported is None else ("yes" if tf_imported else "no")
    light = ""
    if imp.get("light_median_s") is not None:
        names = ", ".join(f"`{n}`" for n in imp["light_names"])
        light = (
            f"; with getting {names} (names that must not need Keras) "
            f"{_fmt_seconds(imp['light_median_s'])}"
        )
    lines.append(
        f"`import skmnist`: {_fmt_seconds(imp['median_s'])} (median over "
        f"{_plural(len(imp['runs_s']), 'fresh process', 'fresh processes')})"
        f"{light}; TensorFlow "
        f"imported: {tf_text}. "
        f'Warm `fetch_mnist(subset="train")`: {_fmt_seconds(fetch["median_s"])}.'
    )
    work = _work_lines(summary)
    if work:
        lines += ["", "Training work per fit:", ""] + [f"- {w}" for w in work]
    if report["failures"]:
        lines += ["", "Failures:", ""]
        for f in report["failures"]:
            lines.append(f"- {f['name']} (repetition {f['rep']}): {f['error']}")
    # The note on source changes is derived from the runs, never stored.
    notes = [
        note
        for note in report.get("notes") or []
        if not note.startswith("skmnist's source changed")
    ]
    changed = source_note(report.get("runs", []))
    if changed:
        notes.append(changed)
    if notes:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"
