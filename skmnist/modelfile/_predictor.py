"""Predict with a saved model in NumPy alone: :func:`load_predictor`.

The network of a model file is three matrix products and two activations: a
prediction needs no deep-learning runtime. This module computes the whole saved
pipeline (its :class:`~skmnist.FlattenScaler`, the dense layers, their
activation and the softmax) in float32 NumPy, through BLAS, and imports no
TensorFlow, Keras, JAX or scikeras, nor scikit-learn, SciPy or pandas (SciPy's
``erf`` only for a model of ``activation="gelu"``): input is validated, and the
scaler applied, by :mod:`skmnist.images._pixels`, the NumPy code FlattenScaler uses.
"""

import math
import warnings

import numpy as np

from .._errors import UserError
from ..images._arrays import PREDICTS_WELL, unscaled_warning
from ..images._pixels import validate_rows
from ._reader import file_errors, read_model_file, require

__all__ = ["MNISTPredictor", "load_predictor"]

# Rows per pass through the network: the activations of one pass take
# 8192 x hidden_size floats (16 MiB a layer at 512 units), whatever the input.
_CHUNK = 8192
# What a bare classifier's messages call it, as the full model's do.
_CLASSIFIER = "MNISTClassifier"


def _erf(x):
    # float32 erf to 1 ulp needs a careful series: SciPy's, imported only here,
    # so that only a gelu model pays for SciPy's import.
    from scipy.special import erf

    return erf(x)


def _sigmoid(x):
    # 1 / (1 + exp(-x)) = (1 + tanh(x / 2)) / 2: no overflow for any x.
    half = np.float32(0.5)
    return half + half * np.tanh(half * x)


def _softplus(x):
    return np.logaddexp(np.float32(0), x)


def _hard_sigmoid(x):
    return np.clip(x + np.float32(3), 0, 6) / np.float32(6)


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(x):
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


_SELU_ALPHA, _SELU_SCALE = (
    1.6732632423543772848170429916717,
    1.0507009873554804934193349852946,
)

# Keras's activations (keras/src/activations/activations.py, with the default
# arguments that a name in Dense(activation=name) gets) as NumPy functions.
# Others (glu, sparsemax, threshold, any a later Keras adds) have no entry:
# models using them are predicted by the full estimator.
ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, np.float32(0)),
    "relu6": lambda x: np.clip(x, 0, 6),
    "leaky_relu": lambda x: np.where(x > 0, x, np.float32(0.2) * x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "selu": lambda x: (
        np.float32(_SELU_SCALE)
        * np.where(x > 0, x, np.float32(_SELU_ALPHA) * np.expm1(x))
    ),
    "celu": lambda x: np.maximum(x, 0) + np.expm1(np.minimum(x, 0)),
    "gelu": lambda x: np.float32(0.5) * x * (1 + _erf(x / np.float32(math.sqrt(2)))),
    "silu": lambda x: x * _sigmoid(x),
    "swish": lambda x: x * _sigmoid(x),
    "sigmoid": _sigmoid,
    "hard_sigmoid": _hard_sigmoid,
    "hard_silu": lambda x: x * _hard_sigmoid(x),
    "hard_swish": lambda x: x * _hard_sigmoid(x),
    "sparse_sigmoid": lambda x: np.clip(np.float32(0.5) * (x + 1), 0, 1),
    "tanh": np.tanh,
    "tanh_shrink": lambda x: x - np.tanh(x),
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "softplus": _softplus,
    "softsign": lambda x: x / (np.abs(x) + 1),
    "squareplus": lambda x: (x + np.sqrt(np.square(x) + np.float32(4))) / 2,
    "sparse_plus": lambda x: np.where(
        x <= -1, np.float32(0), np.where(x < 1, np.float32(0.25) * (x + 1) ** 2, x)
    ),
    "soft_shrink": lambda x: np.where(
        x > 0.5, x - np.float32(0.5), np.where(x < -0.5, x + np.float32(0.5), 0)
    ),
    "hard_shrink": lambda x: np.where(np.abs(x) > 0.5, x, np.float32(0)),
    "exponential": np.exp,
    "mish": lambda x: x * np.tanh(_softplus(x)),
    "log_sigmoid": lambda x: -_softplus(-x),
    "softmax": _softmax,
    "log_softmax": _log_softmax,
}


