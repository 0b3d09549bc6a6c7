"""The benchmarks run end to end at their smoke-test size and report what they must.

Each script's ``--small`` mode runs in a subprocess and writes its JSON and
Markdown; the tests check their fields and plausible values, never timings (the
machines are shared). The summaries and targets are also checked on made-up runs.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
MACHINE_KEYS = {"cpu_model", "cpu_flags", "cpu_count", "cpus_usable", "versions"}


def _load(name):
    spec = importlib.util.spec_from_file_location(
        f"bench_{name}", BENCHMARKS / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_small(script, tmp_path, *args, timeout=600):
    """Run ``script --small``; return its process and its JSON report."""
    if not os.environ.get("SKMNIST_DATA_HOME"):
        pytest.fail("SKMNIST_DATA_HOME must name the folder that holds mnist.npz")
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--small", "--out", str(tmp_path)]
        + list(args),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    stem = script.removesuffix(".py") + "_small"
    report = json.loads((tmp_path / f"{stem}.json").read_text())
    markdown = (tmp_path / f"{stem}.md").read_text()
    assert not list(tmp_path.glob("*.tmp"))
    assert MACHINE_KEYS <= set(report["machine"])
    assert report["machine"]["cpu_model"] in proc.stdout
    assert report["machine"]["cpu_model"] in markdown
    assert report["failures"] == []
    assert "| target | value | required | result |" in markdown
    for target in report["targets"]:
        assert target["enforced"] is False and target["passed"] in (True, False)
    return proc, report, markdown


@pytest.mark.slow
@pytest.mark.realdata
def test_run_small_measures_every_contender(tmp_path):
    _, report, markdown = _run_small("run.py", tmp_path, "--epoch-times")
    names = ["a", "b", "c", "d", "e-tf", "e-jax"]
    assert report["config"]["contenders"] == names
    assert "| contender | fit s | ratio to (a) | ratio to (e) |" in markdown
    summary = report["summary"]
    assert summary["floor"] in ("e-tf", "e-jax")
    for name in names:
        s = summary["contenders"][name]
        assert s["n_ok"] == 1, name
        # 2 epochs on 1,800 images are far better than chance (0.1).
        assert 0.5 < s["accuracy_min"] == s["accuracy_runs"][0] <= 1, name
        assert s["fit_s"] > 0 and s["ratio_a"] > 0 and s["ratio_e"] > 0, name
        assert s["predict_s"] > 0 and s["peak_rss_mb"] > 0, name
    for name in ("b", "d", "e-tf", "e-jax"):  # epochs timed, with --epoch-times
        assert summary["contenders"][name]["epoch_later_s"] > 0, name
    assert summary["contenders"]["b"]["params"]["epochs"] == 2
    fits = [r for r in report["runs"] if r["name"] != "gemm"]
    assert len({r["pid"] for r in fits}) == len(fits) == len(names)
    assert {r["n_fit"] for r in fits if r["name"] != "c"} == {1800}
    ids = {t["id"] for t in report["targets"]}
    assert {"fit_ratio_b_e", "fit_ratio_b_a", "accuracy_gap_d_b"} <= ids
    assert {"accuracy_b_min", "accuracy_b_mean"} <= ids


@pytest.mark.slow
@pytest.mark.realdata
def test_grid_search_small_reports_time_memory_and_noise(tmp_path):
    _, report, markdown = _run_small("grid_search.py", tmp_path)
    assert "| configuration | wall s |" in markdown
    summary = report["summary"]
    assert set(summary) == {"skmnist-1", "skmnist-2", "scikeras-1"}
    for name, s in summary.items():
        assert s["wall_s"] > 0, name
        assert set(s["best_params"]) == {"hidden_size", "epochs"}, name
        assert 0 <= s["test_accuracy"] <= 1, name
        assert 0 <= s["noise_lines"] <= s["stderr_lines"], name
        assert 0 < s["rss_first_mb"] and 0 < s["peak_first_mb"] <= s["peak_last_mb"]
    # n_jobs=2: loky workers fit the candidates, the parent refits.
    assert summary["skmnist-1"]["n_processes"] == 1
    assert summary["skmnist-2"]["n_processes"] >= 2
    runs = {r["name"]: r for r in report["runs"]}
    fits = sum(w["fits"] for w in runs["skmnist-2"]["workers"])
    assert fits == 2 * 2 * 2 + 1  # candidates x folds + the refit
    ids = {t["id"] for t in report["targets"]}
    assert ids == {"wall_ratio", "accuracy_gap", "speedup_njobs", "noise_lines"}


@pytest.mark.slow
@pytest.mark.realdata
def test_grid_search_resume_small_compares_on_and_off(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "grid_search.py"), "--resume", "--small"]
        + ["--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "grid_search_resume_small.json").read_text())
    markdown = (tmp_path / "grid_search_resume_small.md").read_text()
    assert "| search | wall s | candidates | epochs | fits resumed |" in markdown
    summary = report["summary"]
    for name, s in summary.items():
        assert s["wall_s"] > 0 and s["peak_rss_mb"] > 0, name
        if name.endswith("-off"):  # nothing looked up
            assert s["resumed"] == {"hits": 0, "misses": 0}, name
        elif name != "epochs-longest-on":  # one epochs value: nothing to resume
            assert s["resumed"]["hits"] > 0, name
    targets = {t["id"]: t for t in report["targets"]}
    for same in ("grid_same", "epochs_same", "epochs_same_off", "halving_same"):
        assert targets[same]["passed"] is True, same


@pytest.mark.slow
@pytest.mark.realdata
def test_progress_bar_small_times_silent_and_watched_fits(tmp_path):
    _, report, markdown = _run_small("progress_bar.py", tmp_path)
    assert "| pairs | fit s, verbose=0 | fit s, verbose=1 on a terminal |" in markdown
    s = report["summary"]
    assert s["n_pairs"] == 1 and s["fit_s_silent"] > 0 and s["fit_s_watched"] > 0
    # 4,500 training rows in batches of 128: 36 steps, drawn after each call.
    assert s["steps_per_epoch"] == 36
    assert 10 <= s["updates_per_epoch_min"] <= 37
    assert s["same_history"] is True
    watched = next(r for r in report["runs"] if r["verbose"] == 1)
    assert "\x1b" not in watched["control_chars"]  # no ANSI codes, on a terminal too
    ids = {t["id"] for t in report["targets"]}
    assert ids == {"cost", "updates", "same"}


def test_progress_bar_counts_the_step_counts_of_each_epoch():
    progress_bar = _load("progress_bar")
    text = "Epoch 1/2 - 0/9 [>]\rEpoch 1/2 - 4/9\rEpoch 1/2 - 9/9\nEpoch 2/2 - 9/9\n"
    assert progress_bar.updates_per_epoch(text, 9) == [3, 1]


@pytest.mark.slow
def test_fit_loop_small_reports_memory_and_time_per_fit(tmp_path):
    _, report, markdown = _run_small("fit_loop.py", tmp_path, "--fits", "15")
    assert "RSS MB after fit 10" in markdown
    for name in ("tf", "jax"):
        run = next(r for r in report["runs"] if r["name"] == name)
        assert len(run["rss_mb"]) == len(run["fit_s"]) == 15
        s = report["summary"][name]
        assert s["growth_mb"] == pytest.approx(run["rss_mb"][-1] - run["rss_mb"][0])
        assert s["slowdown"] > 0
    ids = {t["id"] for t in report["targets"]}
    assert ids == {"growth_tf", "slowdown_tf", "growth_jax", "slowdown_jax"}


@pytest.mark.parametrize(
    "script, option", [("run.py", "--contenders"), ("grid_search.py", "--configs")]
)
def test_unknown_names_are_a_usage_error(script, option):
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), option, "b,zz"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert option in proc.stderr and "'b,zz'" in proc.stderr


def _fake(name, rep, fit_s, accuracy=0.982, **values):
    run = {"name": name, "rep": rep, "seed": rep, "ok": True, "fit_s": fit_s}
    run.update(n_fit=54_000, n_params=669_706, n_iter=20, test_accuracy=accuracy)
    run.update(log_loss=0.08, predict_s=0.1, peak_rss_mb=1000.0)
    return {**run, **values}


def test_run_summary_pairs_repetitions_against_the_faster_floor():
    run = _load("run")
    runs = [
        {"name": "gemm", "rep": 0, "ok": True, "gflops": 400.0},
        {"name": "gemm", "rep": 1, "ok": True, "gflops": 200.0},
        # The machine is twice as slow in repetition 1, for everyone.
        _fake("a", 0, 40.0, predict_s=0.2, peak_rss_mb=500.0),
        _fake("b", 0, 18.0, accuracy=0.9812),
        _fake("d", 0, 18.0, accuracy=0.9785),
        _fake("e-tf", 0, 20.0),
        _fake("e-jax", 0, 15.0, epoch_s=[4.0, 1.0, 1.5]),
        _fake("a", 1, 80.0, predict_s=0.2, peak_rss_mb=500.0),
        _fake("b", 1, 36.0, accuracy=0.9798),
        _fake("d", 1, 36.0, accuracy=0.9771),
        _fake("e-tf", 1, 40.0),
        _fake("e-jax", 1, 30.0, epoch_s=[5.0, 1.0, 2.0]),
        {"name": "c", "rep": 0, "seed": 0, "ok": False, "error": "boom"},
    ]
    summary = run.summarize(runs, ["a", "b", "c", "d", "e-tf", "e-jax"])
    b = summary["contenders"]["b"]
    assert summary["floor"] == "e-jax" and summary["gemm_gflops"] == 400.0
    assert b["ratio_a"] == pytest.approx(0.45) and b["ratio_e"] == pytest.approx(1.2)
    assert b["fit_s"] == 27.0 and b["accuracy_runs"] == [0.9812, 0.9798]
    assert summary["contenders"]["c"]["n_ok"] == 0
    e = summary["contenders"]["e-jax"]
    assert e["epoch_first_s"] == 4.5 and e["epoch_later_s"] == 1.375

    targets = {t["id"]: t for t in run.targets(summary, enforced=True)}
    assert targets["fit_ratio_b_e"]["passed"] is False  # 1.2 > 1.1
    assert targets["fit_ratio_b_a"]["passed"] is True
    assert targets["accuracy_b_min"]["passed"] is False  # 0.9798 < 0.980
    assert targets["accuracy_gap_d_b"]["value"] == pytest.approx(0.0027)
    assert targets["accuracy_gap_d_b"]["passed"] is False
    # (b) predicts in half (a)'s time, with twice its memory.
    assert targets["predict_ratio_b_a"]["value"] == pytest.approx(0.5)
    assert targets["predict_ratio_b_a"]["passed"] is True
    assert targets["rss_ratio_b_a"]["value"] == pytest.approx(2.0)
    assert targets["rss_ratio_b_a"]["passed"] is False

    # Without (d) and the floors, their targets cannot be judged.
    summary = run.summarize(runs, ["a", "b"])
    targets = {t["id"]: t for t in run.targets(summary, enforced=False)}
    assert targets["fit_ratio_b_e"]["passed"] is None
    assert targets["accuracy_gap_d_b"]["passed"] is None
    assert "n/a" in run._common.target_table(list(targets.values()))


def test_readme_table_takes_the_main_table():
    readme_table = _load("readme_table")
    markdown = (
        "# title\n\nCommand: `python benchmarks/run.py` (today).\n\n"
        "Machine: AMD EPYC, 2 of 2 CPUs usable.\n\n"
        "| contender | fit s |\n|:--|--:|\n| (a) | 40 |\n| (b) | 20 |\n\n"
        "| target | value |\n|:--|--:|\n| x | 1 |\n"
    )
    table = readme_table.main_table(markdown)
    assert table.startswith("| contender | fit s |\n|:--|--:|\n| (a) | 40 |")
    assert "| (b) | 20 |" in table and "| target |" not in table
    # Figures from two CPU models are not comparable: the table names its machine
    # and links to the page with the rest.
    assert "On AMD EPYC, 2 of 2 CPUs usable; every column" in table
    assert f"[the performance page]({readme_table.DOCS_PAGE})" in table
    assert readme_table.DOCS_PAGE.startswith("https://")
    assert (ROOT / "README.md").read_text().count(readme_table.START) == 1


def test_fit_loop_times_windows_after_the_warm_up():
    fit_loop = _load("fit_loop")
    # Fits 1-20 meet each of the 20 pairs of width and size once, compiling.
    assert fit_loop.WARMUP == 20
    assert fit_loop.windows(200) == (slice(20, 40), slice(180, 200))
    # Short runs (--small) start after their first third.
    assert fit_loop.windows(15) == (slice(5, 10), slice(10, 15))


def test_fit_loop_judges_the_growth_from_fit_10_with_resumable_fits_off_and_on():
    from skmnist.engine._resume import MAX_RESUMABLE_BYTES

    fit_loop = _load("fit_loop")
    rss = [900.0 + i for i in range(100)]
    run = {"rss_mb": rss, "fit_s": [0.1] * 100, "noise_lines": 0}
    assert fit_loop.summarize(run)["growth_from_10_mb"] == rss[-1] - rss[9]
    summary = {"tf-off": {"growth_from_10_mb": 12.0}, "tf": {"growth_from_10_mb": 60}}
    rows = fit_loop._growth_from_10(["tf-off", "tf"], summary)
    assert [(r[0], r[2], r[4]) for r in rows] == [
        ("growth10_tf-off", 12.0, 25),
        ("growth10_tf", 60, round(25 + MAX_RESUMABLE_BYTES / 1e6, 1)),
    ]
    assert fit_loop._growth_from_10(["tf", "jax"], summary) == []
