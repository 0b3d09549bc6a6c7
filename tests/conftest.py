"""Shared fixtures.

Real-MNIST tests read the data set through ``SKMNIST_DATA_HOME`` (``.ci/run`` points
it at ``../shared/data``). They fail, never skip, when it is missing: a green run
must mean the real-data checks ran.

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
