"""skmnist: the classic Keras MNIST multilayer perceptron as a scikit-learn estimator.

Importing :mod:`skmnist` is cheap: every public name is imported on first use.
The data utilities and :class:`FlattenScaler` need only NumPy and scikit-learn;
the names that need Keras (:class:`MNISTClassifier`, :func:`make_mnist_pipeline`,
:func:`save_model`, :func:`load_model`) start TensorFlow only when used, so
fetching data never does; :func:`load_predictor` predicts from a saved model
in NumPy, without TensorFlow.
"""

import importlib

# The one place of the version: pyproject.toml reads it from here, statically.
__version__ = "0.1.0"

# Public name -> the module that defines it, imported on first access (PEP 562).
_LAZY = {
    "FlattenScaler": ".estimator._scaler",
    "fetch_mnist": ".datasets",
    "load_mnist_sample": ".datasets",
    "MNISTClassifier": ".estimator._classifier",
    "make_mnist_pipeline": ".estimator._pipeline",
    "evaluate_model": ".report._evaluation",
    "save_model": ".modelfile._persistence",
    "load_model": ".modelfile._persistence",
    "load_predictor": ".modelfile._predictor",
    "export_onnx": ".export._onnx",
    "MNISTPredictor": ".modelfile._predictor",
    "ModelFileError": ".modelfile._reader",
    "plot_learning_curves": ".report._plotting",
    "plot_confusion_matrix": ".report._plotting",
    "plot_digits": ".report._plotting",
    "clear_compiled_networks": ".engine._compiled",
    "set_resumable_fits": ".engine._resume",
    "load_digit_image": ".images._photos",
    "digit_to_mnist": ".images._photos",
}

__all__ = [
    "FlattenScaler",
    "MNISTClassifier",
    "MNISTPredictor",
    "ModelFileError",
    "clear_compiled_networks",
    "digit_to_mnist",
    "evaluate_model",
    "export_onnx",
    "fetch_mnist",
    "load_digit_image",
    "load_mnist_sample",
    "load_model",
    "load_predictor",
    "make_mnist_pipeline",
    "plot_confusion_matrix",
    "plot_digits",
    "plot_learning_curves",
    "save_model",
    "set_resumable_fits",
]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
