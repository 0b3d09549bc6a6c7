"""Turn images into inputs for the MNIST multilayer perceptron.

This module imports only NumPy and scikit-learn, so that preprocessing never
starts a deep-learning runtime.
"""

import math
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_array,
    check_is_fitted,
    validate_data,
)

__all__ = ["FlattenScaler"]


def _describe_layout(image_shape):
    """Describe a fitted layout for error messages."""
    if len(image_shape) == 2:
        return f"images of shape {image_shape}"
    return f"flat input with {image_shape[0]} features"


class FlattenScaler(TransformerMixin, BaseEstimator):
    """Flatten images and scale their pixel values to [0, 1].

    Turns a batch of images into the inputs of a multilayer perceptron: each
    image becomes one row of ``height * width`` pixels, and each pixel value is
    divided by `scale`. With the defaults, MNIST's ``uint8`` pixels in
    [0, 255] become ``float32`` values in [0, 1], exactly as
    ``X.reshape(len(X), -1).astype("float32") / 255`` in the classic Keras
    example, in a single vectorised pass.

    The transformer accepts, as `X`:

    - images of shape ``(n_samples, height, width)``;
    - single-channel images of shape ``(n_samples, height, width, 1)``;
    - flat rows of shape ``(n_samples, n_features)``, as arrays, nested lists
      or DataFrames (for example OpenML's ``pixel1`` ... ``pixel784`` columns).

    :term:`fit` learns the layout only: the image shape and the number of
    pixels. :term:`transform` then accepts images of that same shape (with or
    without a trailing channel axis) or flat rows with the same number of
    pixels; images of another shape raise a ``ValueError`` naming both shapes.

    Pixel values must lie in ``[0, scale]``: negative values, values above
    `scale`, NaN, infinity and non-numeric data raise a ``ValueError``.

    Parameters
    ----------
    scale : float, default=255.0
        Largest possible pixel value; every pixel is divided by it, so that
        the output lies in [0, 1]. Use ``scale=1.0`` for images already in
        [0, 1] and ``scale=65535`` for 16-bit images.

    dtype : {"float32", "float64"}, np.float32 or np.float64, default=np.float32
        Data type of the output of :term:`transform`. ``float32`` is what Keras
        uses and needs half the memory of ``float64``.

    Attributes
    ----------
    image_shape_ : tuple of int
        Layout of one sample seen during :term:`fit`: ``(height, width)`` for
        image input, and for flat input of ``n_features`` columns either
        ``(side, side)`` when ``n_features`` is a perfect square (``(28, 28)``
        for MNIST's 784 pixels) or ``(n_features,)`` otherwise.
        :meth:`inverse_transform` returns samples of this shape.

    n_features_in_ : int
        Number of pixels per sample seen during :term:`fit`, that is
        ``height * width`` for image input.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.preprocessing.MinMaxScaler : Scale each feature to a range learned
        from the data.
    sklearn.preprocessing.FunctionTransformer : Build a transformer from an
        arbitrary callable.

    Examples
    --------
    >>> import numpy as np
    >>> from skmnist import FlattenScaler
    >>> images = np.zeros((2, 28, 28), dtype=np.uint8)
    >>> images[1, 0, :3] = [0, 51, 255]
    >>> scaler = FlattenScaler().fit(images)
    >>> scaler.image_shape_, scaler.n_features_in_
    ((28, 28), 784)
    >>> X = scaler.transform(images)
    >>> X.shape, X.dtype
    ((2, 784), dtype('float32'))
    >>> print(X[1, :3])
    [0.  0.2 1. ]
    >>> scaler.inverse_transform(X).shape
    (2, 28, 28)
    """

    _parameter_constraints: dict = {
        "scale": [Interval(Real, 0, None, closed="neither")],
        "dtype": [
            StrOptions({"float32", "float64"}),
            Options(type, {np.float32, np.float64}),
            Options(np.dtype, {np.dtype(np.float32), np.dtype(np.float64)}),
        ],
    }

    def __init__(self, scale=255.0, dtype=np.float32):
        self.scale = scale
        self.dtype = dtype

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.input_tags.three_d_array = True
        try:
            out_dtype = np.dtype(self.dtype).name
        except TypeError:
            out_dtype = "float32"
        tags.transformer_tags.preserves_dtype = [out_dtype]
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the layout of the images.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width), \
                (n_samples, height, width, 1) or (n_samples, n_features)
            Images, or flat rows of pixels, with values in ``[0, scale]``.

        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        self._validate_pixels(X, reset=True)
        return self

    def transform(self, X):
        """Flatten the images and divide their pixel values by `scale`.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width), \
                (n_samples, height, width, 1) or (n_samples, n_features)
            Images of the shape seen in :term:`fit`, or flat rows with
            `n_features_in_` pixels, with values in ``[0, scale]``.

        Returns
        -------
        X_tr : ndarray of shape (n_samples, `n_features_in_`)
            C-contiguous array of the type given by `dtype`, with values in
            [0, 1].
        """
        check_is_fitted(self)
        X = self._validate_pixels(X, reset=False)
        return np.divide(X, self.scale, dtype=np.dtype(self.dtype), order="C")

    def inverse_transform(self, X):
        """Turn network inputs back into ``uint8`` images, for example to plot.

        Each value is multiplied by `scale`, rounded to the nearest integer and
        clipped to [0, 255]. For integer pixels in [0, 255] this recovers the
        images given to :meth:`transform` exactly.

        Parameters
        ----------
        X : array-like of shape (n_samples, `n_features_in_`)
            Transformed data.

        Returns
        -------
        images : ndarray of shape (n_samples, `*image_shape_`), dtype uint8
            The images.
        """
        check_is_fitted(self)
        X = check_array(
            X, dtype=[np.float64, np.float32], input_name="X", estimator=self
        )
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input."
            )
        images = np.rint(X * self.scale)
        np.clip(images, 0, 255, out=images)
        return images.astype(np.uint8).reshape(len(X), *self.image_shape_)

    def get_feature_names_out(self, input_features=None):
        """Get output feature names for transformation.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input features.

            - If `input_features` is `None`, then `feature_names_in_` is used
              as feature names in. If `feature_names_in_` is not defined, the
              names ``"pixel1"``, ..., ``"pixel<n_features_in_>"`` are used,
              as in OpenML's MNIST data set.
            - If `input_features` is an array-like, then `input_features` must
              match `feature_names_in_` if `feature_names_in_` is defined.

        Returns
        -------
        feature_names_out : ndarray of str objects
            Names of the output features, one per pixel.
        """
        check_is_fitted(self, "n_features_in_")
        names = _check_feature_names_in(self, input_features, generate_names=False)
        if names is None:
            names = np.asarray(
                [f"pixel{i}" for i in range(1, self.n_features_in_ + 1)],
                dtype=object,
            )
        return names

    def _validate_pixels(self, X, reset):
        """Validate `X`, return it as a 2-D numeric array of flat images.

        The returned array keeps the input's numeric dtype (``uint8`` stays
        ``uint8``), so that the range check and the later conversion are cheap.
        """
        name = type(self).__name__
        if not hasattr(X, "shape") or not hasattr(X, "ndim"):
            # Nested lists and other array-likes: learn their dimensionality.
            X = np.asarray(X)

        if X.ndim in (3, 4):
            X = np.asarray(X)
            if X.ndim == 4 and X.shape[3] != 1:
                raise ValueError(
                    f"{name} expects single-channel images of shape (n_samples, "
                    f"height, width) or (n_samples, height, width, 1); got X of "
                    f"shape {X.shape}."
                )
            image_shape = X.shape[1:3]
            if not reset and image_shape != self.image_shape_:
                raise ValueError(
                    f"X contains images of shape {image_shape}, but {name} was "
                    f"fitted on {_describe_layout(self.image_shape_)}."
                )
            X = X.reshape(X.shape[0], image_shape[0] * image_shape[1])
        elif X.ndim > 4:
            raise ValueError(
                f"{name} expects X of shape (n_samples, n_features), (n_samples, "
                f"height, width) or (n_samples, height, width, 1); got X of shape "
                f"{X.shape}."
            )
        elif X.ndim < 2:
            raise ValueError(
                f"Expected a 2D, 3D or 4D array, got a {X.ndim}D array of shape "
                f"{X.shape} instead. Reshape your data with X.reshape(1, -1) if it "
                "holds one flat image."
            )
        else:
            image_shape = None
            if (
                not reset
                and X.shape[1] != self.n_features_in_
                and tuple(X.shape) == self.image_shape_
            ):
                raise ValueError(
                    f"X has {X.shape[1]} features, but {name} is expecting "
                    f"{self.n_features_in_} features as input. X looks like one "
                    f"image of shape {self.image_shape_}: pass X[np.newaxis] to "
                    "transform a single image."
                )

        try:
            X = validate_data(self, X, reset=reset, dtype="numeric")
        except ValueError as exc:
            message = str(exc)
            if "could not convert string" not in message and (
                "bytes/strings" not in message
            ):
                raise
            raise ValueError(
                f"{name} expects numeric pixel values, but X contains strings: {exc}"
            ) from exc

        x_min, x_max = X.min(), X.max()
        if x_min < 0 or x_max > self.scale:
            if x_min < 0:
                problem = "Negative values in data"
            else:
                problem = f"Values above scale={self.scale:g} in data"
            raise ValueError(
                f"{problem} passed to {name}: pixel values must be in "
                f"[0, {self.scale:g}]; got min {x_min.item()} and max "
                f"{x_max.item()}. Set scale to the largest possible pixel "
                "value of your images (for example scale=1.0 for images "
                "already in [0, 1])."
            )

        if reset:
            if image_shape is None:
                side = math.isqrt(X.shape[1])
                if side * side == X.shape[1]:
                    image_shape = (side, side)
                else:
                    image_shape = (X.shape[1],)
            self.image_shape_ = tuple(int(s) for s in image_shape)
        return X
