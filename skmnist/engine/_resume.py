"""Resumable fits: a longer fit starts from a shorter, identical fit's end state.

With an int ``random_state`` a fit is a pure function of its hyperparameters, its
seed and its data, and epoch ``e``'s batch order depends on the seed and ``e``
alone (:func:`skmnist.engine._training.train`): the first ``k`` epochs of an
``n``-epoch fit are exactly the ``k``-epoch fit. A grid search over ``epochs``
(``[5, 10, 20]``) therefore need not train 5 + 10 + 20 epochs per fold and
width: each fit that completes keeps its end state here (the network's
variables, the optimizer's and the seed generators', and the history), and a
later fit with the same key and more epochs loads it and trains only the rest.
Its weights, history and predictions are bit for bit those of a fresh fit.

The key is the estimator's class and the optimizer's class, themselves (a
subclass may build other weights; a class defined again under the same name may
update otherwise), and a SHA-256 digest of everything else that changes the
result except ``epochs``: every parameter of the estimator (with the seed drawn from
``random_state`` and the optimizer's full configuration, learning rate
included), the compiled network's spec (widths, XLA), the Keras backend and
dtype policy, and the data as the network receives it (inputs, class indices,
sample weights after class weights, training and validation rows). Fits that
could differ never get a key: ``random_state=None``, user callbacks, early
stopping (its stopper's state and its restored weights are not an epoch's end
state), ``verbose`` (a resumed fit would print only the rest), and
continuations (``warm_start``, ``partial_fit``).

The states are kept within :data:`MAX_RESUMABLE_BYTES`, counting every byte the
store holds (each state is one buffer of the variables' bytes and one array of
the history, so that the count is exact), least recently used
first out, superseded ones (a shorter state of a fit that has a longer one)
before the others; :func:`set_resumable_fits` turns resumption off,
and it and :func:`skmnist.clear_compiled_networks` forget them.
"""

import hashlib
import math
import sys
import threading
import typing
from collections import OrderedDict

import numpy as np

from ..network import state as network_state

__all__ = [
    "MAX_RESUMABLE_BYTES",
    "clear_resumable_fits",
    "fit_key",
    "joined",
    "resume",
    "set_resumable_fits",
    "store",
]

#: Most bytes of end states kept per process. One state is the network's
#: weights plus Adam's two moments, 12 bytes a parameter: about 8 MB for the
#: default 784-512-512-10 network, 3.3 MB at 256 units, 1.3 MB at 128, 0.6 MB at
#: 64. A grid over 4 widths x 3 epochs values x 3 folds needs 12 of them at a
#: time (40 MB): a state that a longer one of the same fit supersedes is the
#: first to go. A loop of fits that never resume (a new seed each) holds at most
#: this much: the history, the keys and the table count too.
MAX_RESUMABLE_BYTES = 64 * 2**20

_STATES = OrderedDict()  # (key, epochs) -> _State
_LOCK = threading.Lock()
_SETTINGS = {"enabled": True}
#: Counts of lookups, for tests and benchmarks: "hits" resumed, "misses" did not.
COUNTS = {"hits": 0, "misses": 0}


