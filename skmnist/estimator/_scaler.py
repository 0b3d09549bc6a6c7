"""Turn images into inputs for the MNIST multilayer perceptron.

This module imports only NumPy and scikit-learn, so that preprocessing never
starts a deep-learning runtime.
"""

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .._fixes import (
    SKLEARN_CALLBACKS,
    CallbackSupportMixin,
    Interval,
    Options,
    StrOptions,
    check_feature_names_in,
    fit_context,
)
from ..export._skl2onnx import ONNXConvertible
from ..images import _pixels
from ..images._arrays import as_rows

__all__ = ["FlattenScaler"]


class FlattenScaler(
    ONNXConvertible, CallbackSupportMixin, TransformerMixin, BaseEstimator
):
    """Flatten images and scale their pixel values to [0, 1].

    Turns a batch of images into the inputs of a multilayer perceptron: each
    image becomes one row of ``height * width`` pixels, and each pixel value is
    divided by the largest possible pixel value. With the defaults, MNIST's
    ``uint8`` pixels in [0, 255] become ``float32`` values in [0, 1], exactly as
    ``X.reshape(len(X), -1).astype("float32") / 255`` in the classic Keras
    example, in a single vectorised pass; images that are already in [0, 1]
    (``X / 255.0``, as in the Keras tutorial) are recognised and kept as they
    are, never divided by 255 a second time.

    The transformer accepts, as `X`:

    - images of shape ``(n_samples, height, width)``;
    - single-channel images of shape ``(n_samples, height, width, 1)``;
    - flat rows of shape ``(n_samples, n_features)``, as arrays, nested lists
      or DataFrames (for example OpenML's ``pixel1`` ... ``pixel784`` columns).

    :term:`fit` learns the layout (the image shape and the number of pixels)
    and, with ``scale="auto"``, the convention of the pixel values.
    :term:`transform` then accepts images of that same shape (with or without
    a trailing channel axis) or flat rows with the same number of pixels;
    images of another shape raise a ``ValueError`` naming both shapes.

    Pixel values must lie in ``[0, scale_]``: negative values, values above
    `scale_`, NaN, infinity and non-numeric data raise a ``ValueError``.
    Boolean images are masks: ``True`` is full ink (1.0) and ``False`` the
    background (0.0), whatever the scale.

    Parameters
    ----------
    scale : "auto" or float, default="auto"
        Largest possible pixel value; every pixel is divided by it, so that
        the output lies in [0, 1].

        - ``"auto"`` learns it in :term:`fit` from the images' convention:
          integer images (``uint8``, ``int64``, ...) hold pixel values from 0
          to 255 and are divided by 255, however dark they are;
          floating-point images whose values all lie in [0, 1] are already
          scaled and are kept as they are (divided by 1); floating-point
          images with values above 1 hold pixel values from 0 to 255 and are
          divided by 255. :term:`transform` then refuses, with a
          ``ValueError`` that names the fix, images of the other convention:
          integer images or floats above 1 after a fit on images in [0, 1],
          or floats all within [0, 1] (except all-zero images) after a fit on
          pixel values from 0 to 255, which dividing by 255 would turn almost
          black.
        - A number is used as given, for any images, without guessing:
          ``scale=255.0`` for pixel values from 0 to 255, ``scale=1.0`` for
          images already in [0, 1], ``scale=65535`` for 16-bit images.

    dtype : {"float32", "float64"}, np.float32 or np.float64, default=np.float32
        Data type of the output of :term:`transform`. ``float32`` is what Keras
        uses and needs half the memory of ``float64``.

    Attributes
    ----------
    scale_ : float
        The number every pixel value is divided by: learned in :term:`fit`
        (255.0 or 1.0) when `scale` is ``"auto"``, else `scale` itself.
        :meth:`inverse_transform` multiplies by it.

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
    >>> scaler.image_shape_, scaler.n_features_in_, scaler.scale_
    ((28, 28), 784, 255.0)
    >>> X = scaler.transform(images)
    >>> X.shape, X.dtype
    ((2, 784), dtype('float32'))
    >>> print(X[1, :3])
    [0.  0.2 1. ]
    >>> scaler.inverse_transform(X).shape
    (2, 28, 28)

    Images already divided by 255 are not divided again:

    >>> scaler = FlattenScaler().fit(images / 255.0)
    >>> scaler.scale_
    1.0
    >>> print(scaler.transform(images / 255.0)[1, :3])
    [0.  0.2 1. ]
    """

    _parameter_constraints: dict = {
        "scale": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "dtype": [
            StrOptions({"float32", "float64"}),
            Options(type, {np.float32, np.float64}),
            Options(np.dtype, {np.dtype(np.float32), np.dtype(np.float64)}),
        ],
    }

    def __init__(self, scale="auto", dtype=np.float32):
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

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the layout of the images and, with ``scale="auto"``, their scale.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width), \
                (n_samples, height, width, 1) or (n_samples, n_features)
            Images, or flat rows of pixels: integers in [0, 255], floats in
            [0, 1] or in [0, 255], or booleans (with ``scale="auto"``); values
            in ``[0, scale]`` otherwise.

        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        if SKLEARN_CALLBACKS:  # a task without subtasks, in a search's progress
            context = self._init_callback_context()
            context.call_on_fit_task_begin(estimator=self, X=X, y=y)
        self._validate_pixels(X, reset=True)
        if SKLEARN_CALLBACKS:
            context.call_on_fit_task_end(
                estimator=self, X=X, y=y, reconstruction_attributes={}
            )
        return self

    def transform(self, X):
        """Flatten the images and divide their pixel values by `scale_`.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width), \
                (n_samples, height, width, 1) or (n_samples, n_features)
            Images of the shape seen in :term:`fit`, or flat rows with
            `n_features_in_` pixels, with values in ``[0, scale_]``, and with
            ``scale="auto"`` of the convention seen in :term:`fit`.

        Returns
        -------
        X_tr : ndarray of shape (n_samples, `n_features_in_`)
            C-contiguous array of the type given by `dtype`, with values in
            [0, 1].
        """
        check_is_fitted(self)
        X = self._validate_pixels(X, reset=False)
        return _pixels.scale(X, self.scale_, self.dtype)

    def inverse_transform(self, X):
        """Turn network inputs back into images, for example to plot.

        Each value is multiplied by `scale_` and clipped to ``[0, scale_]``.
        When `scale_` is a whole number from 2 to 65535 (255 for 0-255
        pixels, 65535 for 16-bit images), the values are rounded to the
        nearest integer and returned as ``uint8`` (up to 255) or ``uint16``;
        otherwise (``scale_=1.0`` for images already in [0, 1]) they are
        returned as floats of type `dtype`. For pixels of those kinds this
        recovers the images given to :meth:`transform` exactly.

        Parameters
        ----------
        X : array-like of shape (n_samples, `n_features_in_`)
            Transformed data.

        Returns
        -------
        images : ndarray of shape (n_samples, `*image_shape_`)
            The images: ``uint8`` for the default scale of 0-255 pixels.
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
        scale = self.scale_
        images = X * scale
        if 1 < scale <= np.iinfo(np.uint16).max and scale == int(scale):
            np.rint(images, out=images)
            np.clip(images, 0, scale, out=images)
            out_dtype = np.uint8 if scale <= np.iinfo(np.uint8).max else np.uint16
        else:
            np.clip(images, 0, scale, out=images)
            out_dtype = np.dtype(self.dtype)
        return images.astype(out_dtype).reshape(len(X), *self.image_shape_)

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
        names = check_feature_names_in(self, input_features, generate_names=False)
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
        The layout and pixel checks are those of :mod:`skmnist.images._pixels`, which
        the NumPy predictor shares.
        """
        name = type(self).__name__
        X, image_shape = _pixels.flatten(X, name, None if reset else self)
        X = validate_data(self, as_rows(X, name), reset=reset, dtype="numeric")

        fitted_scale = None if reset else self.scale_
        scale = _pixels.check_values(X, name, self.scale, fitted_scale)

        if reset:
            if image_shape is None:
                image_shape = _pixels.image_shape_of(X.shape[1])
            self.image_shape_ = tuple(int(s) for s in image_shape)
            self.scale_ = scale
        return X
