"""The model a service predicts with: loaded safely, checked, and described.

Only public names of skmnist and scikit-learn are used, and of the estimator
only its public API: ``predict_proba``, ``classes_`` and ``get_params`` (plus
the recorded ``history_``, when there is one, for ``GET /model``).
"""

import math
import os

import numpy as np

import skmnist

PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")
_WHAT = (
    "a fitted skmnist model: a make_mnist_pipeline() pipeline, an MNISTClassifier "
    "fitted on 28x28 images, or any fitted classifier whose predict_proba takes "
    "images of shape (n, 28, 28)"
)


def load_estimator(model):
    """The estimator to serve and the name of its file (None for an object).

    Parameters
    ----------
    model : str, path-like or estimator
        A file written by :func:`skmnist.save_model`, or a fitted estimator.

    Returns
    -------
    estimator : estimator
        Its ``predict_proba`` takes images (n, 28, 28) of 0-255 pixels.
    source : str or None
        The file's name.
    """
    source = None
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if path.lower().endswith(PICKLE_SUFFIXES):
            raise skmnist.ModelFileError(
                path,
                "skmnist serve loads only pickle-free .skmnist files written by "
                "skmnist.save_model, never a joblib or pickle file (loading one "
                "runs code stored in it). Convert it once, in a session that "
                "trusts it: skmnist.save_model(joblib.load(path), "
                "'model.skmnist')",
            )
        if not os.path.exists(path):
            raise FileNotFoundError(2, "no such model file", path)
        if os.path.isdir(path):
            raise IsADirectoryError(21, "a folder, not a model file", path)
        model = skmnist.load_model(path)  # ModelFileError for anything unsafe
        source = os.path.basename(path)
    return _as_image_model(model, source), source


def _as_image_model(model, source):
    from sklearn.pipeline import Pipeline
    from sklearn.utils.validation import check_is_fitted

    name = source or "the model"
    if not (hasattr(model, "predict_proba") and hasattr(model, "get_params")):
        raise TypeError(f"{name} is {_a(type(model).__name__)}, not {_WHAT}.")
    check_is_fitted(model)  # NotFittedError, a ValueError, naming the fix
    if isinstance(model, skmnist.MNISTClassifier):
        n_features = getattr(model, "n_features_in_", None)
        if n_features != 28 * 28:
            raise ValueError(
                f"{name} is an MNISTClassifier fitted on {n_features} features, "
                "not on MNIST's 28x28 images."
            )
        flatten = skmnist.FlattenScaler().fit(np.zeros((1, 28, 28), np.uint8))
        model = Pipeline([("flatten", flatten), ("mlp", model)])
    classes = getattr(model, "classes_", None)
    if classes is None or len(classes) < 2:
        raise ValueError(f"{name} has no classes_ (at least 2): it is not {_WHAT}.")
    # Predictions now, of batches of a few sizes: a model that cannot read
    # 28x28 images fails here, not at the first request, and the first calls'
    # set-up is paid here, not by the first clients.
    for n in (1, 2, 3, 4):
        try:
            proba = np.asarray(model.predict_proba(np.zeros((n, 28, 28), np.uint8)))
        except Exception as exc:
            raise ValueError(
                f"{name} cannot predict 28x28 images ({type(exc).__name__}: "
                f"{exc}); expected {_WHAT}."
            ) from exc
        if proba.shape != (n, len(classes)):
            raise ValueError(
                f"{name}'s predict_proba returned shape {proba.shape} for {n} "
                f"images, not ({n}, {len(classes)}) (one probability per class)."
            )
    return model


def describe(estimator, source):
    """What ``GET /model`` says about the estimator (JSON-ready)."""
    from sklearn.pipeline import Pipeline

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


def plain(value):
    """`value` as JSON can hold it: NumPy scalars become Python's, NaN None."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    return repr(value)


def _a(name):
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name