def set_resumable_fits(enabled):
    """Turn on or off resuming a fit from an identical, shorter earlier fit.

    With an int ``random_state``, the first ``k`` epochs of an ``n``-epoch fit
    are exactly the ``k``-epoch fit. So each completed fit of
    :class:`MNISTClassifier` keeps its end state (weights, optimizer state,
    history) in memory, and a later fit identical but for more ``epochs``
    (another candidate of a grid search over ``epochs``, on the same fold)
    starts from it and trains only the remaining epochs. The result is bit for
    bit that of a fresh fit: weights, ``history_``, ``n_iter_``, predictions.
    A fit resumes only when that is certain: an int ``random_state`` (or a
    ``RandomState`` that draws the same seed), the same data, the same value of
    every other parameter, no ``callbacks``, no ``early_stopping``, ``verbose=0``,
    and not a ``warm_start`` continuation or ``partial_fit``. The states kept
    are bounded (within ``skmnist.engine._resume.MAX_RESUMABLE_BYTES`` = 64 MiB, about
    8 MB for a 512-unit network, 0.6 MB for 64 units; least recently used first
    out, states that a longer one of the same fit supersedes before others)
    and forgotten by :func:`clear_compiled_networks`. Resumption is on by default.

    The setting is this process's: the worker processes of ``n_jobs`` keep
    their own states, of the fits each of them ran.

    Parameters
    ----------
    enabled : bool
        True to resume fits (the default), False to train every fit from
        scratch; False also forgets the states kept.

    Returns
    -------
    previous : bool
        The setting before this call.

    Examples
    --------
    >>> from skmnist import set_resumable_fits
    >>> previous = set_resumable_fits(False)
    >>> set_resumable_fits(previous)
    False
    """
    if not isinstance(enabled, (bool, np.bool_)):
        raise TypeError(
            f"set_resumable_fits takes True or False, but got {enabled!r} (a "
            f"{type(enabled).__name__})."
        )
    with _LOCK:
        previous = _SETTINGS["enabled"]
        _SETTINGS["enabled"] = bool(enabled)
    if not enabled:
        clear_resumable_fits()
    return previous


def clear_resumable_fits():
    """Forget every end state kept; returns how many there were."""
    with _LOCK:
        n_cleared = len(_STATES)
        _STATES.clear()
    return n_cleared


def fit_key(estimator, spec, seed, arrays, *, continues):
    """The key of a fit of ``estimator``, or None when it must not resume.

    Parameters
    ----------
    estimator : MNISTClassifier
        The estimator being fitted, with its compiled Keras model (``model_``).
    spec : skmnist.engine._compiled.NetworkSpec
        The training network's spec (widths, optimizer kind, batch size, XLA).
    seed : int or None
        The fit's seed, drawn from ``random_state``.
    arrays : tuple of ndarray
        The data as the network receives it: inputs, class indices, sample
        weights, training rows and validation rows (or None).
    continues : bool
        Whether the fit continues an earlier one (``warm_start``, ``partial_fit``).

    Returns
    -------
    key : tuple or None
        The estimator's class and the optimizer's class, themselves (a subclass
        may build other weights, and a class defined again under the same name
        may update otherwise), and a digest of all the rest.
    """
    params = estimator.get_params(deep=False)
    if (
        not _SETTINGS["enabled"]
        or continues
        or seed is None
        or params["callbacks"]
        or params["early_stopping"]
        or params["verbose"]
    ):
        return None
    from ._runtime import keras

    optimizer = estimator.model_.optimizer
    config = dict(optimizer.get_config(), name=None)
    params.update(epochs=None, random_state=seed, optimizer=config)
    digest = hashlib.sha256()
    for part in (
        keras.backend.backend(),
        keras.config.dtype_policy().name,
        spec,
        sorted(params.items()),
    ):
        digest.update(repr(part).encode() + b"\0")
    for array in arrays:
        if array is None:
            digest.update(b"None\0")
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}\0".encode())
        # hashlib releases the GIL: other threads' fits go on meanwhile.
        digest.update(memoryview(array).cast("B"))
    return type(estimator), type(optimizer), digest.hexdigest()