class UnsupportedModelError(UserError, ValueError):
    """A valid model that :func:`load_predictor` cannot compute without Keras."""


def load_predictor(path):
    """Load a model file for prediction only, in NumPy, without TensorFlow.

    Reads a file written by :func:`save_model` with the same checks as
    :func:`load_model` (checksum, format version, array sizes, finite
    weights, fitted attributes), and returns an object that predicts as the
    saved estimator does, to within float32 rounding, computed in NumPy: the
    pipeline's :class:`FlattenScaler` in the model's own input convention, the
    dense layers and their activation, the softmax. Dropout is not applied, as
    in any prediction. Loading and predicting import neither TensorFlow, Keras,
    JAX nor scikeras, nor scikit-learn, SciPy or pandas (SciPy's ``erf`` only
    for ``activation="gelu"``), so a prediction takes a fraction of a second
    and a fraction of the memory: ``skmnist predict`` and ``skmnist serve``
    use it.
    Use :func:`load_model` to train further, or for scikit-learn's tools.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save_model`.

    Returns
    -------
    predictor : MNISTPredictor
        Its ``predict`` and ``predict_proba`` take what the saved estimator
        takes (images for a pipeline, rows for a bare classifier).

    Raises
    ------
    ModelFileError
        If the file is damaged, foreign or inconsistent, as :func:`load_model`
        would say.
    ValueError
        If the model's ``activation`` has no NumPy form here (``"glu"``,
        ``"sparsemax"``): load it with :func:`load_model`.

    See Also
    --------
    load_model : The full estimator (Keras), for training on and scoring.

    Examples
    --------
    >>> import os, tempfile
    >>> from skmnist import load_mnist_sample, load_predictor
    >>> from skmnist import make_mnist_pipeline, save_model
    >>> X, y = load_mnist_sample(return_X_y=True)
    >>> pipe = make_mnist_pipeline(hidden_size=32, epochs=2, random_state=0)
    >>> pipe = pipe.fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "digits.skmnist")
    >>> save_model(pipe, path)
    >>> predictor = load_predictor(path)
    >>> predictor.classes_
    array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    >>> bool((predictor.predict(X[:50]) == pipe.predict(X[:50])).all())
    True
    >>> predictor.predict_proba(X[:2]).shape
    (2, 10)
    """
    model_file = read_model_file(path)
    with file_errors(path):
        return MNISTPredictor._from_file(model_file)


