"""A fitted model as the command line and the service use it: digits in, classes out.

The one home of three things that the ``skmnist`` command, ``skmnist serve``
and any reader of saved models share: which file names are pickles, how a
model file is opened for predicting digits, and the conversion of MNIST images
(0-255 pixels, light ink on black) into the model's own input convention: the
``scale_`` its :class:`~skmnist.FlattenScaler` learned or was given, or, for a
bare :class:`~skmnist.MNISTClassifier`, the [0, 1] rows that
:func:`~skmnist.make_mnist_pipeline` feeds it.
"""

import functools
import os
import stat

import numpy as np

from .._errors import UserError
from .._files import file_kind
from ..images._arrays import mnist_images

__all__ = ["PICKLE_SUFFIXES", "ImageModel", "as_image_model", "is_pickle"]

# Model files with these name endings are pickles, read and written with joblib.
PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")
MNIST_SHAPE = (28, 28)
MNIST_PIXELS = 28 * 28
_WHAT = "a fitted skmnist model (a make_mnist_pipeline() pipeline or MNISTClassifier)"


class NotAnImageModel(UserError, ValueError):
    """A model, or a model file, that cannot read MNIST digits."""


class _NotAModel(NotAnImageModel, TypeError):
    """An object of a kind that is no model of digits at all."""


@functools.cache
def _unfitted_class():
    """The error of a model that was never fitted: a NotAnImageModel and
    scikit-learn's NotFittedError. Defined on first need (a full, scikit-learn
    model is at hand), so that the light path imports no scikit-learn."""
    from sklearn.exceptions import NotFittedError

    class _Unfitted(NotAnImageModel, NotFittedError):
        """A model that was never fitted."""

    return _Unfitted


def is_pickle(path):
    """Whether a model file of this name is a pickle (read with joblib)."""
    return os.fspath(path).lower().endswith(PICKLE_SUFFIXES)


def check_model_path(path):
    """Refuse, before reading, a model path that is not an existing regular file.

    A FIFO would block the reader and a device would be read without end: only
    regular files (or links to them) are model files.
    """
    path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(2, "no such model file", path) from None
    if stat.S_ISDIR(mode):
        raise NotAnImageModel(f"{path} is a folder, not a model file")
    if not stat.S_ISREG(mode):
        raise NotAnImageModel(
            f"{path} is {file_kind(mode)}, not a model file: give the path of a "
            "file written by skmnist train --out or skmnist.save_model"
        )
    return path


def check_model_source(path, *, allow_pickle):
    """Refuse, before reading, a pickle where none is allowed (whether it exists
    or not), then a path that is not a regular file (see `check_model_path`)."""
    from ._reader import ModelFileError

    if is_pickle(path) and not allow_pickle:
        raise ModelFileError(
            path,
            "only pickle-free .skmnist files written by skmnist.save_model are "
            "read here, never a joblib or pickle file (loading one runs code "
            "stored in it). Convert it once, in a session that trusts it: "
            "skmnist.save_model(joblib.load(path), 'model.skmnist')",
        )
    return check_model_path(path)


