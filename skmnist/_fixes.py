"""Every private name of another library that skmnist relies on, and why.

In the manner of Keras's ``keras/src/wrappers/fixes.py``: each borrowed name is
listed here, with what it is for and when it can go, and imported or wrapped here
where that costs no import the caller would not make anyway, so that the rest of
skmnist uses only public names of scikit-learn, scikeras, Keras, TensorFlow and
Python. :data:`BORROWED` holds the same names as ``module:attribute`` strings:
``tests/test_fixes.py`` checks that each exists in the installed versions, that
each is named here, and that every private name of another library found in
``skmnist/`` is among them. The libraries that lend a name are bounded above in
``pyproject.toml`` by the newest version CI tests. Importing this module imports
scikit-learn only (Keras on first use of :func:`stable_keras_names`).

scikit-learn
------------
- ``sklearn.utils._param_validation`` (``Interval``, ``Options``,
  ``StrOptions``, ``InvalidParameterError``): the declarative parameter
  constraints that scikit-learn's own estimators use, and the error they raise
  (``BaseEstimator._validate_params`` checks them). Can go when scikit-learn
  makes them public.
- ``sklearn.base._fit_context`` (:func:`fit_context`): validates an estimator's
  parameters once per fit, skipping it inside meta-estimators that already did,
  as scikit-learn's own ``fit`` methods do. Can go when it is public.
- ``sklearn.utils.validation._check_feature_names_in``
  (:func:`check_feature_names_in`): ``get_feature_names_out``'s checks and
  errors, as scikit-learn's own transformers give them. Can go when it is public.
- ``BaseEstimator._get_param_names`` (:func:`get_param_names`): parameters
  listed from the ``__init__`` signature, which scikeras replaces with a reading
  of ``__dict__``. Can go when scikeras stops overriding it.
- ``BaseEstimator._validate_params``: checks the constraints above; called by
  ``MNISTClassifier._check_params`` and by :mod:`skmnist.modelfile._persistence`
  on the ``Pipeline`` and ``FlattenScaler`` that a model file restores without
  fitting, so that a file's parameters get the error a fit would give. A method
  of the caller's own object, called where it is used (a wrapper here would only
  rename it). Can go when scikit-learn validates parameters publicly.
- ``sklearn.callback`` (scikit-learn >= 1.9; public): ``CallbackSupportMixin``,
  replaced by an empty mixin on older versions (:data:`SKLEARN_CALLBACKS` tells
  which; ``fit_context`` tears the callbacks down after a fit there), so that
  ``MNISTClassifier`` supports ``set_callbacks`` where scikit-learn does and
  nothing changes elsewhere. ``set_callbacks`` keeps the callbacks set on (or
  propagated to) an estimator in its ``_skl_callbacks`` attribute, which
  :func:`has_sklearn_callbacks` reads: a fit that has none skips the per-epoch
  reporting and its cost. Can go when scikit-learn publishes a way to ask. An
  estimator starts its callbacks' root task with the mixin's
  ``CallbackSupportMixin._init_callback_context``, private by name but
  documented for estimators that support callbacks (scikit-learn's own call
  it); it stays where it is called, a method of the caller's own object.

scikeras
--------
:class:`skmnist.MNISTClassifier` is a :class:`scikeras.wrappers.KerasClassifier`
(scikeras 0.13, pinned to the minor in ``pyproject.toml``) but runs none of its
fit or predict machinery (``_fit``, ``_initialize``, their hooks, the target and
feature encoders, ``_validate_sample_weight``): its own ``fit`` reads top-down in
:mod:`skmnist.estimator._classifier`. What still runs of scikeras, and why:

- ``BaseWrapper.get_params`` / ``set_params``: parameters, with scikeras's routed
  ``prefix__name`` parameters; ``BaseWrapper._get_param_names`` is replaced by
  :func:`get_param_names`, since scikeras reads ``__dict__``.
- ``BaseWrapper.__sklearn_tags__``: completed in ``MNISTClassifier``'s own.
- Importing scikeras makes Keras models and optimizers picklable: it sets their
  ``__reduce__`` to ``scikeras._saving_utils``'s ``pack_keras_model`` and
  ``pack_keras_optimizer``, which ``joblib.dump`` of a fitted estimator needs.
  Can go when Keras pickles them itself.

Keras
-----
- ``keras.src.backend.common.global_state`` (``get_global_attribute``,
  ``set_global_attribute``; :func:`stable_keras_names`): the thread-local
  counters behind Keras's generated names.
- ``keras.src.backend.tensorflow.optimizer.TFOptimizer._all_reduce_sum_gradients``
  (:func:`skip_all_reduce`): replaced on the optimizers that the compiled
  training programs trace, since what it traces stays alive for good.

uvicorn
-------
- ``uvicorn.protocols.http.h11_impl.H11Protocol``, subclassed by
  :class:`skmnist.serve._protocol.GuardedH11Protocol` for a request deadline and
  eviction at the connection limit. It overrides the asyncio protocol hooks
  (``connection_made``, ``connection_lost``, ``data_received``) and uvicorn's
  own ``on_response_complete`` and ``shutdown``, and reads the instance
  attributes ``conn`` (the ``h11.Connection``: ``their_state`` is h11's public
  API), ``transport``, ``loop``, ``limit_concurrency`` and ``connections``
  (the server's shared set, whose size uvicorn compares with
  ``limit_concurrency`` to answer 503; an evicted connection is discarded from
  it at once). Imported in :mod:`skmnist.serve._protocol` itself, not here: it
  needs uvicorn, which only ``skmnist serve`` may import, and the subclass's
  uses of the attributes cannot move here anyway. Can go when uvicorn bounds the
  time a request may take to arrive and makes room at its connection limit.

Python
------
- ``sys._getframe`` (:func:`caller_stacklevel`): the stack walked to point a
  warning at the user's own line. CPython and PyPy have it. Can go when the
  lowest Python is 3.12: ``warnings.warn(skip_file_prefixes=...)`` does this.
"""

