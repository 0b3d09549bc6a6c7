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
"""

import dataclasses
import threading
from collections import OrderedDict

import numpy as np

from ._errors import unsupported_backend
from ._model import build_mlp
from ._runtime import keras

__all__ = [
    "MAX_COMPILED_NETWORKS",
    "ForwardPass",
    "NetworkSpec",
    "clear_compiled_networks",
    "compiled_network",
    "bucket",
    "eval_chunks",
    "padded_data",
    "padded_order",
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

    @property
    def architecture(self):
        """The layers' parameters, as :func:`skmnist._model.build_mlp` takes them."""
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


class ForwardPass:
    """The forward pass of one architecture, for any weights of it."""

    def __init__(self, spec):
        # Seeded: its initial values are overwritten by each fit's or prediction's
        # own, and an unseeded build would draw from Python's global random.
        self._model = build_mlp(
            spec.n_features, spec.n_classes, seed=0, **spec.architecture
        )

    def forward(self, trainable, non_trainable, x):
        proba, _ = self._model.stateless_call(trainable, non_trainable, x)
        return proba

    @staticmethod
    def weights(model):
        """``model``'s trainable and non-trainable values, as backend tensors."""
        return (
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
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
    ``skmnist._compiled.MAX_COMPILED_NETWORKS`` = 32 programs, least recently
    used first out). This empties that cache, to release its memory. Fitted
    estimators keep working (their weights are their own); the next fit or
    prediction of each network traces and compiles it again.

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
    return n_cleared


_ALIGNMENT = 64


def bucket(n):
    """``n`` rounded up to a size shared by sizes within about 6% of it.

    XLA and JAX compile a program per input shape: with inputs padded to these
    sizes, the folds of a cross-validation (which differ by a row or so) and data
    sets of similar sizes share one compiled program.
    """
    granularity = 1 << max(n.bit_length() - 4, 0)
    return -(-n // granularity) * granularity


def padded(array, n_rows):
    """``array`` with zero rows added up to ``n_rows`` rows, in aligned memory.

    64-byte aligned, as TensorFlow's and XLA's kernels need it: the backends
    then take the array over through DLPack, without copying it again.
    """
    shape, dtype = (n_rows, *array.shape[1:]), np.dtype(array.dtype)
    n_bytes = int(np.prod(shape)) * dtype.itemsize
    buffer = np.zeros(n_bytes + _ALIGNMENT, dtype=np.uint8)
    offset = -buffer.ctypes.data % _ALIGNMENT
    out = buffer[offset : offset + n_bytes].view(dtype).reshape(shape)
    out[: len(array)] = array
    return out


def padded_data(X, y, sample_weight):
    """The fit's arrays padded to :func:`bucket` rows; added rows are never read."""
    n_rows = bucket(len(X))
    return [padded(a, n_rows) for a in (X, y, sample_weight)]


def padded_order(order):
    """A training order padded to :func:`bucket` entries (the step masks the rest)."""
    return padded(order.astype(np.int32), bucket(len(order)))


#: Most rows evaluated per step: large enough to amortise a step, small enough to
#: bound the activations' memory (8192 x 512 floats = 16 MiB a layer).
EVAL_CHUNK = 8192


def eval_chunks(rows):
    """``rows`` as a (n_chunks, chunk) int32 array, the last chunk padded.

    Chunks are as long as the rows need (to a :func:`bucket` size), up to
    :data:`EVAL_CHUNK`, so that a small validation set is not padded to a large
    chunk. The compiled step gives padded positions zero weight.
    """
    chunk = min(EVAL_CHUNK, bucket(max(len(rows), 1)))
    n_chunks = -(-len(rows) // chunk)
    return padded(rows.astype(np.int32), n_chunks * chunk).reshape(n_chunks, chunk)
