"""Keras's activations as float32 NumPy functions: the ones a model file may name.

The light predictor computes them; the model-file reader refuses a file whose
``activation`` has no entry here, so that every reader of a file reaches the
same verdict on it.
"""

import math

import numpy as np

__all__ = ["ACTIVATIONS"]


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


def softmax(x):
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
    "softmax": softmax,
    "log_softmax": _log_softmax,
}
