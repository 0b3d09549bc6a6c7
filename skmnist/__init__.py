"""skmnist: the classic Keras MNIST multilayer perceptron as a scikit-learn estimator.

Importing :mod:`skmnist` is cheap: the data utilities and :class:`FlattenScaler`
need only NumPy and scikit-learn, and the names that need Keras
(:class:`MNISTClassifier`, :func:`make_mnist_pipeline`, :func:`save_model`,
:func:`load_model`) are imported on first use, so that fetching data never starts
TensorFlow.
"""

import importlib

from ._preprocessing import FlattenScaler
from .datasets import fetch_mnist, load_mnist_sample

__version__ = "0.1.0"

# Public names whose modules import Keras (and so TensorFlow): loaded on first use.
_LAZY = {
    "MNISTClassifier": "._classifier",
    "make_mnist_pipeline": "._pipeline",
    "save_model": "._persistence",
    "load_model": "._persistence",
}

__all__ = [
    "FlattenScaler",
    "MNISTClassifier",
    "fetch_mnist",
    "load_mnist_sample",
    "load_model",
    "make_mnist_pipeline",
    "save_model",
]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
