"""The model a service predicts with: loaded safely, checked, and described.

The model is opened by skmnist's one loader for images (shared with the command
line); of the estimator only its public API is used: ``predict_proba``,
``classes_`` and ``get_params`` (plus the recorded ``history_``, when there is
one, for ``GET /model``).
"""

import os

import numpy as np

import skmnist
from skmnist._image_model import as_image_model, load_image_model
from skmnist._json import plain


def load_estimator(model):
    """The model to serve and the name of its file (None for an object).

    Parameters
    ----------
    model : str, path-like or estimator
        A file written by :func:`skmnist.save_model`, or a fitted estimator.

    Returns
    -------
    model : ImageModel
        Its ``predict_proba`` takes images (n, 28, 28) of 0-255 pixels, fed to
        the estimator in its own input convention; ``model.estimator`` is the
        estimator itself.
    source : str or None
        The file's name.
    """
    if isinstance(model, (str, os.PathLike)):
        source = os.path.basename(os.fspath(model))
        model = load_image_model(model, allow_pickle=False)
    else:
        source = None
        model = as_image_model(model, strict=False)
    _self_test(model, source or "the model")
    return model, source


def _self_test(model, name):
    # Predictions now, of batches of a few sizes: a model that cannot read
    # 28x28 images fails here, not at the first request, and the first calls'
    # set-up is paid here, not by the first clients.
    n_classes = len(model.classes_)
    for n in (1, 2, 3, 4):
        try:
            proba = model.predict_proba(np.zeros((n, 28, 28), np.uint8))
        except Exception as exc:
            raise ValueError(
                f"{name} cannot predict 28x28 images ({type(exc).__name__}: "
                f"{exc}); expected a fitted skmnist model."
            ) from exc
        if proba.shape != (n, n_classes):
            raise ValueError(
                f"{name}'s predict_proba returned shape {proba.shape} for {n} "
                f"images, not ({n}, {n_classes}) (one probability per class)."
            )


def describe(model, source):
    """What ``GET /model`` says about the model (JSON-ready)."""
    from sklearn.pipeline import Pipeline

    estimator = model.estimator

    if isinstance(estimator, Pipeline):
        final = estimator[-1]
        kind = "Pipeline({})".format(
            ", ".join(f"{n}={type(s).__name__}" for n, s in estimator.steps)
        )
    else:
        final, kind = estimator, type(estimator).__name__
    info = {
        "file": source,
        "estimator": kind,
        "classes": [plain(c) for c in estimator.classes_],
        "params": {k: plain(v) for k, v in final.get_params(deep=False).items()},
        "validation_accuracy": None,
        "skmnist_version": skmnist.__version__,
    }
    history = getattr(final, "history_", None)
    if isinstance(history, dict) and history.get("val_accuracy"):
        values = history["val_accuracy"]
        epoch = getattr(final, "best_epoch_", len(values) - 1)
        if isinstance(epoch, int) and 0 <= epoch < len(values):
            info["validation_accuracy"] = plain(values[epoch])
    return info


def _a(name):
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name