def _layout(model):
    """Where each variable's bytes lie in a state's one flat buffer.

    A list of (variable, dtype, shape, offset), and the buffer's size. Offsets
    are multiples of 8, so that every value is an aligned view of the buffer.
    """
    layout, offset = [], 0
    for variable in network_state(model):
        dtype = np.dtype(variable.dtype)
        shape = tuple(variable.shape)
        layout.append((variable, dtype, shape, offset))
        offset += -(-math.prod(shape) * dtype.itemsize // 8) * 8
    return layout, offset


class _State(typing.NamedTuple):
    """One fit's end state, in as few objects as it takes to count them."""

    buffer: np.ndarray  # every variable's values, one after the other (uint8)
    names: tuple  # the history's keys
    history: np.ndarray  # (len(names), epochs) float64: the history's values
    nbytes: int  # every byte the entry holds, itself and its key included


def resume(key, model, epochs):
    """Load into ``model`` the kept state of ``key`` with the most epochs <= ``epochs``.

    Returns
    -------
    history : dict of str to list of float
        The history of the epochs loaded (a copy), or {} when nothing was loaded
        and the model is as it was built.
    """
    if key is None:
        return {}
    with _LOCK:
        done = [e for k, e in _STATES if k == key and e <= epochs]
        entry = _STATES.get((key, max(done))) if done else None
        if entry is not None:
            _STATES.move_to_end((key, max(done)))
        COUNTS["hits" if entry else "misses"] += 1
    if entry is None:
        return {}
    layout, _ = _layout(model)
    for variable, dtype, shape, offset in layout:
        size = math.prod(shape) * dtype.itemsize
        variable.assign(entry.buffer[offset : offset + size].view(dtype).reshape(shape))
    return dict(zip(entry.names, entry.history.tolist(), strict=True))


def store(key, model, history, epochs):
    """Keep ``model``'s end state after a fit of ``epochs`` epochs that completed.

    Nothing is kept without a key, or when fewer epochs ran (an interrupted
    fit), or when the state alone would exceed :data:`MAX_RESUMABLE_BYTES`,
    which is known before anything is copied.
    """
    if key is None or len(history.get("loss", ())) != epochs:
        return
    layout, size = _layout(model)
    names = tuple(history)
    entry_key = (key, epochs)
    # Every object the entry holds, the key's classes aside (they are not the
    # store's): tuples, the digest, names, ints (``size`` stands for nbytes).
    held = (entry_key, key, key[-1], epochs, names, *names, size)
    overhead = sum(map(sys.getsizeof, held)) + sys.getsizeof(_State(*[None] * 4))
    arrays = sys.getsizeof(np.empty(0, np.uint8)) + sys.getsizeof(np.empty((0, 0)))
    nbytes = overhead + arrays + size + 8 * len(names) * epochs
    if not _SETTINGS["enabled"] or nbytes + _table_bytes() > MAX_RESUMABLE_BYTES:
        return
    buffer = np.empty(size, np.uint8)
    for variable, dtype, _, offset in layout:
        value = np.ascontiguousarray(variable.numpy(), dtype=dtype).reshape(-1)
        buffer[offset : offset + value.nbytes] = value.view(np.uint8)
    values = np.array([history[name] for name in names], dtype=np.float64)
    state = _State(buffer, names, values, nbytes)
    with _LOCK:
        if not _SETTINGS["enabled"]:
            return
        _STATES.pop(entry_key, None)
        _STATES[entry_key] = state
        while _held_bytes() > MAX_RESUMABLE_BYTES:
            _STATES.pop(_victim())


def _held_bytes():
    """Every byte the store holds: its entries and the table that holds them."""
    return _table_bytes() + sum(state.nbytes for state in _STATES.values())


def _table_bytes():
    return sys.getsizeof(_STATES)


def _victim():
    """The state to forget first: the least recently used of those that a
    longer state of the same fit supersedes (an ascending grid resumes from the
    longest), else the least recently used."""
    longest = {}
    for key, epochs in _STATES:
        longest[key] = max(epochs, longest.get(key, epochs))
    superseded = (entry for entry in _STATES if entry[1] < longest[entry[0]])
    return next(superseded, next(iter(_STATES)))


def joined(history, more):
    """``history`` followed by the epochs of ``more``."""
    keys = dict.fromkeys([*history, *more])
    return {key: [*history.get(key, ()), *more.get(key, ())] for key in keys}
