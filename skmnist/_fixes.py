"""Every private name of another library that skmnist relies on, and why.

In the manner of Keras's ``keras/src/wrappers/fixes.py``: each borrowed name is
imported or wrapped here, with what it is for and when it can go, so that the
rest of skmnist uses only public names of scikit-learn, scikeras, Keras and
TensorFlow. Importing this module imports scikit-learn only (Keras on first use
of :func:`stable_keras_names`).

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

scikeras
--------
:class:`skmnist.MNISTClassifier` is a :class:`scikeras.wrappers.KerasClassifier`
(scikeras 0.13, pinned to the minor in ``pyproject.toml``) but runs none of its
fit or predict machinery (``_fit``, ``_initialize``, their hooks, the target and
feature encoders, ``_validate_sample_weight``): its own ``fit`` reads top-down in
:mod:`skmnist.estimator._classifier`. What still runs of scikeras, and why:

- ``BaseWrapper.get_params`` / ``set_params``: parameters, with scikeras's routed
  ``prefix__name`` parameters; ``_get_param_names`` is replaced by
  :func:`get_param_names`, since scikeras reads ``__dict__``.
- ``BaseWrapper.__sklearn_tags__``: completed in ``MNISTClassifier``'s own.
- Importing scikeras makes Keras models and optimizers picklable (it sets their
  ``__reduce__``), which ``joblib.dump`` of a fitted estimator needs.

Keras
-----
- ``keras.src.backend.common.global_state`` (:func:`stable_keras_names`): the
  thread-local counters behind Keras's generated names.
- ``Optimizer._all_reduce_sum_gradients`` of Keras's TensorFlow optimizers
  (:func:`skip_all_reduce`): replaced on the optimizers that the compiled
  training programs trace, since what it traces stays alive for good.
"""

import collections
import contextlib

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

__all__ = [
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "check_feature_names_in",
    "fit_context",
    "get_param_names",
    "skip_all_reduce",
    "stable_keras_names",
]

get_param_names = BaseEstimator._get_param_names.__func__


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