import collections
import contextlib
import sys

from sklearn.base import BaseEstimator
from sklearn.base import _fit_context as fit_context
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)
from sklearn.utils.validation import (
    _check_feature_names_in as check_feature_names_in,
)

try:
    from sklearn.callback import CallbackSupportMixin

    SKLEARN_CALLBACKS = True
except ImportError:  # scikit-learn < 1.9

    class CallbackSupportMixin:
        """Before scikit-learn 1.9 an estimator has no ``set_callbacks``."""

    SKLEARN_CALLBACKS = False

__all__ = [
    "BORROWED",
    "BORROWED_WHERE_PRESENT",
    "CallbackSupportMixin",
    "SKLEARN_CALLBACKS",
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "caller_stacklevel",
    "check_feature_names_in",
    "fit_context",
    "get_param_names",
    "has_sklearn_callbacks",
    "skip_all_reduce",
    "stable_keras_names",
]

# The names above, as "module:attribute" (checked by tests/test_fixes.py).
BORROWED = (
    "sklearn.utils._param_validation:Interval",
    "sklearn.utils._param_validation:Options",
    "sklearn.utils._param_validation:StrOptions",
    "sklearn.utils._param_validation:InvalidParameterError",
    "sklearn.base:_fit_context",
    "sklearn.utils.validation:_check_feature_names_in",
    "sklearn.base:BaseEstimator._get_param_names",
    "sklearn.base:BaseEstimator._validate_params",
    "scikeras.wrappers:BaseWrapper._get_param_names",
    "scikeras.wrappers:BaseWrapper.__sklearn_tags__",
    "scikeras._saving_utils:pack_keras_model",
    "scikeras._saving_utils:pack_keras_optimizer",
    "keras.src.backend.common.global_state:get_global_attribute",
    "keras.src.backend.common.global_state:set_global_attribute",
    "keras.src.backend.tensorflow.optimizer:TFOptimizer._all_reduce_sum_gradients",
    "uvicorn.protocols.http.h11_impl:H11Protocol",
    "uvicorn.protocols.http.h11_impl:H11Protocol.connection_made",
    "uvicorn.protocols.http.h11_impl:H11Protocol.connection_lost",
    "uvicorn.protocols.http.h11_impl:H11Protocol.data_received",
    "uvicorn.protocols.http.h11_impl:H11Protocol.on_response_complete",
    "uvicorn.protocols.http.h11_impl:H11Protocol.shutdown",
    "uvicorn.protocols.http.h11_impl:H11Protocol().conn",
    "uvicorn.protocols.http.h11_impl:H11Protocol().transport",
    "uvicorn.protocols.http.h11_impl:H11Protocol().loop",
    "uvicorn.protocols.http.h11_impl:H11Protocol().limit_concurrency",
    "uvicorn.protocols.http.h11_impl:H11Protocol().connections",
    "sys:_getframe",
)
# Borrowed only from versions that have them (scikit-learn >= 1.9's callbacks,
# behind SKLEARN_CALLBACKS): listed always, checked where installed.
BORROWED_WHERE_PRESENT = (
    "sklearn.callback:CallbackSupportMixin.set_callbacks",
    "sklearn.callback:CallbackSupportMixin._init_callback_context",
)

