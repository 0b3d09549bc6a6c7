"""MNISTClassifier works unchanged on Keras's JAX backend."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def _python(code, backend, *args):
    """Run ``code`` in a fresh Python on Keras's ``backend``; return its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        env={**os.environ, "KERAS_BACKEND": backend},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


_JAX_FIT = textwrap.dedent(
    """
    import keras
    import numpy as np
    from skmnist import MNISTClassifier, load_mnist_sample, make_mnist_pipeline
    from skmnist import set_resumable_fits

    assert keras.backend.backend() == "jax", keras.backend.backend()
    set_resumable_fits(False)  # "again" trains again, not resumed from "pipe"
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

    stdout = _python(_JAX_FIT, "jax")
    accuracy = float(stdout.split("accuracy")[1].split()[0])
    assert accuracy > 0.7


_SAME_START = textwrap.dedent(
    """
    import sys
    import keras
    import numpy as np
    from skmnist import MNISTClassifier, load_mnist_sample

    X, y = load_mnist_sample(return_X_y=True)
    X = (X.reshape(len(X), -1) / 255.0).astype(np.float32)
    clf = MNISTClassifier(
        hidden_size=64, epochs=2, batch_size=32, warm_start=True, random_state=0
    ).initialize(X, y)
    path = sys.argv[1]
    if keras.backend.backend() == "tensorflow":
        np.savez(path, *clf.model_.get_weights())
    else:
        with np.load(path) as start:
            clf.model_.set_weights([start[f"arr_{i}"] for i in range(len(start.files))])
    clf.fit(X, y)
    np.savez(
        sys.argv[2],
        loss=clf.history_["loss"],
        val_loss=clf.history_["val_loss"],
        proba=clf.predict_proba(X),
    )
    """
)


def test_tensorflow_and_jax_train_the_same_model_from_the_same_start(tmp_path):
    """The backends differ only in their random streams: from identical initial
    weights they train the same network, up to float rounding."""
    import jax  # noqa: F401 - the test extra installs it: fail, never skip

    start = tmp_path / "start.npz"
    results = {}
    for backend in ("tensorflow", "jax"):
        out = tmp_path / f"{backend}.npz"
        _python(_SAME_START, backend, start, out)
        with np.load(out) as result:
            results[backend] = {k: result[k] for k in result.files}
    tf_run, jax_run = results["tensorflow"], results["jax"]
    # Same shuffles, same steps, same losses: only rounding differs. (On the
    # development machine: losses within 2e-7 relative, probabilities 1e-6.)
    np.testing.assert_allclose(jax_run["loss"], tf_run["loss"], rtol=1e-5)
    np.testing.assert_allclose(jax_run["val_loss"], tf_run["val_loss"], rtol=1e-5)
    np.testing.assert_allclose(jax_run["proba"], tf_run["proba"], atol=1e-4)


_CONFIDENTLY_WRONG = textwrap.dedent(
    """
    import json
    import numpy as np
    from skmnist import MNISTClassifier

    X = np.random.default_rng(0).random((64, 784), dtype=np.float32)
    y = np.repeat([0, 1], 32)
    clf = MNISTClassifier(
        hidden_size=16, epochs=1, batch_size=64, validation_split=0.0,
        warm_start=True, random_state=0,
    ).initialize(X, y)
    weights = clf.model_.get_weights()
    # The logits' bias makes the network sure of class 0 for every sample: the
    # probability of class 1 is about exp(-40), far below 1e-7.
    weights[-1] = np.array([40.0, 0.0], dtype=np.float32)
    clf.model_.set_weights(weights)
    clf.fit(X, y)
    bias = clf.model_.get_weights()[-1]
    print(json.dumps({"loss": clf.history_["loss"][0], "bias": bias.tolist()}))
    """
)


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_samples_the_network_is_surely_wrong_about_are_still_learned(backend):
    """Cross-entropy from the logits on every backend. From clipped probabilities
    (what Keras's JAX backend does for a softmax output) half of these samples
    would cost a constant -log(1e-7) = 16.1 with no gradient, and the other half
    nothing: the mean loss would be 8.06 and the bias would not move."""
    result = json.loads(_python(_CONFIDENTLY_WRONG, backend).strip().splitlines()[-1])
    # Half the samples cost about 40 each, the other half about 0; the hidden
    # layers' initial weights move it by a few units (21.5 at the floors,
    # Keras 3.5 and JAX 0.4.30), far from the 8.06 of clipped probabilities.
    assert result["loss"] == pytest.approx(20.0, abs=3.0)
    # One Adam step moved the bias towards class 1 by about the learning rate.
    assert result["bias"][0] < 40.0 - 5e-4 and result["bias"][1] > 5e-4


_THREADED_FITS = textwrap.dedent(
    """
    import random, threading
    import numpy as np
    from skmnist import MNISTClassifier, load_mnist_sample

    X, y = load_mnist_sample(return_X_y=True)
    X = X.reshape(len(X), -1)[:600] / np.float32(255)
    y = y[:600]
    random.seed(123)
    np.random.seed(123)
    before = (random.getstate(), np.random.get_state()[1].copy())
    # Three architectures this process has never built: each fit builds and
    # compiles a new network, a training workspace and a forward pass.
    kinds = [
        dict(hidden_size=24, random_state=1),
        dict(hidden_size=20, n_hidden_layers=1, dropout=0.3, random_state=2),
        dict(hidden_size=28, n_hidden_layers=3, activation="tanh", random_state=3),
    ]
    errors = []

    def fit(params):
        try:
            clf = MNISTClassifier(epochs=2, **params).fit(X, y)
            clf.predict_proba(X)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=fit, args=(k,)) for k in kinds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    after = (random.getstate(), np.random.get_state()[1])
    print(before[0] == after[0], np.array_equal(before[1], after[1]))
    """
)


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_seeded_fits_in_threads_leave_global_random_state_alone(backend):
    """Seeded fits of new architectures in three threads draw nothing from
    Python's or NumPy's global random state (compared whole, not by timing)."""
    assert _python(_THREADED_FITS, backend).split() == ["True", "True"]
