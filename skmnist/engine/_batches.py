"""What both backends' compiled programs share: the forward pass, the loss, padding.

A leaf of the engine: ``_backend_tensorflow`` and ``_backend_jax`` import it,
``_compiled`` (the cache and the one dispatch to them) imports the backends, and
nothing here imports either, so imports flow one way.
"""

import numpy as np

from ..network import state_parts
from ._build import build
from ._runtime import keras

ops = keras.ops

__all__ = [
    "EVAL_CHUNK",
    "ForwardPass",
    "batch_rows",
    "bucket",
    "eval_chunks",
    "loss_and_hits",
    "padded",
    "padded_data",
    "padded_order",
]


class ForwardPass:
    """The forward pass of one architecture, for any weights of it."""

    def __init__(self, spec):
        # Seeded: its initial values are overwritten by each fit's or prediction's
        # own, and an unseeded build would draw from Python's global random.
        self._model = build(spec.network, seed=0)

    def forward(self, trainable, non_trainable, x):
        proba, _ = self._model.stateless_call(trainable, non_trainable, x)
        return proba

    @staticmethod
    def weights(model):
        """``model``'s weights and other variables, as backend tensors."""
        weights, others, _ = state_parts(model)
        return [v.value for v in weights], [v.value for v in others]


def batch_rows(order, i, batch_size, n_rows):
    """The rows of batch ``i`` of a padded training ``order``, and which are real.

    The last batch is short: its missing rows repeat a real one (at zero weight,
    see :func:`loss_and_hits`), so that every step has one shape.
    """
    positions = i * batch_size + ops.arange(batch_size, dtype="int32")
    valid = positions < n_rows
    return ops.take(order, ops.minimum(positions, n_rows - 1), axis=0), valid


def loss_and_hits(logits, labels, weights, valid):
    """The summed cross-entropy weighted per row, and the number of hits.

    Rows not ``valid`` count for nothing. As Keras's: the loss is weighted by
    the sample weights, its "accuracy" metric is not.
    """
    losses = keras.losses.sparse_categorical_crossentropy(
        labels, logits, from_logits=True
    )
    weights = ops.where(valid, weights, 0.0)
    hits = ops.logical_and(ops.equal(ops.argmax(logits, -1), labels), valid)
    return ops.sum(losses * weights), ops.sum(ops.cast(hits, weights.dtype))


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
