"""Predict with a saved model in NumPy alone: :func:`load_predictor`.

The network of a model file is three matrix products and two activations: a
prediction needs no deep-learning runtime. This module computes the whole saved
pipeline (its :class:`~skmnist.FlattenScaler`, the dense layers, their
activation and the softmax) in float32 NumPy, through BLAS, and imports no
TensorFlow, Keras, JAX or scikeras, nor scikit-learn, SciPy or pandas (SciPy's
``erf`` only for a model of ``activation="gelu"``): input is validated, and the
scaler applied, by :mod:`skmnist.images._pixels`, the NumPy code FlattenScaler uses.
"""

import warnings

import numpy as np

from ..images._arrays import PREDICTS_WELL, unscaled_warning
from ..images._pixels import validate_rows
from ..network import forward
from ._reader import file_errors, read_model_file

__all__ = ["MNISTPredictor", "load_predictor"]

# What a bare classifier's messages call it, as the full model's do.
_CLASSIFIER = "MNISTClassifier"


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
        If the file is damaged, foreign or inconsistent: the verdict of
        :func:`load_model`, reached by the same reader.

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
        # Everything was checked by the reader: its verdict is load_model's.
        params = dict(model_file.params)
        self = cls.__new__(cls)
        vars(self).update(model_file.fitted)  # classes_, n_features_in_, ...
        arrays = [np.ascontiguousarray(w, np.float32) for w in model_file.weights]
        self.coefs_, self.intercepts_ = arrays[0::2], arrays[1::2]
        self.scaler_ = model_file.scaler
        if model_file.kind == "Pipeline":
            names = model_file.pipeline["steps"]
            steps = f"{names[0]}=FlattenScaler, {names[1]}=MNISTClassifier"
            self.saved_estimator_ = f"Pipeline({steps})"
        else:
            self.saved_estimator_ = "MNISTClassifier"
        self._params = params
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
        activation = self._params["activation"]
        return forward(X, self.coefs_, self.intercepts_, activation)

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
