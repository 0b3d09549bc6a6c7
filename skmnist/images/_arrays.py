"""THE check of arrays of images, whatever their source, in NumPy alone.

What an array of pixel values means is decided here, once:

- :func:`as_numbers`: which arrays hold numbers at all (strings are refused,
  even ``"7"``; NaN and values beyond the dtype the model computes in too),
  for every estimator input: :class:`~skmnist.FlattenScaler`,
  :class:`~skmnist.MNISTClassifier` and the NumPy predictor of
  :func:`~skmnist.load_predictor`, so that the full model and the light
  predictor refuse alike;
- :func:`unscaled_warning`: the warning for rows far outside unit scale given
  to a bare classifier, which both of them give;
- :func:`mnist_images`: MNIST images of 0-255 pixels (light ink on black), as
  the command line reads them from ``.npy`` files, the service from JSON, and
  both give them to a model (:class:`~skmnist.modelfile._image_model.ImageModel`):
  the same array means the same ink from every source.

This module imports only NumPy.
"""

import numpy as np

from .._errors import UserError

__all__ = [
    "InputError",
    "as_numbers",
    "as_rows",
    "mnist_images",
    "unscaled_warning",
]

# Rows with values beyond this are almost surely unscaled pixels (0-255).
LARGE_INPUT = 100.0
# What a classifier does with them, for its warning.
PREDICTS_WELL = "predicts well only on inputs of about unit scale"


class InputError(UserError, ValueError):
    """Input data that is not what it must be; the message names the fix."""


def as_numbers(X, what, needs, dtype=None):
    """`X` as an array of numbers (bool, int or float), finite, or raise.

    Parameters
    ----------
    X : array-like
        An ndarray, nested lists, a DataFrame, ...
    what : str
        What messages call `X` (``"X"``, a file's name).
    needs : str
        The rule, for messages (``"MNISTClassifier takes finite numbers only"``).
    dtype : dtype, default=None
        The type the data is computed in: `X` is cast to it, and must be finite
        in it (float64 1e39 is infinite in float32). None keeps a numeric dtype
        (an object array of numbers becomes float64).

    Returns
    -------
    X : ndarray
        Not a copy when `X` is already an ndarray of a fitting dtype.

    Raises
    ------
    InputError
        For strings (even those that read as numbers), complex numbers, other
        non-numeric dtypes, NaN or infinity.
    TypeError
        For a sparse matrix, or objects that are neither numbers nor strings
        (as NumPy's conversion says, which scikit-learn's checks expect).
    """
    if type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(
            f"Sparse data was passed for {what}, but dense data is required: use "
            "X.toarray() to convert it to a dense numpy array."
        )
    array = np.asarray(X)
    kind = array.dtype.kind
    if kind in "USO":
        first = _first_string(array)
        if first is not None:
            raise InputError(
                f"{what} contains strings (such as {first!r:.20}), which are no "
                f"numbers even where they read as one: {needs}. Convert text "
                "that holds numbers first, e.g. with .astype(float)."
            )
        if kind == "O":
            array = array.astype(np.float64)  # TypeError for other objects
    if array.dtype.kind == "c":
        raise InputError(
            f"Complex data not supported: {what} is of dtype {array.dtype}; {needs}."
        )
    if array.dtype.kind not in "biuf":
        raise InputError(f"{what} is of dtype {array.dtype}: {needs}.")
    if dtype is not None and array.dtype != dtype:
        with np.errstate(over="ignore"):  # reported below, as infinity
            array = array.astype(dtype)
    # One sum finds any NaN or infinity without a temporary array the size of
    # X (as scikit-learn's check does); only a sum that is not finite, which
    # large finite values can give too, calls for the exact check.
    if array.dtype.kind == "f" and not _finite_sum(array):
        if np.isnan(array).any():
            raise InputError(f"{what} contains NaN: {needs}.")
        if np.isinf(array).any():
            raise InputError(
                f"{what} contains infinity or a value too large for "
                f"{array.dtype}: {needs}."
            )
    return array


def as_rows(X, name, dtype=None):
    """An estimator's input `X` as numbers (see :func:`as_numbers`).

    A DataFrame is returned as it is, once its values are checked, so that its
    column names still reach scikit-learn's feature-name checks.
    """
    array = as_numbers(X, "Input X", f"{name} takes finite numbers only", dtype)
    return X if hasattr(X, "columns") and hasattr(X, "iloc") else array


def _finite_sum(array):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.isfinite(array.sum())


def _first_string(array):
    """The first str or bytes value in `array`, or None."""
    if array.dtype.kind in "US":
        return array.flat[0].item() if array.size else ""
    for value in array.flat:
        if isinstance(value, (str, bytes)):
            return value
    return None


def unscaled_warning(X, name, what):
    """The warning for rows far outside unit scale (raw 0-255 pixels), or None.

    The full classifier and the light predictor of a saved one both give it
    (as a UserWarning pointing at the caller's line).

    Parameters
    ----------
    X : ndarray
        Checked rows.
    name : str
        The estimator's name.
    what : str
        What the estimator does well only on inputs of unit scale
        (`PREDICTS_WELL`).

    Returns
    -------
    message : str or None
    """
    if not X.size:
        return None
    # Two passes without a temporary array: |X|.max() would copy X.
    largest = max(float(X.max()), -float(X.min()))
    if largest <= LARGE_INPUT:
        return None
    return (
        f"X has values as large as {largest:.4g}, but {name} {what}: divide "
        "pixel values by 255 (skmnist.FlattenScaler does), or standardize "
        "features (StandardScaler)."
    )


def mnist_images(array, what):
    """Pixel values of MNIST images (0-255, light ink on black) as uint8.

    The one reading of an array of images given where 0-255 pixels are
    expected (a ``.npy`` file, the service's JSON, images given to a model of
    the command line or the service): integers must lie in [0, 255]; floats
    too, and are rounded; booleans are masks (True is full ink, 255). Floats
    all within [0, 1] (but not all 0) are refused: they look scaled to
    [0, 1], and read as 0-255 they would be almost black.

    Parameters
    ----------
    array : array-like
        Images of any shape (the caller checks the shape).
    what : str
        What messages call the array (a file's name, ``'"images"'``).

    Returns
    -------
    images : ndarray of dtype uint8, of the shape of `array`

    Raises
    ------
    InputError
        For values that are not numbers 0-255, or floats that look scaled to
        [0, 1]; the message names `what` and the fix.
    """
    needs = "pixel values must be numbers 0-255"
    try:
        array = as_numbers(array, what, needs)
    except TypeError as exc:  # objects that are not numbers (JSON's null)
        raise InputError(
            f"{what} holds values that are not numbers ({exc}): {needs}."
        ) from None
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * np.uint8(255)
    if not array.size:
        return array.astype(np.uint8)
    low, high = array.min().item(), array.max().item()
    if low < 0 or high > 255:
        raise InputError(
            f"{what} holds values from {_num(low)} to {_num(high)}: pixel values "
            "must lie in [0, 255]."
        )
    if array.dtype.kind == "f" and 0 < high <= 1:
        raise InputError(
            f"{what} holds floats all within [0, 1] (max {_num(high)}): it looks "
            "scaled to [0, 1], but pixel values here are 0-255 (light ink on "
            "black, as MNIST's), and read so it would be almost black; multiply "
            "it by 255."
        )
    if array.dtype == np.uint8:
        return array
    return np.rint(array).astype(np.uint8)


def _num(value):
    """A pixel value for messages: 255, not 255.0; 1e+39, not 39 digits."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.4g}"