class MNISTPredictor:
    """A saved skmnist model that predicts in NumPy (see :func:`load_predictor`).

    Not made directly: :func:`load_predictor` returns one. It holds the saved
    estimator's fitted state read-only; it cannot be fitted.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, of the type of the labels seen in fit.
    n_features_in_ : int
        The number of features (pixels) of an input row.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        The feature names seen in fit; only set if there were any.
    history_ : dict of str to list of float
        The per-epoch training history, as :class:`MNISTClassifier` records it.
    n_iter_ : int
        The number of epochs run.
    best_epoch_ : int
        The epoch whose weights the model holds; only set with early stopping.
    coefs_ : list of ndarray
        The kernels of the dense layers, input to output, float32, as
        :class:`~sklearn.neural_network.MLPClassifier` names them.
    intercepts_ : list of ndarray
        The biases of the dense layers.
    scaler_ : object or None
        The fitted scaler of a saved pipeline, applied first, as plain data:
        its ``scale``, ``dtype``, ``scale_``, ``image_shape_``,
        ``n_features_in_`` (and ``feature_names_in_`` if set), as the saved
        :class:`FlattenScaler` has them, and a ``transform`` that gives what
        the FlattenScaler gives, with its messages, in NumPy. Not a
        FlattenScaler (that needs scikit-learn): :func:`load_model` makes one.
        None for a bare classifier.
    saved_estimator_ : str
        What :func:`load_model` returns for the file: ``"MNISTClassifier"``, or
        ``"Pipeline(flattenscaler=FlattenScaler, mnistclassifier=MNISTClassifier)"``
        with the pipeline's own step names.
    """

    @classmethod
    def _from_file(cls, model_file):
        params = dict(model_file.params)
        for name, low in (("hidden_size", 1), ("n_hidden_layers", 0)):
            value = params.get(name)
            ok = type(value) is int and value >= low
            require(ok, f"its '{name}' parameter {value!r:.20} is not an int >= {low}")
        activation = params.get("activation")
        require(isinstance(activation, str), "its 'activation' parameter is not a str")
        weights = model_file.weights(params["hidden_size"], params["n_hidden_layers"])
        if activation not in ACTIVATIONS:
            raise UnsupportedModelError(
                f"{model_file.path} uses activation={activation!r}, which "
                "load_predictor does not compute in NumPy (it does "
                f"{', '.join(sorted(ACTIVATIONS))}); load it with skmnist.load_model"
            )
        self = cls.__new__(cls)
        vars(self).update(model_file.fitted)  # classes_, n_features_in_, ...
        arrays = [np.ascontiguousarray(w, dtype=np.float32) for w in weights]
        self.coefs_, self.intercepts_ = arrays[0::2], arrays[1::2]
        self.scaler_ = model_file.scaler
        if model_file.kind == "Pipeline":
            names = model_file.pipeline["steps"]
            steps = f"{names[0]}=FlattenScaler, {names[1]}=MNISTClassifier"
            self.saved_estimator_ = f"Pipeline({steps})"
        else:
            self.saved_estimator_ = "MNISTClassifier"
        self._params, self._activation = params, ACTIVATIONS[activation]
        return self

    @property
    def n_classes_(self):
        """The number of classes."""
        return len(self.classes_)

    def get_params(self, deep=True):
        """The saved classifier's parameters (``hidden_size``, ``activation``, ...).

        Parameters
        ----------
        deep : bool, default=True
            Ignored: there are no nested estimators.

        Returns
        -------
        params : dict
            A copy, as :meth:`MNISTClassifier.get_params` of the saved
            classifier gives them (an optimizer instance as its class and config).
        """
        return dict(self._params)

    def __sklearn_tags__(self):
        # Only scikit-learn's tools ask for tags: they import it themselves.
        from sklearn.utils import InputTags, Tags, TargetTags

        tags = Tags(estimator_type="classifier", target_tags=TargetTags(required=True))
        tags.input_tags = InputTags(
            allow_nan=False, three_d_array=self.scaler_ is not None
        )
        return tags

    def __repr__(self):
        return f"<MNISTPredictor of a {self.saved_estimator_}>"

    def predict_proba(self, X):
        """Class probabilities, computed in float32 NumPy.

        Parameters
        ----------
        X : array-like
            What the saved estimator takes: images (or flat rows of pixels) in
            its scaler's convention for a pipeline; rows of shape (n_samples,
            `n_features_in_`) for a bare classifier.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), float32
            Probability of each class, columns in the order of ``classes_``.

        Warns
        -----
        UserWarning
            For a bare classifier, if X has values far outside unit scale (raw
            0-255 pixels), as the saved classifier warns.
        """
        return self._proba(X)

    def _proba(self, X):
        # Called by predict and predict_proba alone: a warning's stacklevel 3
        # is the caller's line.
        if self.scaler_ is not None:
            X = self.scaler_.transform(X)
        else:
            # Checked, refused and warned about as the saved classifier does.
            names = getattr(self, "feature_names_in_", None)
            X = validate_rows(X, _CLASSIFIER, self.n_features_in_, names, np.float32)
            message = unscaled_warning(X, _CLASSIFIER, PREDICTS_WELL)
            if message is not None:
                warnings.warn(message, UserWarning, stacklevel=3)
        X = np.ascontiguousarray(X, dtype=np.float32)
        proba = np.empty((len(X), self.n_classes_), dtype=np.float32)
        layers = list(zip(self.coefs_, self.intercepts_, strict=True))
        for start in range(0, len(X), _CHUNK):
            h = X[start : start + _CHUNK]
            for kernel, bias in layers[:-1]:
                h = h @ kernel
                h += bias
                h = self._activation(h).astype(np.float32, copy=False)
            kernel, bias = layers[-1]
            logits = h @ kernel
            logits += bias
            proba[start : start + len(h)] = _softmax(logits)
        return proba

    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : array-like
            As for :meth:`predict_proba`.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels, of the type of ``classes_``.
        """
        return self.classes_[self._proba(X).argmax(axis=1)]
