"""Many fits in one process: compiled once per network, flat memory, no noise,
each estimator owning its weights, threads that do not disturb each other."""

import gc
import json
import os
import random
import re
import subprocess
import sys
import textwrap
import threading

import _settings
import keras
import numpy as np
import pytest

from skmnist import (
    MNISTClassifier,
    clear_compiled_networks,
    load_mnist_sample,
    set_resumable_fits,
)

FAST = {**_settings.FAST, "epochs": 2}


@pytest.fixture(scope="module")
def digits():
    X, y = load_mnist_sample(return_X_y=True)
    return (X[:600].reshape(600, -1) / 255.0).astype(np.float32), y[:600]


def _run(code, backend="tensorflow", timeout=300):
    """Run ``code`` in a fresh Python with Keras's ``backend``, as a user would."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["KERAS_BACKEND"] = backend
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# -- memory ----------------------------------------------------------------------

_MANY_FITS = """
    import gc, json, psutil
    import numpy as np
    from skmnist import load_mnist_sample, make_mnist_pipeline

    X, y = load_mnist_sample(return_X_y=True)

    def live_objects():
        gc.collect()
        objects = gc.get_objects()
        graph = sum(
            type(o).__name__ in ("Operation", "FuncGraph", "AtomicFunction")
            for o in objects
        )
        return graph, len(objects), psutil.Process().memory_info().rss / 2**20

    counts = {}
    # 30 kinds of fit (3 widths x 2 dropouts x 5 data sizes), each twice: the
    # second round compiles nothing new and must hold memory flat.
    for i in range(60):
        n = 900 + 30 * (i % 5)  # CV folds differ in size
        pipe = make_mnist_pipeline(
            hidden_size=(16, 24, 32)[i % 3], epochs=1, dropout=0.1 * (i % 2),
            random_state=i,
        )
        pipe.fit(X[:n], y[:n]).predict_proba(X[:50])
        del pipe
        if i + 1 in (30, 60):
            counts[i + 1] = live_objects()
    print(json.dumps(counts))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_many_fits_in_one_process_hold_memory_flat(backend):
    done = _run(_MANY_FITS, backend)
    assert done.returncode == 0, done.stderr[-3000:]
    counts = {int(k): v for k, v in json.loads(done.stdout).items()}
    (graph_30, objects_30, rss_30), (graph_60, objects_60, rss_60) = (
        counts[30],
        counts[60],
    )
    # Before: ~980 Operations and ~8,400 Python objects more per fit (TensorFlow),
    # 7.5 MB (TensorFlow) and 17 MB (JAX) more resident memory per fit.
    assert graph_60 == graph_30
    assert objects_60 - objects_30 < 300, (objects_30, objects_60)
    assert rss_60 - rss_30 < 30, (rss_30, rss_60)


def test_clear_compiled_networks_then_fit_again(digits):
    X, y = digits
    first = MNISTClassifier(**FAST, random_state=3).fit(X, y)
    proba = first.predict_proba(X)
    assert clear_compiled_networks() >= 2  # a training and a prediction program
    assert clear_compiled_networks() == 0
    np.testing.assert_array_equal(first.predict_proba(X), proba)
    again = MNISTClassifier(**FAST, random_state=3).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), proba)


def test_the_cache_keeps_the_most_recent_networks(digits, monkeypatch):
    from skmnist.engine import _compiled

    X, y = digits
    monkeypatch.setattr(_compiled, "MAX_COMPILED_NETWORKS", 3)
    clear_compiled_networks()
    for hidden_size in (4, 5, 6, 7):
        MNISTClassifier(**{**FAST, "hidden_size": hidden_size}).fit(X, y)
    assert clear_compiled_networks() == 3


def _traced_graphs():
    gc.collect()
    return sum(type(o).__name__ == "FuncGraph" for o in gc.get_objects())


