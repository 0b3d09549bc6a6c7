"""What skmnist sets up once per process: a quiet start of Keras, thread pools.

Every module of skmnist that needs Keras imports it from here, so that the first
one to do so starts TensorFlow without its C++ start-up lines (``oneDNN custom
operations are on``, ``Could not find cuda drivers``, ``failed call to cuInit``,
``cpu_feature_guard``, ...), which TensorFlow prints on every import and which
``TF_CPP_MIN_LOG_LEVEL`` no longer fully hides. A user who set
``TF_CPP_MIN_LOG_LEVEL``, or imported TensorFlow before skmnist, sees exactly what
TensorFlow prints.
"""

import contextlib
import os
import re
import sys
import tempfile

from .._errors import BACKENDS, unsupported_backend

__all__ = ["keras"]

# TensorFlow's and absl's C++ log lines, and the second line of cpu_feature_guard's.
_TF_LINE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\)"
    rb"|[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w./-]+:\d+\]"
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] [\w./-]+:\d+\]"
    rb"|To enable the following instructions: .* rebuild TensorFlow)"
)


@contextlib.contextmanager
def _quiet_tensorflow_start():
    """Run the block with TensorFlow's C++ logs off, and its start-up lines gone.

    TensorFlow reads ``TF_CPP_MIN_LOG_LEVEL`` once, when it is imported, and keeps
    that level for the process (so its later start-up lines, such as the failed
    ``cuInit`` of the first operation, stay quiet too): the variable is set for
    the import and removed again, so the environment is left as it was found.
    The lines that absl prints before that, while TensorFlow's libraries load, go
    to file descriptor 2 directly: it is captured for the import, and whatever
    else was written to it meanwhile is written back.
    """
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ or "tensorflow" in sys.modules:
        yield
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
            captured.seek(0)
            kept = [line for line in captured if not _TF_LINE.match(line)]
            if kept:
                os.write(2, b"".join(kept))


def _import_keras():
    # Before Keras: it fails on an unknown or uninstalled backend with a
    # traceback of its own, and skmnist would fail later on one it can import.
    backend = os.environ.get("KERAS_BACKEND")
    if backend is not None and "keras" not in sys.modules and backend not in BACKENDS:
        raise unsupported_backend(backend)
    with _quiet_tensorflow_start():
        import keras

        # scikeras imports TensorFlow whatever Keras's backend.
        import scikeras.wrappers  # noqa: F401
    return keras


keras = _import_keras()


def _limit_tensorflow_threads():
    """Cap TensorFlow's thread pools at ``OMP_NUM_THREADS``, when that is set.

    joblib's loky workers (``GridSearchCV(n_jobs=...)``) and Dask's worker
    processes tell native libraries their share of the cores through
    ``OMP_NUM_THREADS``; TensorFlow ignores it, so n workers on n cores would
    each start n threads and fight. Done as Keras is imported, before anything
    can start TensorFlow's runtime (whose pools are fixed from then on): the
    intra-op pool gets ``OMP_NUM_THREADS`` threads, the inter-op pool at most 2.
    Without the variable, or on another backend, nothing changes.
    """
    try:
        n_threads = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return
    if n_threads < 1 or keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(n_threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(n_threads, 2))
    except RuntimeError:  # the user's code started the runtime before skmnist
        pass


_limit_tensorflow_threads()