get_param_names = BaseEstimator._get_param_names.__func__


def has_sklearn_callbacks(estimator):
    """Whether scikit-learn callbacks are set on `estimator` or propagated to it."""
    return bool(getattr(estimator, "_skl_callbacks", None))


def caller_stacklevel():
    """The warnings stacklevel of the nearest frame outside the libraries.

    So that a warning raised deep in a fit (through scikeras, maybe a Pipeline)
    points at the user's own line: pass it as ``warnings.warn(...,
    stacklevel=caller_stacklevel())``. Frames of skmnist, scikeras and
    scikit-learn are skipped. Python >= 3.12 does this with
    ``warnings.warn(skip_file_prefixes=...)``, without ``sys._getframe``.
    """
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[
        0
    ] in ("skmnist", "scikeras", "sklearn"):
        frame, level = frame.f_back, level + 1
    return level


@contextlib.contextmanager
def stable_keras_names():
    """Keras's generated names start afresh inside the block (in this thread).

    TensorFlow's eager runtime caches a kernel for every distinct variable name it
    has seen, for the life of the process (about 35 kB each), and Keras names
    each new optimizer and seed generator uniquely (``adam_17/iteration``,
    ``seed_generator_42/...``): every fit would grow the process by the cached
    kernels of its variables. Built inside this block, every fit's network and
    optimizer get the same names. Keras keeps its name counters in a
    thread-local of ``keras.src.backend.common.global_state``, with no public
    API. Can go when Keras stops making variable names unique per process, or
    TensorFlow stops caching kernels per variable name.
    """
    from keras.src.backend.common import global_state

    key = "object_name_uids"
    saved = global_state.get_global_attribute(key)
    global_state.set_global_attribute(key, collections.defaultdict(int))
    try:
        yield
    finally:
        global_state.set_global_attribute(key, saved)


def skip_all_reduce(optimizer):
    """Keep a Keras optimizer on TensorFlow from summing gradients over replicas
    when there is one replica (no ``tf.distribute`` strategy is in scope).

    Keras's TensorFlow optimizers sum each step's gradients over the replicas
    of the current strategy (``_all_reduce_sum_gradients``), through
    ``ReplicaContext.all_reduce``, which wraps the sum in ``tf.custom_gradient``.
    Traced in a graph, that registers a gradient function under a new name in
    TensorFlow's process-wide gradient registry, and the function holds the
    whole traced training program alive for the life of the process (a few MB
    each: a loop of fits over many network sizes grew by ~3.5 MB a fit). With
    one replica the sum is the gradients themselves, so it is skipped, on this
    optimizer instance only. Can go when Keras skips the sum for one replica, or
    TensorFlow stops keeping custom gradients of dead graphs.
    """
    import tensorflow as tf

    if not tf.distribute.has_strategy():
        optimizer._all_reduce_sum_gradients = _as_list


def _as_list(grads_and_vars):
    return list(grads_and_vars)
