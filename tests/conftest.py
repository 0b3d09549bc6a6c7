"""Shared fixtures, and the check that the real MNIST is there.

Real-MNIST tests (marked ``realdata``) read the data set from
``SKMNIST_DATA_HOME`` when it is set (``.ci/run`` points it at
``../shared/data``), otherwise from skmnist's own cache, which ``skmnist fetch``
fills. When the selected tests include any of them and neither holds MNIST, the
run stops right after collection with one message saying how to get it, instead
of minutes later as scattered failures and download attempts. It never skips
them: a green run must mean the real-data checks ran. A run that selects no
real-data test (``-m "not realdata"``) needs no data.

The small-fit settings that test modules share (``FAST``, ``SMALL_NETWORK``) are
constants, not fixtures: they live in ``tests/_settings.py``, imported as
``from _settings import FAST`` (pytest puts ``tests/`` on ``sys.path``, as for
the ``_serve_server`` and ``_http_server`` helpers), and a module's own variant
is derived from them where it is defined.
"""

import os
import shutil
import sysconfig

import numpy as np
import pytest


def _missing_mnist():
    """Why the real-MNIST tests cannot read MNIST, or None when they can."""
    from skmnist import fetch_mnist
    from skmnist.datasets import get_data_home

    folder = get_data_home()  # SKMNIST_DATA_HOME when set, else skmnist's cache
    where = (
        f"SKMNIST_DATA_HOME={folder}"
        if os.environ.get("SKMNIST_DATA_HOME")
        else f"skmnist's cache ({folder}; SKMNIST_DATA_HOME is not set)"
    )
    try:
        fetch_mnist(subset="test", data_home=folder, download_if_missing=False)
    except (OSError, ValueError) as exc:
        if type(exc).__name__ == "MNISTFetchError":  # nothing there to read
            return where, "neither mnist.npz nor MNIST's four IDX files are there"
        return where, f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    # The real-data tests and the scripts they start read SKMNIST_DATA_HOME.
    os.environ["SKMNIST_DATA_HOME"] = folder
    return None


def pytest_collection_finish(session):
    if session.config.option.collectonly:
        return
    selected = [item for item in session.items if item.get_closest_marker("realdata")]
    if not selected:
        return
    missing = _missing_mnist()
    if missing is not None:
        where, reason = missing
        pytest.exit(
            f"{len(selected)} selected tests read the real MNIST (marked realdata), "
            f"and {where} does not hold it ({reason}). Download it "
            "once into skmnist's cache with `skmnist fetch` (11 MB), or set "
            "SKMNIST_DATA_HOME to a folder holding mnist.npz; "
            '`-m "not realdata"` runs the tests that need no data.',
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


def _real_mnist(subset):
    from skmnist import fetch_mnist

    home = os.environ.get("SKMNIST_DATA_HOME")
    if not home:
        pytest.fail(
            "SKMNIST_DATA_HOME is not set: real-MNIST tests need it to point at a "
            "folder holding mnist.npz (CI uses ../shared/data)."
        )
    try:
        return fetch_mnist(subset=subset, data_home=home, download_if_missing=False)
    except OSError as exc:
        pytest.fail(f"real MNIST is not readable from SKMNIST_DATA_HOME={home}: {exc}")


@pytest.fixture(scope="session")
def mnist_train():
    """The 60,000 real MNIST training images (uint8) and labels."""
    return _real_mnist("train")


@pytest.fixture(scope="session")
def mnist_test():
    """The 10,000 real MNIST test images (uint8) and labels."""
    return _real_mnist("test")


@pytest.fixture
def blobs():
    """A small, easy 3-class problem: 150 rows of 8 features, labels 'a', 'b', 'c'."""
    rng = np.random.RandomState(0)
    centers = rng.uniform(-2, 2, size=(3, 8))
    y = np.repeat(np.array(["a", "b", "c"]), 50)
    X = centers[np.repeat(np.arange(3), 50)] + rng.normal(scale=0.5, size=(150, 8))
    perm = rng.permutation(150)
    return X[perm].astype(np.float32), y[perm]


@pytest.fixture(scope="session")
def serve_model_path(tmp_path_factory):
    """A small model trained on the packaged sample, saved with save_model, for
    the tests of ``skmnist serve`` (a few seconds)."""
    from skmnist import load_mnist_sample, make_mnist_pipeline, save_model

    X, y = load_mnist_sample(subset="train", return_X_y=True)
    pipe = make_mnist_pipeline(hidden_size=64, epochs=3, random_state=0).fit(X, y)
    path = tmp_path_factory.mktemp("serve") / "digits.skmnist"
    save_model(pipe, path)
    return path


@pytest.fixture(scope="session")
def skmnist_command():
    """The ``skmnist`` console script of this Python's installation, as argv."""
    name = "skmnist.exe" if os.name == "nt" else "skmnist"
    path = os.path.join(sysconfig.get_path("scripts"), name)
    if not os.path.exists(path):
        path = shutil.which("skmnist")
    if path is None:
        pytest.fail(
            "the skmnist console script is not installed: pip install -e . "
            "(pyproject.toml declares [project.scripts] skmnist)"
        )
    return [path]


@pytest.fixture
def redefined_optimizer():
    """Makes optimizer classes all named alike, as a notebook cell run again
    would: ``redefined_optimizer(factor)`` is SGD whose steps are ``factor``
    times as long."""

    def redefined(factor):
        import keras

        class Scaled(keras.optimizers.SGD):
            def update_step(self, gradient, variable, learning_rate):
                super().update_step(gradient * factor, variable, learning_rate)

        return Scaled

    return redefined
