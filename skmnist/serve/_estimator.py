"""The model a service predicts with: loaded safely, checked, and described.

The model is opened by skmnist's one loader for images (shared with the command
line); of the estimator only its public API is used: ``predict_proba``,
``classes_`` and ``get_params`` (plus the recorded ``history_``, when there is
one, for ``GET /model``).
"""

import math
import os

import numpy as np

import skmnist
from skmnist._frontend import (
    NotAnImageModel,
    as_image_model,
    load_image_model,
    plain,
)


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
        model = load_image_model(model, allow_pickle=False, light=True)
    else:
        source = None
        model = as_image_model(model, strict=False)
    _self_test(model, source or "the model")
    return model, source


# A model that cannot read the digits is right about once in ten (chance);
# right on more than 1.5 times as many of the sample's 500 test digits (more
# than 75) happens by chance with probability below 0.1% (binomial), while a
# model that learned anything at all clears it (a 16-unit network trained one
# epoch on the sample reads 25-35% of them).
_SELF_TEST_OVER_CHANCE = 1.5
_DIGITS = [str(d) for d in range(10)]


def _self_test(model, name):
    # Predictions now, on real digits of the packaged sample in batches of a
    # few sizes: a model that cannot read MNIST images as the service sends
    # them fails here, in one line, not at every request (a model whose
    # outputs are not finite too, whatever its classes: ImageModel refuses
    # them); and the first calls' set-up is paid here, not by the first clients.
    images, labels = skmnist.load_mnist_sample(subset="test", return_X_y=True)
    n_classes = len(model.classes_)
    for n in (1, 2, 3, 4, len(images)):
        try:
            proba = np.asarray(model.predict_proba(images[:n]))
        except Exception as exc:
            raise NotAnImageModel(
                f"{name} cannot predict 28x28 images of 0-255 pixels "
                f"({type(exc).__name__}: {_first_line(exc)}); expected a fitted "
                "skmnist model."
            ) from exc
        if proba.shape != (n, n_classes):
            raise NotAnImageModel(
                f"{name}'s predict_proba returned shape {proba.shape} for {n} "
                f"images, not ({n}, {n_classes}) (one probability per class)."
            )
    classes = [str(plain(c)) for c in model.classes_]
    if sorted(classes) != _DIGITS:
        return  # not a model of the ten digits: its answers cannot be checked
    right = int((np.asarray(classes)[proba.argmax(axis=1)] == labels.astype(str)).sum())
    needed = math.floor(_SELF_TEST_OVER_CHANCE * len(images) / n_classes) + 1
    if right < needed:
        raise NotAnImageModel(
            f"{name} reads only {right} of the {len(images)} test digits of "
            f"skmnist's sample right ({right / len(images):.0%}; chance is "
            f"{1 / n_classes:.0%}, {needed} are needed): it cannot read MNIST "
            "images as the service sends them (28x28, light ink on black); "
            "train it longer, or on MNIST digits."
        )


def _first_line(exc):
    return str(exc).strip().split("\n", 1)[0]


def _pipeline_class():
    # Imported only for a full model: the NumPy predictor needs no scikit-learn.
    from sklearn.pipeline import Pipeline

    return Pipeline


def describe(model, source):
    """What ``GET /model`` says about the model (JSON-ready)."""
    estimator = model.estimator

    if isinstance(estimator, skmnist.MNISTPredictor):  # a file read without Keras
        final, kind = estimator, estimator.saved_estimator_
    elif isinstance(estimator, _pipeline_class()):
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
