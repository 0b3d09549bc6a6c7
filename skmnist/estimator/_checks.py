"""The checks of MNISTClassifier's parameters and labels beyond scikit-learn's
parameter constraints: what a parameter may be, decided before any training.
"""

import os
from numbers import Real

import numpy as np

from .._errors import UserError
from .._fixes import InvalidParameterError
from ..engine._runtime import keras

__all__ = [
    "NetworkTooLarge",
    "UnsupportedDtypePolicy",
    "check_dtype_policy",
    "check_label_types",
    "check_memory",
    "refuse_routed",
]


class NetworkTooLarge(UserError, ValueError):
    """A network whose parameters alone would not fit in memory to train."""


class UnsupportedDtypePolicy(UserError, ValueError):
    """Keras's global dtype policy is one the network does not train in."""


def check_dtype_policy():
    """Refuse a global Keras dtype policy or float type other than float32.

    The network, its compiled steps and model files are float32 throughout; a
    process-wide ``keras.config.set_dtype_policy("mixed_bfloat16")`` would build
    layers that compute in another type, and TensorFlow's errors would follow.
    """
    policy = keras.config.dtype_policy().name
    floatx = keras.config.floatx()
    if policy != "float32" or floatx != "float32":
        raise UnsupportedDtypePolicy(
            f"Keras's global dtype policy is {policy!r} (floatx {floatx!r}), but "
            "skmnist trains and predicts in float32 only: call "
            "keras.config.set_dtype_policy('float32') (and "
            "keras.config.set_floatx('float32')) before fitting."
        )


def check_label_types(labels, name):
    """Refuse labels that mix strings and numbers, before NumPy sorts them
    (an error) or turns the numbers into strings (a list: silently)."""
    dtype = getattr(labels, "dtype", None)
    if dtype is not None and getattr(dtype, "kind", "O") != "O":
        return  # one NumPy type
    values = np.asarray(labels, dtype=object).ravel().tolist()
    strings = {type(v).__name__ for v in values if isinstance(v, str)}
    numbers = {type(v).__name__ for v in values if isinstance(v, Real)}
    if strings and numbers:
        raise ValueError(
            f"{name} mixes label types ({' and '.join(sorted(strings | numbers))}): "
            "labels must all be of one type to be sorted into classes. Convert "
            f"them first, e.g. {name} = np.asarray({name}, dtype=str)."
        )


def check_memory(n_features, n_classes, hidden_size, n_hidden_layers):
    """Refuse, before building it, a network that cannot fit in memory.

    Training holds each parameter about 4 times in float32 (the weight, its
    gradient and up to two optimizer slots): a network whose parameters need
    more than the machine's physical memory would end in an allocation error
    deep in Keras, after the data was loaded.
    """
    n_params = _n_parameters(n_features, n_classes, hidden_size, n_hidden_layers)
    needed = n_params * 4 * 4
    available = _physical_memory()
    if available is not None and needed > available:
        raise NetworkTooLarge(
            f"hidden_size={hidden_size} with n_hidden_layers={n_hidden_layers} "
            f"and {n_features} features makes a network of {n_params:,} "
            f"parameters, which needs about {needed / 1e9:,.1f} GB of memory to "
            f"train, more than this machine's {available / 1e9:,.1f} GB. Lower "
            "hidden_size (or n_hidden_layers)."
        )


def _n_parameters(n_features, n_classes, hidden_size, n_hidden_layers):
    """The number of weights and biases of the network build_mlp makes."""
    widths = [n_features] + [hidden_size] * n_hidden_layers + [n_classes]
    return sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:], strict=True))


def _physical_memory():
    """The machine's physical memory in bytes, or None where unknown."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not POSIX
        return None


# What a routed parameter of scikeras (prefix__name) is here, by its name.
_ROUTED_TO = {
    "learning_rate": "learning_rate",
    "lr": "learning_rate",
    "batch_size": "batch_size",
    "epochs": "epochs",
    "validation_split": "validation_split",
    "shuffle": "shuffle",
    "class_weight": "class_weight",
    "callbacks": "callbacks",
    "verbose": "verbose",
    "jit_compile": "jit_compile",
    "steps_per_execution": "steps_per_execution",
}
# scikeras's routing prefixes (BaseWrapper._routing_prefixes), and callbacks,
# whose list has no parameters of its own to set.
_ROUTING_PREFIXES = ("model", "fit", "compile", "predict", "optimizer", "loss")
_ROUTING_PREFIXES += ("metrics", "callbacks")


def refuse_routed(name, cls):
    """Refuse scikeras's routed parameter `name` (``prefix__param``), naming
    the parameter of `cls` that holds the setting, if one does.

    Honouring both would give one setting two names, one of them unseen by
    ``get_params``, ``clone`` and model files.
    """
    prefix, routed, param = name.partition("__")
    if not routed or prefix not in _ROUTING_PREFIXES:
        return
    params = cls._get_param_names()
    target = "callbacks" if prefix == "callbacks" else _ROUTED_TO.get(param)
    if target is None and param in params:
        target = param  # model__hidden_size
    if target is not None:
        use = f"use {target}=... instead"
    else:
        use = f"{cls.__name__}'s parameters are {', '.join(params)}"
    extra = ""
    if prefix == "optimizer":
        extra = " (or optimizer=keras.optimizers.Adam(...) for other settings)"
    raise InvalidParameterError(
        f"{cls.__name__} does not take scikeras's routed parameter {name}: each "
        f"setting has one parameter, which get_params, clone and model files "
        f"keep; {use}{extra}."
    )
