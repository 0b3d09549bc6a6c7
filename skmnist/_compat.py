"""What exists only because of gaps between scikeras 0.13 and today's releases.

scikeras 0.13 (its last release) predates scikit-learn 1.6 and Keras 3's seeding.
Each helper here closes one gap, in our own code, without patching scikeras.
"""

import contextlib
import numbers
import os
import random

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["draw_seed", "limit_tensorflow_threads", "seeded"]


def draw_seed(random_state):
    """Turn a scikit-learn ``random_state`` into an int seed for Keras, or None.

    scikeras 0.13 turns any ``numpy.random.RandomState`` into seed 0
    (``randint(low=1)``). Here an int is used as it is and a ``RandomState`` gives
    a real seed drawn from it (advancing it, as scikit-learn estimators do), so two
    different states give two different models.
    """
    if random_state is None:
        return None
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    rng = check_random_state(random_state)
    return int(rng.randint(np.iinfo(np.int32).max))


def _keras_seed_state():
    # Keras keeps the seed of keras.utils.set_random_seed and its global
    # SeedGenerator in its global state, which has no public getter.
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    keys = (rng_utils.GLOBAL_RANDOM_SEED, seed_generator.GLOBAL_SEED_GENERATOR)
    return global_state, {key: global_state.get_global_attribute(key) for key in keys}


def _tf_global_seed():
    try:
        from tensorflow.python.eager import context
    except ImportError:  # pragma: no cover - TensorFlow is a dependency
        return None, None
    import tensorflow as tf

    return tf, context.global_seed()


@contextlib.contextmanager
def seeded(seed):
    """Seed Python, NumPy, TensorFlow and Keras inside the block, then restore them.

    scikeras's ``tensorflow_random_state`` also switches TensorFlow's op
    determinism on and, when that is the process's first query, never switches it
    off again, so a later unseeded fit fails with "Random ops require a seed to be
    set when determinism is enabled". This context never touches op determinism
    (training on the CPU is reproducible without it) and puts every seed it
    changed back as it was.

    Parameters
    ----------
    seed : int or None
        None leaves all random state alone.
    """
    if seed is None:
        yield
        return
    import keras

    py_state = random.getstate()
    np_state = np.random.get_state()
    tf, tf_seed = _tf_global_seed()
    global_state, keras_state = _keras_seed_state()
    try:
        keras.utils.set_random_seed(seed)
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        if tf is not None:
            tf.random.set_seed(tf_seed)
        for key, value in keras_state.items():
            global_state.set_global_attribute(key, value)


_THREADS_CONFIGURED = False


def limit_tensorflow_threads():
    """Cap TensorFlow's thread pools at ``OMP_NUM_THREADS``, when that is set.

    joblib's loky workers (``GridSearchCV(n_jobs=...)``) and Dask's worker
    processes tell native libraries their share of the cores through
    ``OMP_NUM_THREADS`` and friends; TensorFlow ignores those variables, so n
    workers on n cores would each start n threads and fight. This reads
    ``OMP_NUM_THREADS`` once per process, before TensorFlow's runtime starts, and
    sets TensorFlow's intra-op pool to it (and its inter-op pool to at most it).
    Without the variable, or once TensorFlow is already running, nothing changes.
    Only the TensorFlow backend has these pools.
    """
    global _THREADS_CONFIGURED
    if _THREADS_CONFIGURED:
        return
    _THREADS_CONFIGURED = True
    try:
        n_threads = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return
    import keras

    if n_threads < 1 or keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(n_threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(n_threads, 2))
    except RuntimeError:  # the runtime already started: its pools are fixed now
        pass
