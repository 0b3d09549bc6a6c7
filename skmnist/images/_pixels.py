"""The pixel arithmetic of :class:`~skmnist.FlattenScaler`, in NumPy alone.

One implementation of the layout checks, the pixel-range checks (and their
messages), the handling of boolean masks and the division to floats, shared by
:class:`~skmnist.FlattenScaler` (which adds scikit-learn's input validation)
and by :func:`~skmnist.load_predictor` (which validates its input here, in
NumPy, so that a prediction imports no scikit-learn, SciPy or pandas).
This module imports only NumPy.
"""

import math
import warnings

import numpy as np

from ._arrays import InputError, as_rows

__all__ = [
    "FittedScaling",
    "check_values",
    "describe_layout",
    "flatten",
    "image_shape_of",
    "scale",
    "validate_rows",
]

NAME = "FlattenScaler"


def describe_layout(image_shape):
    """Describe a fitted layout for error messages."""
    if len(image_shape) == 2:
        return f"images of shape {image_shape}"
    return f"flat input with {image_shape[0]} features"


def flatten(X, name, fitted=None):
    """Check the layout of `X`; return it as flat rows and its image shape.

    Parameters
    ----------
    X : array-like
        Images (n, h, w) or (n, h, w, 1), or flat rows (n, n_features).
    name : str
        The estimator's name, for messages.
    fitted : object with ``image_shape_`` and ``n_features_in_``, default=None
        The fitted layout that `X` must have; None in fit.

    Returns
    -------
    X : array-like
        2-D for images; as given (after ``np.asarray`` for lists) otherwise.
    image_shape : tuple of int or None
        ``(height, width)`` of image input; None for flat rows.
    """
    if not hasattr(X, "shape") or not hasattr(X, "ndim"):
        # Nested lists and other array-likes: learn their dimensionality.
        X = np.asarray(X)

    if X.ndim in (3, 4):
        X = np.asarray(X)
        if X.ndim == 4 and X.shape[3] != 1:
            raise InputError(
                f"{name} expects single-channel images of shape (n_samples, "
                f"height, width) or (n_samples, height, width, 1); got X of "
                f"shape {X.shape}."
            )
        image_shape = X.shape[1:3]
        if fitted is not None and image_shape != fitted.image_shape_:
            raise InputError(
                f"X contains images of shape {image_shape}, but {name} was "
                f"fitted on {describe_layout(fitted.image_shape_)}."
            )
        return X.reshape(X.shape[0], image_shape[0] * image_shape[1]), image_shape
    if X.ndim > 4:
        raise InputError(
            f"{name} expects X of shape (n_samples, n_features), (n_samples, "
            f"height, width) or (n_samples, height, width, 1); got X of shape "
            f"{X.shape}."
        )
    if X.ndim < 2:
        raise InputError(
            f"Expected a 2D, 3D or 4D array, got a {X.ndim}D array of shape "
            f"{X.shape} instead. Reshape your data with X.reshape(1, -1) if it "
            "holds one flat image."
        )
    if (
        fitted is not None
        and X.shape[1] != fitted.n_features_in_
        and tuple(X.shape) == fitted.image_shape_
    ):
        raise InputError(
            f"X has {X.shape[1]} features, but {name} is expecting "
            f"{fitted.n_features_in_} features as input. X looks like one "
            f"image of shape {fitted.image_shape_}: pass X[np.newaxis] to "
            "transform a single image."
        )
    return X, None


def check_values(X, name, scale_param, fitted_scale=None):
    """Check the pixel values of a validated 2-D `X`; return the scale to use.

    Parameters
    ----------
    X : ndarray
        Numeric, finite.
    name : str
        The estimator's name, for messages.
    scale_param : "auto" or float
        The ``scale`` parameter.
    fitted_scale : float or None
        The fitted ``scale_`` that `X` must suit; None in fit, which learns it
        (see the FlattenScaler docstring).
    """
    reset = fitted_scale is None
    auto = isinstance(scale_param, str)  # "auto", the only string allowed
    if X.dtype == np.bool_:  # masks: True is full ink, whatever the scale
        if not reset:
            return fitted_scale
        return 255.0 if auto else float(scale_param)

    x_min, x_max = X.min().item(), X.max().item()
    if x_min < 0:
        raise InputError(
            f"Negative values in data passed to {name}: pixel values must be "
            f"0 (background) or more; got min {x_min} and max {x_max}."
        )
    integer = X.dtype.kind in "iu"
    if not auto:
        scale = float(scale_param)
    elif integer or x_max > 1:
        scale = 255.0  # pixel values from 0 to 255
    elif x_max > 0:
        scale = 1.0  # images already in [0, 1]
    else:
        scale = None  # all zero: either convention

    if not reset and auto and scale not in (None, fitted_scale):
        raise InputError(_convention_error(name, integer, x_max, X.dtype))
    if reset:
        scale = 255.0 if scale is None else scale
    else:
        scale = fitted_scale

    if x_max > scale:
        if auto:
            kind = "integer" if integer else "floating-point"
            rule = f"with scale='auto', {kind} pixel values must be in [0, 255]"
        else:
            rule = f"pixel values must be in [0, {scale:g}]"
        raise InputError(
            f"Values above {'scale=' if not auto else ''}{scale:g} in data "
            f"passed to {name}: {rule}; got min {x_min} and max {x_max}. Set "
            "scale to the largest possible pixel value of your images (for "
            "example scale=65535 for 16-bit images, scale=1.0 for images "
            "already in [0, 1])."
        )
    return scale


