"""Compiled training and prediction steps, traced once per network and reused.

Keras traces new ``tf.function`` / ``jax.jit`` programs for every model it fits, and
TensorFlow and JAX keep what they traced alive after the model is gone: a grid
search of a few hundred fits grows by gigabytes. Here each distinct network (its
layers, optimizer, batch size and XLA setting) is traced and compiled once per
process and then serves every fit and prediction of that network: the
programs take the weights, the optimizer's state and the data as inputs, so
fits never share state and a fitted estimator owns its weights.

The cache holds at most :data:`MAX_COMPILED_NETWORKS` programs (least recently
used first out); :func:`clear_compiled_networks` empties it.

Where the weights live. Between fits, in the estimator's ``model_`` (its Keras
variables, with the optimizer's). During a fit, in one place: the session that
``TrainingNetwork.session`` opens loads them from ``model_`` once, trains them
(TensorFlow: in its workspace's variables; JAX: as arrays the programs pass on),
and writes them back into ``model_`` once at the end; in between, ``model_`` is
brought up to date only around the end of an epoch whose callbacks may read or
set the weights (and what they set is loaded back), as Keras's own JAX trainer
syncs its state only for callbacks. The imports flow one way:
``_build`` <- ``_batches`` <- ``_backend_tensorflow`` / ``_backend_jax`` <- this
module (the only importer of the backends) <- ``_loop`` (one fit) <- the estimator.
"""

import dataclasses
import threading
from collections import OrderedDict

from .._errors import unsupported_backend
from . import _resume
from ._runtime import keras

__all__ = [
    "MAX_COMPILED_NETWORKS",
    "NetworkSpec",
    "clear_compiled_networks",
    "compiled_network",
    "predictor",
]

#: Most compiled networks kept per process. A grid search over hidden sizes needs
#: one per size (and per batch size, optimizer and XLA setting); each costs a few
#: MB of traced graph and compiled code, plus the weights of one network per
#: thread that trains it at a time.
MAX_COMPILED_NETWORKS = 32

_CACHE = OrderedDict()
_CACHE_LOCK = threading.Lock()


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    """Everything that changes a network's compiled computation."""

    n_features: int
    n_classes: int
    hidden_size: int
    n_hidden_layers: int
    activation: str
    dropout: float
    # For training programs only (None for prediction): the optimizer's compiled-in
    # configuration, the batch size and whether XLA compiles the steps.
    optimizer: tuple = None
    batch_size: int = None
    jit_compile: bool = False

    @classmethod
    def of(cls, model):
        """The spec of a network that :func:`skmnist.engine._build.build_mlp` built.

        Read from the network itself, so that it stays true when an estimator's
        parameters change after its fit (the network keeps its shape until the
        next fit).
        """
        hidden = [layer for layer in model.layers if layer.name.startswith("hidden_")]
        dropout = [
            layer.rate for layer in model.layers if layer.name.startswith("dropout_")
        ]
        return cls(
            n_features=int(model.input_shape[-1]),
            n_classes=int(model.get_layer("logits").units),
            # Without hidden layers their width and activation change nothing.
            hidden_size=int(hidden[0].units) if hidden else 0,
            n_hidden_layers=len(hidden),
            activation=hidden[0].get_config()["activation"] if hidden else "linear",
            dropout=float(dropout[0]) if dropout else 0.0,
        )

    @property
    def architecture(self):
        """The layers' parameters, as ``engine._build.build_mlp`` takes them."""
        return dict(
            hidden_size=self.hidden_size,
            n_hidden_layers=self.n_hidden_layers,
            activation=self.activation,
            dropout=self.dropout,
        )

    def for_prediction(self):
        return dataclasses.replace(
            self, optimizer=None, batch_size=None, jit_compile=False
        )


def _backend_module():
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from . import _backend_tensorflow as module
    elif backend == "jax":
        from . import _backend_jax as module
    else:  # a backend from keras.json, or set after Keras was imported
        raise unsupported_backend(backend)
    return module


def _get(key, create):
    with _CACHE_LOCK:
        entry = _CACHE.pop(key, None)
        if entry is None:
            entry = create()
        _CACHE[key] = entry
        while len(_CACHE) > MAX_COMPILED_NETWORKS:
            _CACHE.popitem(last=False)
        return entry


def compiled_network(spec, make_optimizer):
    """The training programs of ``spec``: :class:`Trainer` sessions over its data.

    ``make_optimizer`` builds an optimizer of the spec's kind; it is called only
    when the network is not in the cache yet.
    """
    module = _backend_module()
    key = (keras.backend.backend(), "train", spec)
    return _get(key, lambda: module.TrainingNetwork(spec, make_optimizer))


def predictor(spec):
    """The prediction program of ``spec``'s architecture."""
    module = _backend_module()
    spec = spec.for_prediction()
    key = (keras.backend.backend(), "predict", spec)
    return _get(key, lambda: module.Predictor(spec))


def clear_compiled_networks():
    """Forget every compiled network of this process.

    skmnist traces and compiles each network once per process and reuses it for
    every fit and prediction of that network (at most
    ``skmnist.engine._compiled.MAX_COMPILED_NETWORKS`` = 32 programs, least recently
    used first out). This empties that cache, to release its memory. Fitted
    estimators keep working (their weights are their own); the next fit or
    prediction of each network traces and compiles it again. It also forgets
    the fits' end states kept to resume longer fits (see
    :func:`set_resumable_fits`).

    Returns
    -------
    n_cleared : int
        The number of compiled programs forgotten (a network that was trained
        and used for prediction has two).

    Examples
    --------
    >>> from skmnist import clear_compiled_networks
    >>> clear_compiled_networks() >= 0
    True
    """
    with _CACHE_LOCK:
        n_cleared = len(_CACHE)
        _CACHE.clear()
    _resume.clear_resumable_fits()
    return n_cleared
