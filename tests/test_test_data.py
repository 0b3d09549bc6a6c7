"""The test suite's own check for the real MNIST (tests/conftest.py).

A run that selects real-data tests when neither ``SKMNIST_DATA_HOME`` nor
skmnist's cache holds MNIST stops after collection with one message naming
``skmnist fetch`` and ``SKMNIST_DATA_HOME``, runs nothing and exits non-zero;
a run that selects none needs no data; the cache serves when the variable is
unset. Each case is a pytest run in a fresh process on a tiny test file that
sits beside a copy of the suite's conftest.py.
"""

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # pytest runs in fresh processes

CONFTEST = Path(__file__).with_name("conftest.py")

TINY_TESTS = """
import os
import pytest

@pytest.mark.realdata
def test_reads_real_mnist():
    print("DATA_HOME=" + os.environ["SKMNIST_DATA_HOME"])

def test_needs_no_data():
    pass
"""


def _npz_with_mnist_shapes():
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        x_train=np.zeros((60000, 28, 28), np.uint8),
        y_train=np.arange(60000, dtype=np.uint8) % 10,
        x_test=np.zeros((10000, 28, 28), np.uint8),
        y_test=np.arange(10000, dtype=np.uint8) % 10,
    )
    return buffer.getvalue()


def _pytest(tmp_path, *args, data_home=None):
    """Run pytest on the tiny tests with `tmp_path`/sklearn as scikit-learn's data
    folder (so skmnist's cache is `tmp_path`/sklearn/mnist)."""
    suite = tmp_path / "suite"
    suite.mkdir(exist_ok=True)
    shutil.copy(CONFTEST, suite / "conftest.py")
    (suite / "test_tiny.py").write_text(TINY_TESTS)
    (suite / "pytest.ini").write_text(
        "[pytest]\nmarkers =\n    realdata: reads the real MNIST\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "SKMNIST_DATA_HOME"}
    env["SCIKIT_LEARN_DATA"] = str(tmp_path / "sklearn")
    if data_home is not None:
        env["SKMNIST_DATA_HOME"] = str(data_home)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-s", *args],
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_without_the_data_the_run_stops_with_one_message(tmp_path):
    proc = _pytest(tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert output.count("skmnist fetch") == 1
    assert "SKMNIST_DATA_HOME" in output
    assert "DATA_HOME=" not in output and " passed" not in output


def test_a_data_home_without_the_data_stops_the_run_too(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = _pytest(tmp_path, data_home=tmp_path / "empty")
    output = proc.stdout + proc.stderr
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert f"SKMNIST_DATA_HOME={tmp_path / 'empty'}" in output
    assert "skmnist fetch" in output


def test_a_run_that_selects_no_real_data_test_needs_no_data(tmp_path):
    proc = _pytest(tmp_path, "-m", "not realdata")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 1 deselected" in proc.stdout


def test_skmnist_cache_serves_when_the_variable_is_unset(tmp_path):
    cache = tmp_path / "sklearn" / "mnist"
    cache.mkdir(parents=True)
    (cache / "mnist.npz").write_bytes(_npz_with_mnist_shapes())
    proc = _pytest(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"DATA_HOME={cache}" in proc.stdout
    assert "2 passed" in proc.stdout
