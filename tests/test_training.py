"""The epoch loop of a fit (skmnist/engine/_training.py), through MNISTClassifier.

What each epoch does and leaves: Keras's training step for step, ``history_`` and
``n_iter_``, early stopping and the best weights, callbacks that see, and may
stop, every epoch. The failures of a fit (divergence, interruption) and what they
leave are in test_classifier_errors.py; the progress bar in test_progress.py.
"""

import keras
import numpy as np
import pytest
from _settings import FAST

from skmnist import MNISTClassifier

SEEDED = {**FAST, "random_state": 0}


class EpochRecorder(keras.callbacks.Callback):
    """Records each finished epoch's number, logs and weights; may stop training."""

    def __init__(self, stop_after=None):
        super().__init__()
        self.stop_after = stop_after
        self.epochs, self.logs, self.weights = [], [], []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)
        self.logs.append(dict(logs))
        self.weights.append(self.model.get_weights())
        if epoch == self.stop_after:
            self.model.stop_training = True


def test_training_is_keras_training():
    """One epoch of skmnist's compiled loop is Model.fit's epoch, step for step."""
    rng = np.random.RandomState(0)
    X = rng.rand(300, 12).astype(np.float32)  # 300 rows: the last batch is short
    y = rng.randint(0, 3, 300)
    clf = MNISTClassifier(
        hidden_size=16,
        epochs=2,
        batch_size=64,
        validation_split=0.0,
        shuffle=False,
        warm_start=True,
        jit_compile=False,
        random_state=0,
    )
    clf.initialize(X, y)  # scikeras: build the network without training it
    start = clf.model_.get_weights()
    weights = np.linspace(0.5, 2.0, 300)
    clf.fit(X, y, sample_weight=weights)

    reference = keras.Sequential(
        [
            keras.Input((12,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    reference.set_weights(start)
    reference.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = reference.fit(
        X,
        y,
        sample_weight=weights,
        batch_size=64,
        epochs=2,
        shuffle=False,
        verbose=0,
    ).history
    for ours, theirs in zip(
        clf.model_.get_weights(), reference.get_weights(), strict=True
    ):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(clf.history_["loss"], history["loss"], rtol=1e-4)
    np.testing.assert_allclose(clf.history_["accuracy"], history["accuracy"], rtol=1e-6)


def test_history_and_n_iter(blobs):
    X, y = blobs
    clf = MNISTClassifier(**{**SEEDED, "epochs": 4}).fit(X, y)
    assert set(clf.history_) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 4 for v in clf.history_.values())
    assert all(isinstance(v, float) for v in clf.history_["loss"])
    assert clf.n_iter_ == 4
    assert not hasattr(clf, "best_epoch_")


def test_early_stopping_stops_and_restores_best_epoch():
    rng = np.random.RandomState(0)
    X = rng.rand(200, 20).astype(np.float32)
    y = rng.randint(0, 2, 200)  # random labels: validation loss soon rises
    weights_after_epoch = []
    recorder = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: weights_after_epoch.append(
            recorder.model.get_weights()
        )
    )
    clf = MNISTClassifier(
        hidden_size=64,
        epochs=200,
        learning_rate=0.01,
        validation_split=0.3,
        early_stopping=True,
        patience=3,
        random_state=0,
        callbacks=[recorder],
    ).fit(X, y)
    assert clf.n_iter_ < 200
    val_loss = clf.history_["val_loss"]
    assert clf.best_epoch_ == int(np.argmin(val_loss))
    assert clf.n_iter_ == clf.best_epoch_ + 1 + 3
    # the model holds the weights of the best epoch, not of the last one
    for restored, best in zip(
        clf.model_.get_weights(), weights_after_epoch[clf.best_epoch_], strict=True
    ):
        np.testing.assert_array_equal(restored, best)
    assert not np.array_equal(clf.model_.get_weights()[0], weights_after_epoch[-1][0])


def test_history_without_validation_has_no_val_keys(blobs):
    X, y = blobs
    clf = MNISTClassifier(**SEEDED, validation_split=0.0).fit(X, y)
    assert set(clf.history_) == {"loss", "accuracy"}
    assert clf.n_iter_ == len(clf.history_["loss"]) == FAST["epochs"]


def test_a_callback_sees_each_epoch_as_history_records_it(blobs):
    X, y = blobs
    recorder = EpochRecorder()
    clf = MNISTClassifier(**SEEDED, callbacks=[recorder]).fit(X, y)
    assert recorder.epochs == [0, 1, 2]
    for key, values in clf.history_.items():
        assert [logs[key] for logs in recorder.logs] == pytest.approx(values)
    # The model a callback sees is the one being trained: the last epoch's
    # weights are those the fit leaves.
    for seen, left in zip(recorder.weights[-1], clf.model_.get_weights(), strict=True):
        np.testing.assert_array_equal(seen, left)


def test_partial_fit_numbers_its_epoch_after_the_history(blobs):
    X, y = blobs
    recorder = EpochRecorder()
    clf = MNISTClassifier(**SEEDED, callbacks=[recorder]).fit(X, y)
    clf.partial_fit(X, y)
    assert recorder.epochs == [0, 1, 2, 3]
    assert clf.n_iter_ == 4 and len(clf.history_["val_loss"]) == 4


def test_a_callback_that_stops_training_ends_the_fit_after_that_epoch(blobs):
    X, y = blobs
    recorder = EpochRecorder(stop_after=1)
    clf = MNISTClassifier(**{**SEEDED, "epochs": 10}, callbacks=[recorder]).fit(X, y)
    assert recorder.epochs == [0, 1]
    assert clf.n_iter_ == 2
    assert all(len(values) == 2 for values in clf.history_.values())
    for seen, left in zip(recorder.weights[-1], clf.model_.get_weights(), strict=True):
        np.testing.assert_array_equal(seen, left)