def test_a_network_the_cache_forgets_leaves_no_traced_program_alive(digits):
    # TensorFlow kept every traced training program alive for good, through
    # the custom gradient of the optimizer's all-reduce, registered process-wide:
    # a loop of fits over many network sizes grew by megabytes a fit.
    X, y = digits
    clear_compiled_networks()
    before = _traced_graphs()
    MNISTClassifier(**FAST, random_state=0).fit(X, y).predict_proba(X)
    assert _traced_graphs() > before  # the cache holds them
    clear_compiled_networks()
    assert _traced_graphs() == before


# -- reuse gives the same model --------------------------------------------------


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
@pytest.mark.slow
def test_a_reused_network_trains_the_model_a_new_one_does(backend):
    done = _run(
        """
        import numpy as np
        from skmnist import MNISTClassifier, clear_compiled_networks
        from skmnist import load_mnist_sample, set_resumable_fits

        set_resumable_fits(False)  # each fit below trains: none resumes another

        X, y = load_mnist_sample(return_X_y=True)
        X = X[:500].reshape(500, -1) / 255.0
        y = y[:500]
        params = dict(hidden_size=16, epochs=2, dropout=0.2)
        new = MNISTClassifier(**params, random_state=42).fit(X, y).predict_proba(X)
        MNISTClassifier(**params, random_state=1).fit(X[:300], y[:300])
        reused = MNISTClassifier(**params, random_state=42).fit(X, y)
        assert np.array_equal(new, reused.predict_proba(X)), "reuse changed it"
        clear_compiled_networks()
        again = MNISTClassifier(**params, random_state=42).fit(X, y)
        assert np.array_equal(new, again.predict_proba(X)), "recompiling changed it"
        np.save("/dev/stdout", new[:5])
        """,
        backend,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_an_optimizer_class_redefined_under_its_name_trains_its_own_rule(
    digits, redefined_optimizer
):
    # The class, not its name, selects the compiled update.
    X, y = digits
    first, second = redefined_optimizer(1.0), redefined_optimizer(0.25)
    previous = set_resumable_fits(False)
    try:
        MNISTClassifier(**FAST, optimizer=first(0.1), random_state=0).fit(X, y)
        reused = MNISTClassifier(**FAST, optimizer=second(0.1), random_state=0)
        reused.fit(X, y)
        clear_compiled_networks()
        new = MNISTClassifier(**FAST, optimizer=second(0.1), random_state=0)
        new.fit(X, y)
    finally:
        set_resumable_fits(previous)
    np.testing.assert_array_equal(reused.predict_proba(X), new.predict_proba(X))


def test_a_fitted_estimator_owns_its_weights(digits):
    X, y = digits
    first = MNISTClassifier(**FAST, random_state=0).fit(X, y)
    proba = first.predict_proba(X)
    MNISTClassifier(**FAST, random_state=1).fit(X, y)  # same network, this thread
    other = threading.Thread(
        target=lambda: MNISTClassifier(**FAST, random_state=2).fit(X, y)
    )
    other.start()
    other.join()
    np.testing.assert_array_equal(first.predict_proba(X), proba)


# -- threads -------------------------------------------------------------------------


class _Lockstep(keras.callbacks.Callback):
    """Holds every fit at each epoch's end until all of them got there.

    So the fits certainly run at the same time, whatever the scheduler does.
    """

    def __init__(self, barrier):
        super().__init__()
        self.barrier = barrier

    def on_epoch_end(self, epoch, logs=None):
        self.barrier.wait(timeout=120)


def test_fits_and_predictions_in_threads_match_one_after_the_other(digits):
    X, y = digits
    configs = [
        dict(hidden_size=16, random_state=0),
        dict(hidden_size=16, random_state=1),  # same network as the first
        dict(hidden_size=24, random_state=0, dropout=0.2),
        dict(hidden_size=24, random_state=0, dropout=0.2),  # same as the third
    ]
    expected = [MNISTClassifier(**FAST | c).fit(X, y).predict_proba(X) for c in configs]
    barrier = threading.Barrier(len(configs))
    results, errors = [None] * len(configs), []

    def fit(i):
        try:
            clf = MNISTClassifier(**FAST | configs[i], callbacks=[_Lockstep(barrier)])
            clf.fit(X, y)
            barrier.wait(timeout=120)  # and predict at the same time, too
            results[i] = clf.predict_proba(X)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=fit, args=(i,)) for i in range(len(configs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_fit_never_touches_the_callers_random_state(digits):
    """A fit in another thread leaves this thread's `random` and `np.random` be."""
    X, y = digits
    fit_started, caller_drew = threading.Event(), threading.Event()

    class Pause(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                fit_started.set()
                caller_drew.wait(timeout=120)

    clf = MNISTClassifier(**FAST, dropout=0.2, random_state=5, callbacks=[Pause()])
    thread = threading.Thread(target=clf.fit, args=(X, y))
    thread.start()
    assert fit_started.wait(timeout=120)
    random.seed(123)
    np.random.seed(123)
    first = (random.random(), np.random.random_sample())
    caller_drew.set()
    thread.join()
    second = (random.random(), np.random.random_sample())
    reference_py, reference_np = random.Random(123), np.random.RandomState(123)
    assert first == (reference_py.random(), reference_np.random_sample())
    assert second == (reference_py.random(), reference_np.random_sample())
    # and the fit in the thread is the fit one gets without any thread
    alone = MNISTClassifier(**FAST, dropout=0.2, random_state=5).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), alone.predict_proba(X))


# -- no TensorFlow lines ---------------------------------------------------------

# TensorFlow's and absl's C++ lines, TensorFlow's Python logger and Keras's warnings.
_TF_NOISE = re.compile(
    r"^(WARNING: All log messages before absl|[IWEF]\d{4} \d\d:\d\d:|"
    r"WARNING:tensorflow|WARNING:absl|.*(tensorflow|keras|absl|jax)[/.].*Warning)",
    re.MULTILINE,
)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_grid_search_and_friends_print_nothing(backend):
    done = _run(
        """
        import numpy as np
        from sklearn.model_selection import GridSearchCV, cross_validate
        from skmnist import MNISTClassifier, load_mnist_sample, make_mnist_pipeline

        X, y = load_mnist_sample(return_X_y=True)
        X, y = X[:600], y[:600]
        grid = {"mlp__hidden_size": [8, 16], "mlp__epochs": [1, 2]}
        for n_jobs in (1, 2):
            GridSearchCV(
                make_mnist_pipeline(random_state=0), grid, cv=2, n_jobs=n_jobs
            ).fit(X, y)
        cross_validate(make_mnist_pipeline(hidden_size=8, epochs=1), X, y, cv=2)
        for i in range(8):  # enough fits to have drawn retracing warnings before
            pipe = make_mnist_pipeline(hidden_size=8 + i, epochs=1).fit(X, y)
            pipe.predict(X), pipe.predict_proba(X), pipe.score(X, y)
        flat = X.reshape(len(X), -1) / 255.0
        MNISTClassifier(hidden_size=8).partial_fit(flat, y).partial_fit(flat, y)
        print("done")
        """,
        backend,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "done"
    assert not _TF_NOISE.search(done.stderr), done.stderr[-3000:]
    assert done.stderr == ""


@pytest.mark.slow
def test_a_users_own_log_level_is_respected():
    done = subprocess.run(
        [sys.executable, "-c", "import skmnist.estimator._classifier"],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # Asked for: TensorFlow's own start-up lines come through, untouched.
    assert re.search(r"^I\d{4} ", done.stderr, re.MULTILINE), done.stderr


@pytest.mark.slow
def test_other_output_during_the_quiet_start_is_kept():
    done = _run(
        """
        import os, sys

        class Talk:  # writes to stderr while TensorFlow is being imported
            def find_spec(self, name, path=None, target=None):
                if name == "tensorflow":
                    os.write(2, b"user line\\n")

        sys.meta_path.insert(0, Talk())
        import skmnist.estimator._classifier
        assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ  # left as found
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "user line\n"
