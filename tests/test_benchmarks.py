"""The benchmark suite runs end to end at its smoke-test size and reports sanely.

``benchmarks/run.py --small`` trains every contender on 2,000 real MNIST images for
one epoch, each in its own process; this checks that it exits 0 and that the JSON
it writes holds the expected keys and plausible values. Timings are noisy on
shared machines, so nothing here asserts on speed.
"""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "benchmarks" / "run.py"
HAS_JAX = importlib.util.find_spec("jax") is not None
CONTENDERS = ["a", "b", "c", "d"] if HAS_JAX else ["a", "b", "c"]
TARGET_IDS = {
    "fit_ratio_b_a",
    "accuracy_b_min",
    "accuracy_b_mean",
    "predict_ratio_b_a",
    "rss_ratio_b_a",
    "import_s",
    "import_without_tensorflow",
    "fetch_s",
}


def _load_report_module():
    spec = importlib.util.spec_from_file_location(
        "skmnist_bench_report", ROOT / "benchmarks" / "_report.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """Run `benchmarks/run.py --small` once; return (process, report, out dir)."""
    if not os.environ.get("SKMNIST_DATA_HOME"):
        pytest.fail(
            "SKMNIST_DATA_HOME is not set: the benchmark smoke test needs it to point "
            "at a folder holding mnist.npz (CI uses ../shared/data)."
        )
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, str(RUN), "--small", "--out", str(out)],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = None
    if (out / "latest.json").exists():
        report = json.loads((out / "latest.json").read_text())
    return proc, report, out


def test_small_run_exits_0_and_writes_files(small_run):
    proc, report, out = small_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert report is not None
    assert report["ok"] is True
    assert report["failures"] == []
    markdown = (out / "latest.md").read_text()
    assert "| contender | fit s (median) | ratio to (a) |" in markdown
    assert "| target | value | required | result |" in markdown
    assert not list(out.glob("*.tmp"))


def test_small_run_report_structure(small_run):
    _, report, _ = small_run
    assert report["schema"] == 1
    assert report["config"]["size"] == "small"
    assert report["config"]["contenders"] == CONTENDERS
    assert report["config"]["repeats"] == 1
    for key in ("summary", "targets", "machine", "runs", "notes", "command"):
        assert key in report
    assert set(report["summary"]["contenders"]) == set(CONTENDERS)
    # One process per measurement: import(s), fetch, gemm and each contender.
    names = [run["name"] for run in report["runs"]]
    assert {"import", "fetch", "gemm", *CONTENDERS} <= set(names)
    assert len({run["pid"] for run in report["runs"]}) == len(report["runs"])


def test_small_run_values_are_sane(small_run):
    _, report, _ = small_run
    summary = report["summary"]
    for name, s in summary["contenders"].items():
        assert s["n_ok"] == 1, name
        assert 0.0 <= s["test_accuracy"]["min"] <= s["test_accuracy"]["mean"] <= 1.0
        # One epoch on 2,000 images is far better than chance (0.1).
        assert s["test_accuracy"]["mean"] > 0.3, name
        assert math.isfinite(s["log_loss"]["mean"]) and s["log_loss"]["mean"] > 0
        assert s["fit_s"]["median"] > 0
        assert s["predict_s"]["median"] > 0
        assert s["predict_first_s"]["median"] > 0
        assert s["peak_rss_mb"]["median"] > 0
        assert s["gemm_fraction"]["median"] > 0
        assert s["fit_ratio_to_a"]["median"] > 0
        assert s["n_params"] == 669_706  # 784-512-512-10
        assert s["n_iter"] == [1]
    assert summary["contenders"]["a"]["fit_ratio_to_a"]["median"] == 1.0
    assert summary["contenders"]["a"]["n_fit_samples"] == 1800
    assert summary["contenders"]["b"]["n_fit_samples"] == 1800
    assert summary["contenders"]["c"]["n_fit_samples"] == 2000
    if HAS_JAX:
        assert summary["contenders"]["d"]["backend"] == "jax"
    assert summary["contenders"]["b"]["backend"] == "tensorflow"
    assert summary["ceiling"]["gflops"] > 0
    assert summary["import"]["median_s"] > 0
    assert isinstance(summary["import"]["tensorflow_imported"], bool)
    assert summary["fetch"]["median_s"] > 0


def test_small_run_reports_targets_without_enforcing(small_run):
    _, report, _ = small_run
    targets = {t["id"]: t for t in report["targets"]}
    assert set(targets) == TARGET_IDS
    for t in targets.values():
        assert t["enforced"] is False
        assert t["passed"] in (True, False)


def test_unknown_contender_is_a_usage_error():
    proc = subprocess.run(
        [sys.executable, str(RUN), "--contenders", "a,z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--contenders" in proc.stderr


def _fake_run(name, rep, **values):
    run = {
        "name": name,
        "rep": rep,
        "seed": rep - 1,
        "ok": True,
        "backend": "tensorflow",
        "n_fit_samples": 54_000,
        "n_val_samples": 6_000,
        "n_params": 669_706,
        "n_iter": 20,
        "test_accuracy": 0.982,
        "log_loss": 0.08,
        "predict_s": 0.4,
        "predict_first_s": 0.5,
        "peak_rss_bytes": 1_000_000_000,
        "params": {},
    }
    run.update(values)
    return run


def test_report_pairs_repetitions_and_judges_targets():
    report = _load_report_module()
    runs = [
        {"name": "gemm", "rep": 1, "ok": True, "gflops_best": 100.0, "size": 4096},
        {"name": "gemm", "rep": 2, "ok": True, "gflops_best": 200.0, "size": 4096},
        {
            "name": "import",
            "rep": 1,
            "ok": True,
            "import_s": 0.2,
            "tensorflow_imported": False,
            "keras_imported": False,
        },
        {
            "name": "fetch",
            "rep": 1,
            "ok": True,
            "fetch_s": 0.1,
            "tensorflow_imported": False,
        },
        # Machine drift: repetition 2 is twice as slow for both contenders.
        _fake_run("a", 1, fit_s=100.0),
        _fake_run("b", 1, fit_s=40.0, test_accuracy=0.9805, predict_s=0.2),
        _fake_run("a", 2, fit_s=200.0),
        _fake_run("b", 2, fit_s=80.0, test_accuracy=0.9790, predict_s=0.6),
        {"name": "c", "rep": 1, "seed": 0, "ok": False, "error": "boom"},
    ]
    summary = report.summarize(runs, ["a", "b", "c"])
    b = summary["contenders"]["b"]
    assert b["fit_ratio_to_a"]["runs"] == [0.4, 0.4]
    assert b["fit_s"]["median"] == 60.0
    assert b["test_accuracy"]["min"] == 0.9790
    assert summary["ceiling"]["gflops"] == 200.0
    flop = 6 * 54_000 * 669_706 * 20
    assert b["gemm_fraction"]["runs"] == pytest.approx(
        [flop / 40.0 / 200e9, flop / 80.0 / 200e9]
    )
    assert summary["contenders"]["c"]["n_ok"] == 0
    assert summary["contenders"]["c"]["n_failed"] == 1

    targets = {t["id"]: t for t in report.evaluate_targets(summary, enforced=True)}
    assert targets["fit_ratio_b_a"]["passed"] is True
    assert targets["accuracy_b_min"]["passed"] is False  # 0.979 < 0.980
    assert targets["accuracy_b_mean"]["passed"] is False  # 0.97975 < 0.981
    assert targets["predict_ratio_b_a"]["value"] == pytest.approx(1.0)
    assert targets["rss_ratio_b_a"]["passed"] is True
    assert targets["import_s"]["passed"] is True
    assert targets["import_without_tensorflow"]["passed"] is True
    assert targets["fetch_s"]["passed"] is True

    # Without (b), its targets cannot be judged.
    summary = report.summarize(runs, ["a"])
    targets = {t["id"]: t for t in report.evaluate_targets(summary, enforced=False)}
    assert targets["fit_ratio_b_a"]["passed"] is None
    assert "n/a" in report.target_table(list(targets.values()))


def test_report_notes_source_changes_during_a_run():
    report = _load_report_module()
    runs = [
        {"name": "gemm", "rep": 1, "skmnist_source": "aaa"},
        {"name": "b", "rep": 1, "skmnist_source": "aaa"},
        {"name": "b", "rep": 2, "skmnist_source": "bbb"},
    ]
    note = report.source_note(runs)
    assert "2 versions (v1 aaa, v2 bbb)" in note
    assert "b: v1 v2" in note
    assert "gemm" not in note
    assert report.source_note(runs[:2]) is None


def test_readme_table_takes_the_main_table():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "readme_table",
        Path(__file__).resolve().parent.parent / "benchmarks" / "readme_table.py",
    )
    readme_table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(readme_table)
    markdown = (
        "# title\n\nCommand: `python benchmarks/run.py` (today).\n\n"
        "| contender | fit s |\n|:--|--:|\n| (a) | 40 |\n| (b) | 20 |\n\n"
        "| target | value |\n|:--|--:|\n| x | 1 |\n"
    )
    table = readme_table.main_table(markdown)
    assert table.startswith("Command: `python benchmarks/run.py`")
    assert "| (b) | 20 |" in table and "| target |" not in table
    readme = Path(__file__).resolve().parent.parent / "README.md"
    assert readme.read_text().count(readme_table.START) == 1