def _convention_error(name, integer, x_max, dtype):
    """The message for images of the other convention than those seen in fit."""
    if integer or x_max > 1:
        got = (
            f"integer pixel values ({dtype}, max {x_max}), which scale='auto' reads "
            "as 0 to 255"
            if integer
            else f"floats up to {x_max}: pixel values from 0 to 255"
        )
        return (
            f"{name} was fitted on images already scaled to [0, 1] (floats; "
            f"scale='auto' learned scale_=1.0), but X holds {got}. Pass X in the "
            "form seen in fit (for example X / 255), or fit on 0-255 images too."
        )
    return (
        f"{name} was fitted on pixel values from 0 to 255 (scale='auto' learned "
        f"scale_=255.0), but X holds floats all within [0, 1] (max {x_max}): "
        "images already scaled to [0, 1], which dividing by 255 again would turn "
        "almost black. Pass X in the form seen in fit (for example X * 255), or "
        "fit on images in [0, 1] too. If these really are pixel values from 0 to "
        "255, set scale=255.0."
    )


def scale(X, scale_, dtype):
    """Divide the checked pixels by `scale_`: a C-contiguous array of `dtype`."""
    # A mask's True is full ink, whatever the scale.
    divisor = 1.0 if X.dtype == np.bool_ else scale_
    return np.divide(X, divisor, dtype=np.dtype(dtype), order="C")


def image_shape_of(n_features):
    """The layout fit records for flat rows of `n_features` pixels."""
    side = math.isqrt(n_features)
    return (side, side) if side * side == n_features else (n_features,)


def validate_rows(X, name, n_features, feature_names=None, dtype="numeric"):
    """Validate rows in NumPy as scikit-learn's ``validate_data(reset=False)``
    does for skmnist's estimators: a 2-D, non-empty, dense array of finite
    numbers with `n_features` columns, whose feature names (of a DataFrame)
    are those seen in fit.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    name : str
        The estimator's name, for messages.
    n_features : int
    feature_names : ndarray of str or None
        The feature names seen in fit.
    dtype : "numeric" or dtype, default="numeric"
        "numeric" keeps a numeric dtype (objects become float64).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    """
    _check_feature_names(X, name, feature_names)
    X = np.asarray(as_rows(X, name, None if dtype == "numeric" else np.dtype(dtype)))
    if X.ndim != 2:
        raise InputError(
            f"Expected a 2D array, got a {X.ndim}D array of shape {X.shape} "
            "instead. Reshape your data with X.reshape(1, -1) if it holds one sample."
        )
    if X.shape[0] < 1:
        raise InputError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 "
            f"is required by {name}."
        )
    if X.shape[1] != n_features:
        raise InputError(
            f"X has {X.shape[1]} features, but {name} is expecting {n_features} "
            "features as input."
        )
    return X


def _check_feature_names(X, name, fitted_names):
    """scikit-learn's feature-name check, for an X that may be a DataFrame."""
    columns = getattr(X, "columns", None)
    names = None
    if columns is not None and hasattr(X, "iloc"):
        names = np.asarray(list(columns), dtype=object)
        if not all(isinstance(n, str) for n in names):
            names = None
    if fitted_names is None and names is None:
        return
    if names is not None and fitted_names is None:
        warnings.warn(
            f"X has feature names, but {name} was fitted without feature names",
            UserWarning,
            stacklevel=4,
        )
        return
    if names is None:
        warnings.warn(
            f"X does not have valid feature names, but {name} was fitted with "
            "feature names",
            UserWarning,
            stacklevel=4,
        )
        return
    if len(names) != len(fitted_names) or (names != fitted_names).any():
        raise InputError(
            "The feature names should match those that were passed during fit: "
            f"{name} was fitted on {list(fitted_names)[:5]}..., X has "
            f"{list(names)[:5]}..."
        )


class FittedScaling:
    """A fitted FlattenScaler as plain data, that transforms in NumPy alone.

    What :func:`~skmnist.load_predictor` applies first, read from a model file
    (``MNISTPredictor.scaler_``); :func:`~skmnist.load_model` builds the real
    :class:`~skmnist.FlattenScaler` from the same values.

    Attributes
    ----------
    scale : "auto" or float
        The scaler's ``scale`` parameter.
    dtype : {"float32", "float64"}
        The scaler's ``dtype`` parameter.
    scale_, image_shape_, n_features_in_, feature_names_in_
        The scaler's fitted attributes (``feature_names_in_`` only if set).
    """

    def __init__(self, params, fitted):
        vars(self).update({"scale": "auto", "dtype": "float32", **params, **fitted})

    def get_params(self, deep=True):
        """The scaler's parameters, as FlattenScaler.get_params gives them."""
        return {"dtype": self.dtype, "scale": self.scale}

    def transform(self, X):
        """Flatten and scale `X` as the fitted FlattenScaler does."""
        X, _ = flatten(X, NAME, self)
        names = getattr(self, "feature_names_in_", None)
        X = validate_rows(X, NAME, self.n_features_in_, names)
        check_values(X, NAME, self.scale, self.scale_)
        return scale(X, self.scale_, self.dtype)

    def __repr__(self):
        return f"FittedScaling(scale={self.scale!r}, scale_={self.scale_!r})"
