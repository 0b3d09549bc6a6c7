"""scikit-learn's callbacks (``sklearn.callback``, scikit-learn >= 1.9) report
each epoch of MNISTClassifier's fit as a subtask, inside searches too."""

import importlib.util
import warnings

import numpy as np
import pytest
from _settings import SMALL_NETWORK
from sklearn.model_selection import GridSearchCV

from skmnist import (
    MNISTClassifier,
    load_mnist_sample,
    make_mnist_pipeline,
    set_resumable_fits,
)

HAS_CALLBACKS = importlib.util.find_spec("sklearn.callback") is not None
needs_callbacks = pytest.mark.skipif(
    not HAS_CALLBACKS,
    reason="sklearn.callback arrived in scikit-learn 1.9 (the floor run has 1.7)",
)


@pytest.mark.skipif(HAS_CALLBACKS, reason="for scikit-learn < 1.9 only")
def test_before_scikit_learn_1_9_nothing_changes(data):
    X, y = data
    assert not hasattr(MNISTClassifier(), "set_callbacks")
    clf = MNISTClassifier(**SMALL, epochs=2).fit(X, y)
    assert clf.n_iter_ == 2


class Recorder:
    """A FitCallback that records every task it hears of, by name."""

    def __init__(self):
        self.begun, self.ended, self.fitted = [], [], []

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, *, X=None, y=None):
        self.begun.append((type(estimator).__name__, context.task_name))

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.ended.append((type(estimator).__name__, context.task_name))
        self.fitted.append(fitted_estimator)

    def epochs(self):
        return [t for t in self.ended if t == ("MNISTClassifier", "epoch")]


class PropagatedRecorder(Recorder):
    max_propagation_depth = None  # reaches the classifier inside any meta-estimator


@pytest.fixture(autouse=True)
def _every_epoch_trained():
    """Each test trains its epochs (none resumed from another test's fit), but
    those that turn resumption on themselves."""
    previous = set_resumable_fits(False)
    yield
    set_resumable_fits(previous)


@pytest.fixture
def data():
    X, y = load_mnist_sample(return_X_y=True)
    return X[:600].reshape(600, -1) / 255.0, y[:600]


SMALL = {**SMALL_NETWORK, "random_state": 0}


@needs_callbacks
def test_each_epoch_is_a_subtask_of_the_fit(data):
    X, y = data
    recorder = Recorder()
    clf = MNISTClassifier(**SMALL, epochs=3).set_callbacks(recorder)
    clf.fit(X, y)
    assert recorder.begun[0] == ("MNISTClassifier", "fit")
    assert recorder.ended[-1] == ("MNISTClassifier", "fit")
    assert len(recorder.epochs()) == 3
    assert recorder.begun.count(("MNISTClassifier", "epoch")) == 3


@needs_callbacks
def test_an_epochs_fitted_estimator_predicts_with_that_epochs_weights(data):
    X, y = data
    recorder = Recorder()
    clf = MNISTClassifier(**SMALL, epochs=2, validation_split=0.0)
    clf.set_callbacks(recorder).fit(X, y)
    last = recorder.fitted[-2]  # the last epoch's, before the fit's own end
    np.testing.assert_allclose(last.predict_proba(X), clf.predict_proba(X), atol=1e-6)
    first = recorder.fitted[0]
    assert not np.allclose(first.predict_proba(X), clf.predict_proba(X))


@needs_callbacks
def test_a_callback_can_stop_the_fit(data):
    X, y = data

    class StopAfterTwo(Recorder):
        def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
            super().on_fit_task_end(estimator, context)
            return len(self.epochs()) == 2

    clf = MNISTClassifier(**SMALL, epochs=5).set_callbacks(StopAfterTwo())
    clf.fit(X, y)
    assert clf.n_iter_ == 2 and len(clf.history_["loss"]) == 2


@needs_callbacks
def test_resumed_epochs_are_reported_as_done(data):
    X, y = data
    set_resumable_fits(True)
    MNISTClassifier(**SMALL, epochs=2).fit(X, y)
    recorder = Recorder()
    clf = MNISTClassifier(**SMALL, epochs=5).set_callbacks(recorder).fit(X, y)
    assert clf.n_iter_ == 5
    assert len(recorder.epochs()) == 5
    # The two resumed epochs have no network to score: their weights were not kept.
    assert recorder.fitted[:2] == [None, None]
    assert all(f is not None for f in recorder.fitted[2:5])


@needs_callbacks
def test_a_grid_search_reports_every_epoch_trained_or_resumed(data):
    X, y = data
    recorder = PropagatedRecorder()
    grid = GridSearchCV(
        make_mnist_pipeline(**SMALL),
        {"mlp__hidden_size": [8, 12], "mlp__epochs": [1, 2]},
        cv=2,
    )
    X_images = (X * 255).reshape(-1, 28, 28)
    set_resumable_fits(True)  # each 2-epoch fit resumes its 1-epoch twin
    grid.set_callbacks(recorder).fit(X_images, y)
    # 2 widths x (1 + 2 epochs) x 2 folds, and the refit of the best candidate.
    expected = 2 * (1 + 2) * 2 + grid.best_params_["mlp__epochs"]
    assert len(recorder.epochs()) == expected


@needs_callbacks
def test_progress_bar_and_scoring_monitor_in_a_search(data):
    from sklearn.callback import ProgressBar, ScoringMonitor

    X, y = data
    monitor = ScoringMonitor(scoring="accuracy")
    clf = MNISTClassifier(**SMALL, epochs=3).set_callbacks(monitor)
    clf.fit(X, y)
    rows = monitor.get_logs().data
    epochs = [row["accuracy"] for row in rows if row["task_name"] == "epoch"]
    assert len(epochs) == 3 and all(0 <= score <= 1 for score in epochs)
    # The fit's own score, at its end, is the last epoch's network's.
    (fit,) = [row["accuracy"] for row in rows if row["task_name"] == "fit"]
    assert fit == epochs[-1] == clf.score(X, y)
    grid = GridSearchCV(
        make_mnist_pipeline(**SMALL), {"mlp__epochs": [1, 2]}, cv=2
    ).set_callbacks(ProgressBar())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every step of the pipeline takes them
        grid.fit((X * 255).reshape(-1, 28, 28), y)
    assert grid.best_params_["mlp__epochs"] in (1, 2)
