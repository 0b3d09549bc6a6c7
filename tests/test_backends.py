"""MNISTClassifier works unchanged on Keras's JAX backend."""

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow

_JAX_FIT = textwrap.dedent(
    """
    import keras
    import numpy as np
    from skmnist import MNISTClassifier, load_mnist_sample, make_mnist_pipeline

    assert keras.backend.backend() == "jax", keras.backend.backend()
    X, y = load_mnist_sample(return_X_y=True)
    X_test, y_test = load_mnist_sample(subset="test", return_X_y=True)
    params = dict(hidden_size=64, epochs=5, dropout=0.1, random_state=0)
    pipe = make_mnist_pipeline(**params).fit(X, y)
    again = make_mnist_pipeline(**params).fit(X, y)
    proba = pipe.predict_proba(X_test)
    assert proba.shape == (500, 10)
    assert np.array_equal(proba, again.predict_proba(X_test)), "not reproducible"
    unseeded = MNISTClassifier(hidden_size=8, epochs=1).fit(X.reshape(-1, 784), y)
    print("accuracy", pipe.score(X_test, y_test), unseeded.n_iter_)
    """
)


def test_jax_backend_fit_predict_reproducible():
    import jax  # noqa: F401 - the test extra installs it: fail, never skip
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run(
        [sys.executable, "-c", _JAX_FIT],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    accuracy = float(done.stdout.split("accuracy")[1].split()[0])
    assert accuracy > 0.7