def load_image_model(path, *, allow_pickle, light=False):
    """Load a model file and check that it reads MNIST digits.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`skmnist.save_model` (or, with `allow_pickle`,
        by ``joblib.dump``).
    allow_pickle : bool
        Whether a name ending in .joblib, .pkl or .pickle is unpickled: that
        runs code stored in the file, so only the command line, for files its
        user names, allows it.
    light : bool, default=False
        Whether a .skmnist file is read with :func:`skmnist.load_predictor`,
        which predicts in NumPy without starting TensorFlow (it reads every
        file load_model reads, with the same verdict); pickles are always
        unpickled into the full estimator.

    Returns
    -------
    model : ImageModel
    """
    path = check_model_source(path, allow_pickle=allow_pickle)
    if not is_pickle(path):
        if light:
            from ._predictor import load_predictor

            return as_image_model(load_predictor(path), name=path)
        from ._persistence import load_model

        return as_image_model(load_model(path), name=path)
    import joblib

    # Unpickling imports whatever the file names, Keras or scikeras perhaps before
    # any skmnist module: start Keras first, through the quiet start.
    from ..engine import _runtime  # noqa: F401

    try:
        model = joblib.load(path)
    except OSError:
        raise
    except Exception as exc:  # unpickling someone's file fails in many ways
        raise NotAnImageModel(
            f"{path} is not a model written with joblib.dump "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    return as_image_model(model, name=path)


def as_image_model(estimator, *, name=None, strict=True):
    """Wrap a fitted estimator so that it takes MNIST images of 0-255 pixels.

    Parameters
    ----------
    estimator : estimator
        A fitted :func:`~skmnist.make_mnist_pipeline` pipeline (any pipeline
        whose first step is a FlattenScaler) or :class:`~skmnist.MNISTClassifier`;
        with ``strict=False``, any fitted classifier whose ``predict_proba``
        takes images of shape (n, 28, 28) with pixel values 0-255.
    name : str, default=None
        What messages call the model (its file's name).
    strict : bool, default=True
        Whether the estimator must be a skmnist model.

    Returns
    -------
    model : ImageModel

    Raises
    ------
    NotAnImageModel
        If the estimator is not fitted, not of a kind that reads digits, or was
        fitted on another number of features than 28x28.
    """
    from ._predictor import MNISTPredictor

    name = name or "the model"
    if isinstance(estimator, MNISTPredictor):  # fitted, of two classes or more
        _check_n_features(estimator, name)
        return ImageModel(estimator, input_scale(estimator), name)

    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    from ..estimator._classifier import MNISTClassifier

    steps = getattr(estimator, "steps", None)
    final = steps[-1][1] if steps else estimator
    if not (hasattr(estimator, "predict_proba") and hasattr(estimator, "get_params")):
        raise _NotAModel(f"{name} holds {_a(type(estimator))}, not {_WHAT}")
    if strict and not isinstance(final, MNISTClassifier):
        raise _NotAModel(f"{name} holds {_a(type(estimator))}, not {_WHAT}")
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        message = f"{name} holds an unfitted model, not {_WHAT}"
        raise _unfitted_class()(message) from None
    if isinstance(final, MNISTClassifier):
        _check_n_features(estimator, name)
    classes = getattr(estimator, "classes_", None)
    if classes is None or len(classes) < 2:
        raise NotAnImageModel(f"{name} has no classes_ (at least 2): not {_WHAT}")
    return ImageModel(estimator, input_scale(estimator), name)


def _check_n_features(estimator, name):
    n_features = getattr(estimator, "n_features_in_", None)
    if n_features != MNIST_PIXELS:
        raise NotAnImageModel(
            f"{name} holds a model fitted on {n_features} features, not on "
            "MNIST's 28x28 images"
        )


def input_scale(estimator):
    """The pixel value of full ink at the estimator's input, or None to pass
    images as they are (a model that takes 0-255 images whatever they hold).

    A pipeline whose first step is a FlattenScaler takes pixel values up to that
    scaler's ``scale_``; a bare MNISTClassifier the [0, 1] rows that
    make_mnist_pipeline gives it; a :class:`~skmnist.MNISTPredictor` as the
    estimator it was saved from.
    """
    from ._predictor import MNISTPredictor

    if isinstance(estimator, MNISTPredictor):
        scaler = estimator.scaler_
        return 1.0 if scaler is None else float(scaler.scale_)
    from ..estimator._classifier import MNISTClassifier
    from ..estimator._scaler import FlattenScaler

    steps = getattr(estimator, "steps", None)
    if steps and isinstance(steps[0][1], FlattenScaler):
        return float(steps[0][1].scale_)
    if isinstance(estimator, MNISTClassifier):
        return 1.0
    return None


class ImageModel:
    """A fitted model that takes MNIST images of 0-255 pixels.

    Parameters
    ----------
    estimator : estimator
        The fitted model.
    scale : float or None
        The pixel value of full ink that the model takes (see `input_scale`);
        None passes images as they are.
    name : str
        What messages call the model.

    Attributes
    ----------
    estimator : estimator
    classes_ : ndarray
    name : str
    """

    def __init__(self, estimator, scale, name):
        self.estimator, self.scale, self.name = estimator, scale, name
        self.classes_ = np.asarray(estimator.classes_)

    def to_input(self, images):
        """MNIST images of shape (n, 28, 28), pixel values 0-255, as the model
        takes them: the one conversion the command line and the service use.

        The values are read as every source of 0-255 images is read
        (:func:`skmnist.images._arrays.mnist_images`): floats all within [0, 1]
        are refused, booleans are masks.
        """
        images = mnist_images(images, "the images")
        if self.scale is None or self.scale == 255.0:
            return images
        scaled = images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
        if self.scale == 1.0:
            return scaled
        # Rounding must not carry full ink past the scale, which the scaler refuses.
        return np.minimum(scaled * np.float32(self.scale), np.float32(self.scale))

    def predict_proba(self, images):
        """Class probabilities of MNIST images (n, 28, 28) of 0-255 pixels.

        Raises NotAnImageModel if they are not all finite: weights that are
        finite yet so large that the network's float32 sums overflow give NaN,
        which no answer of the command line or the service may show as a
        probability (nor strict JSON hold).
        """
        proba = np.asarray(self.estimator.predict_proba(self.to_input(images)))
        if proba.dtype.kind == "f" and not np.isfinite(proba).all():
            raise NotAnImageModel(
                f"{self.name} gives probabilities that are not finite numbers (NaN "
                "or infinite): its weights overflow float32 arithmetic, so it "
                "cannot be used; fit it again"
            )
        return proba

    def predict(self, images):
        """Predicted classes of MNIST images (n, 28, 28) of 0-255 pixels."""
        return self.classes_[self.predict_proba(images).argmax(axis=1)]


def _a(kind):
    name = kind.__qualname__
    return ("an " if name[:1].lower() in "aeiou" else "a ") + f"{name} object"
