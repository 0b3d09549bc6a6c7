"""The epoch loop of a fit: batches, validation, callbacks, history, stopping."""

import math

import numpy as np

from .._errors import UserError
from ._progress import ProgressBar, is_live, steps_per_call
from ._runtime import keras

__all__ = ["TrainingDiverged", "train"]


class TrainingDiverged(UserError, ValueError):
    """The training loss became NaN or infinite."""


def train(
    session,
    model,
    *,
    train_rows,
    val_rows,
    epochs,
    initial_epoch,
    batch_size,
    shuffle,
    seed,
    steps_per_execution,
    callbacks,
    verbose,
):
    """Train ``model`` through a compiled ``session`` for ``epochs`` epochs.

    Each epoch visits ``train_rows`` in batches of ``batch_size`` (a new order
    per epoch when ``shuffle``, drawn from ``seed`` and the epoch's number alone,
    so a continued fit gets new orders and nothing global is touched), then
    evaluates ``val_rows`` if there are any. Keras callbacks see the model, its
    weights and the logs as in ``Model.fit``.

    Returns
    -------
    history : dict of str to list of float
        Per-epoch ``loss``, ``accuracy`` and, with validation rows, ``val_loss``
        and ``val_accuracy``, for the epochs that finished.
    interrupted : bool
        Whether a ``KeyboardInterrupt`` after the first epoch ended training;
        the model then holds the weights reached, and ``history`` the epochs
        that finished. The caller says so, counting its own epochs.

    Raises
    ------
    TrainingDiverged
        If the training loss becomes NaN or infinite.
    KeyboardInterrupt
        If interrupted before the first epoch finished.
    """
    steps = math.ceil(len(train_rows) / batch_size)
    # Every call runs the same steps on the same state: how many batches a call
    # runs changes how often callbacks and the bar hear of them, not the model.
    per_call = steps_per_call(steps_per_execution, steps, verbose)
    rng = None if seed is not None else np.random.default_rng()
    history = {}
    # Callbacks may read or set the model's weights: keep it current for them.
    # (The progress bar reads only the logs.)
    sync = bool(callbacks)
    progress = None
    if verbose:
        progress = ProgressBar(initial_epoch + epochs, steps, is_live(verbose))
        callbacks = [*callbacks, progress]
    callback_list = keras.callbacks.CallbackList(
        callbacks,
        model=model,
        verbose=verbose,
        epochs=initial_epoch + epochs,
        steps=steps,
    )
    model.stop_training = False
    interrupted = False
    callback_list.on_train_begin()
    try:
        for epoch in range(initial_epoch, initial_epoch + epochs):
            order = train_rows
            if shuffle:
                epoch_rng = rng or np.random.default_rng([seed, epoch])
                order = epoch_rng.permutation(train_rows)
            order = order.astype(np.int32)
            callback_list.on_epoch_begin(epoch)
            totals = (0.0, 0.0)
            for start in range(0, steps, per_call):
                stop = min(start + per_call, steps)
                callback_list.on_train_batch_begin(start)
                totals = session.train(order, start, stop, totals)
                seen = min(stop * batch_size, len(order))
                callback_list.on_train_batch_end(stop - 1, _logs(totals, seen))
            logs = _logs(totals, len(train_rows))
            if not np.isfinite(logs["loss"]):
                raise TrainingDiverged(
                    f"Training diverged: the loss became {logs['loss']} in epoch "
                    f"{epoch + 1}. Usual causes are inputs far outside [0, 1] (scale "
                    "pixels with skmnist.FlattenScaler, or divide them by 255) and a "
                    "learning_rate too high for the optimizer; lower it, e.g. to "
                    "1e-3 for 'adam'."
                )
            if val_rows is not None:
                val = _logs(session.evaluate(val_rows), len(val_rows))
                logs.update({f"val_{key}": value for key, value in val.items()})
            for key, value in logs.items():
                history.setdefault(key, []).append(value)
            if sync:
                session.save_to(model)
            callback_list.on_epoch_end(epoch, logs)
            if sync:
                session.load_from(model)
            if model.stop_training:
                break
    except KeyboardInterrupt:
        if progress is not None:
            progress.close()
        if not history:
            raise
        interrupted = True
    except BaseException:
        if progress is not None:
            progress.close()  # the error's message starts on a line of its own
        raise
    session.save_to(model)
    callback_list.on_train_end()
    return history, interrupted


def _logs(totals, n_rows):
    # As Keras's: the loss weighted by sample_weight, the accuracy not.
    loss_sum, hit_sum = totals
    return {"loss": float(loss_sum / n_rows), "accuracy": float(hit_sum / n_rows)}
