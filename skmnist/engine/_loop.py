"""One fit of an estimator's network: the engine's one door for the classifier.

:func:`fit_network` reads top-down: the stratified hold-out (``_split``), the
training :class:`~skmnist.engine._compiled.NetworkSpec` (the network's own,
plus optimizer, batch size and XLA), the compiled network from the cache; then,
if :mod:`~skmnist.engine._resume` keeps the end state of an identical fit of
fewer epochs, that state is loaded and only the remaining epochs run, through a
session over the data and :func:`skmnist.engine._training.train`; the end state
is kept for a longer fit. The estimator keeps the scikit-learn protocol (its
parameters, their checks, ``history_``); this module reads its parameters and
trains its ``model_``.
"""

import contextlib
import dataclasses
import math

import numpy as np
from sklearn.model_selection import train_test_split

from .._fixes import InvalidParameterError
from ..network import state
from . import _compiled, _resume, _training
from ._build import make_optimizer, optimizer_key
from ._runtime import keras

__all__ = ["Trained", "fit_network"]

# XLA saves ~30% of a training epoch on the CPU and costs about a second of
# compiling, once per network and data size (see skmnist.engine._batches.bucket) in a
# process: a grid search reuses it across folds and epochs settings. Worth it when
# an epoch pushes at least this many (training rows x network parameters), e.g.
# 6,000 rows through a 64-unit network: shorter epochs gain too little to repay
# it over a few dozen fits.
_XLA_MIN_EPOCH_WORK = 2e8


@dataclasses.dataclass(frozen=True)
class Trained:
    """What a fit did to the network.

    Attributes
    ----------
    history : dict of str to list of float
        Per-epoch logs of every epoch of this fit that finished, resumed ones
        included.
    best_epoch : int or None
        With early stopping, the epoch (numbered from ``initial_epoch``, as
        Keras numbers them) whose weights the network holds; else None.
    interrupted : bool
        Whether a ``KeyboardInterrupt`` ended training after its first epoch:
        the network holds the weights reached.
    """

    history: dict
    best_epoch: int = None
    interrupted: bool = False

    @property
    def n_epochs(self):
        """The epochs of this fit that finished, resumed ones included."""
        return len(self.history.get("loss", ()))


def fit_network(
    estimator,
    X,
    y,
    sample_weight,
    *,
    seed,
    epochs,
    initial_epoch,
    continues,
    observer=None,
):
    """Train ``estimator.model_`` on prepared data for ``epochs`` epochs.

    Parameters
    ----------
    estimator : MNISTClassifier
        Its parameters say how to train; its ``model_`` (compiled, with its
        optimizer built) is trained in place.
    X, y, sample_weight : ndarray
        float32 rows, int32 class indices and float32 weights (or None: all 1).
    seed : int or None
        The fit's seed: hold-out, batch orders, resumption.
    epochs : int
        Epochs to train.
    initial_epoch : int
        The number of the first epoch (callbacks and early stopping count
        from it).
    continues : bool
        Whether the weights are an earlier fit's (``warm_start``,
        ``partial_fit``): such a fit never resumes a kept end state, and if it
        raises, the weights are put back as they were.
    observer : keras.callbacks.Callback, default=None
        Told of each epoch like a Keras callback, and of the epochs resumed from
        a kept end state through its ``resumed(n_epochs)``; unlike the
        estimator's ``callbacks``, it does not keep the fit from resuming (it
        only watches: scikit-learn's callbacks, ``estimator/_callbacks.py``).

    Returns
    -------
    trained : Trained
    """
    model = estimator.model_
    with _restored_on_error(model if continues else None):
        params = estimator.get_params(deep=False)
        if sample_weight is None:
            sample_weight = np.ones(len(y), dtype=np.float32)
        train_rows, val_rows = _split(y, params["validation_split"], seed)
        spec = dataclasses.replace(
            _compiled.NetworkSpec.of(model),
            optimizer=optimizer_key(model.optimizer),
            batch_size=params["batch_size"],
            jit_compile=_use_xla(params["jit_compile"], len(train_rows), model),
        )
        network = _compiled.compiled_network(
            spec, lambda: make_optimizer(params["optimizer"], params["learning_rate"])
        )
        # The parameter as it is now, not as an earlier fit saw it.
        callbacks = list(params["callbacks"] or [])
        stopper = None
        if params["early_stopping"]:
            stopper = keras.callbacks.EarlyStopping(
                monitor="val_loss",
                patience=params["patience"],
                restore_best_weights=True,
            )
            callbacks.append(stopper)
        # A fit identical to an earlier one but for fewer epochs starts from its
        # end state and trains only the rest (engine._resume): bit for bit the same.
        data = (X, y, sample_weight, train_rows, val_rows)
        key = _resume.fit_key(estimator, spec, seed, data, continues=continues)
        history = _resume.resume(key, model, epochs)
        done = len(history.get("loss", ()))
        interrupted = False
        if observer is not None:
            observer.resumed(done)
            callbacks.append(observer)
        if done < epochs:
            with network.session(model, X, y, sample_weight) as session:
                more, interrupted = _training.train(
                    session,
                    model,
                    train_rows=train_rows,
                    val_rows=val_rows,
                    epochs=epochs - done,
                    initial_epoch=initial_epoch + done,
                    batch_size=params["batch_size"],
                    shuffle=params["shuffle"],
                    seed=seed,
                    steps_per_execution=params["steps_per_execution"],
                    callbacks=callbacks,
                    verbose=params["verbose"],
                )
            history = _resume.joined(history, more)
        _resume.store(key, model, history, epochs)
    best = None if stopper is None else int(stopper.best_epoch)
    return Trained(history, best, interrupted)


@contextlib.contextmanager
def _restored_on_error(model):
    """Put ``model``'s weights and optimizer state back if the block raises."""
    values = None if model is None else [v.numpy() for v in state(model)]
    try:
        yield
    except BaseException:
        if values is not None:
            for variable, value in zip(state(model), values, strict=True):
                variable.assign(value)
        raise


def _use_xla(jit_compile, n_samples, model):
    if keras.backend.backend() == "jax":
        return True
    if jit_compile != "auto":
        return jit_compile
    return n_samples * model.count_params() >= _XLA_MIN_EPOCH_WORK


def _split(y, validation_split, seed):
    """Indices (train, validation) of a stratified, shuffled hold-out.

    ``validation_split`` of the samples are held out, and never fewer than one
    of each class, so that every class is validated and still trained on. The
    split is seeded by the fit's ``seed``. Without a split: (all indices, None).
    """
    n_samples = len(y)
    if validation_split == 0:
        return np.arange(n_samples), None
    counts = np.bincount(y)
    counts = counts[counts > 0]
    n_val = max(math.ceil(validation_split * n_samples), len(counts))
    if counts.min() < 2 or n_samples - n_val < len(counts):
        raise InvalidParameterError(
            f"validation_split={validation_split} needs at least 2 samples "
            "of each class (one to validate, one to train), and one of each "
            f"class left to train on, but got {n_samples} samples of "
            f"{len(counts)} classes, the rarest with {counts.min()} sample(s). "
            "Pass more samples per class, or validation_split=0.0 to train on "
            "all of them."
        )
    train, val = train_test_split(
        np.arange(n_samples), test_size=n_val, random_state=seed, stratify=y
    )
    train.sort()
    return train, val
