"""Every private name of another library that skmnist relies on, and why.

In the manner of Keras's ``keras/src/wrappers/fixes.py``: each borrowed name is
imported or wrapped here, with what it is for and when it can go, so that the
rest of skmnist uses only public names of scikit-learn, scikeras, Keras and
TensorFlow. Importing this module imports scikit-learn only.

scikeras
--------
:class:`skmnist.MNISTClassifier` is a :class:`scikeras.wrappers.KerasClassifier`
and relies on these of its internals (scikeras 0.13, pinned to the minor in
``pyproject.toml``), overriding each with a method of the same name:

- ``_fit`` / ``_initialize`` call, in this order, ``_validate_data`` (overridden:
  scikit-learn's ``validate_data``), ``target_encoder`` (overridden: a fixed
  loss), ``_build_keras_model`` (overridden: :func:`skmnist._model.build_mlp`)
  and ``_fit_keras_model`` (overridden: skmnist's compiled training loop);
  ``_fit_callbacks`` holds the ``callbacks`` parameter's callbacks.
- ``_predict_raw`` (overridden: the compiled forward pass) is what scikeras's
  ``predict`` and ``predict_proba`` call.
- ``_get_param_names`` (overridden below): scikeras reads parameters from the
  instance's ``__dict__``, scikit-learn from the ``__init__`` signature.
"""

import collections
import contextlib

from sklearn.base import BaseEstimator

# Constraint objects of `_parameter_constraints` and the error they raise: the
# declarative parameter validation that scikit-learn's own estimators use (and
# `BaseEstimator._validate_params` runs), kept private by scikit-learn. Can go if
# scikit-learn makes sklearn.utils._param_validation public.
from sklearn.utils._param_validation import (  # noqa: F401
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)

__all__ = [
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "get_param_names",
    "stable_keras_names",
]

#: scikit-learn's listing of an estimator's parameters from its ``__init__``
#: signature, which scikeras replaces with one that reads ``__dict__``. Can go
#: when scikeras stops overriding ``_get_param_names``.
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
