"""One measurement in a fresh process; prints exactly one JSON line on stdout.

``benchmarks/run.py`` spawns this script once per measurement, so that each
contender starts from a clean interpreter: its Keras backend is chosen before
Keras is imported, its peak RSS is its own, and no TensorFlow state (graphs,
thread pools, seeds) leaks from one contender into the next.

Usage::

    python benchmarks/_contender.py NAME [--seed S] [--epochs E] [--n-train N] ...

NAME is a contender (``a``: the tutorial in plain Keras on TensorFlow; ``b``:
``skmnist.make_mnist_pipeline``; ``c``: scikit-learn's ``MLPClassifier``;
``d``: ``make_mnist_pipeline`` on the JAX backend) or a probe (``gemm``: float32
GEMM rate of TensorFlow; ``fetch``: ``fetch_mnist`` from a warm cache;
``import``: ``import skmnist``).

Everything the measured code prints on stdout is sent to stderr, so stdout holds
the one result line only; the parent reads it.
"""

# Only modules the interpreter has loaded already at start-up are imported at the
# top, so that the "import" probe times `import skmnist` and nothing else.
import os
import sys
import time

# The public names that must not need Keras: the data utilities and FlattenScaler.
_LIGHT_NAMES = ("fetch_mnist", "load_mnist_sample", "FlattenScaler")


def _import_probe():
    """Time `import skmnist` in this fresh interpreter (nothing else imported yet).

    ``import_s`` is the bare ``import skmnist``. A package may defer all its
    imports to first use, so ``import_light_s`` also includes getting the public
    names that must not need Keras, and the TensorFlow check is made after that.
    """
    t0 = time.perf_counter()
    import skmnist

    bare = time.perf_counter() - t0
    tf_after_bare = "tensorflow" in sys.modules
    for name in _LIGHT_NAMES:
        getattr(skmnist, name)
    light = time.perf_counter() - t0
    return {
        "import_s": bare,
        "import_light_s": light,
        "light_names": list(_LIGHT_NAMES),
        "tensorflow_imported_bare": tf_after_bare,
        "tensorflow_imported": "tensorflow" in sys.modules,
        "keras_imported": "keras" in sys.modules,
        "jax_imported": "jax" in sys.modules,
    }


def _parse_args(argv):
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=["a", "b", "c", "d", "gemm", "fetch", "import"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="epochs of every contender; for b and d, None keeps skmnist's default",
    )
    parser.add_argument(
        "--n-train", type=int, default=None, help="first N training images (all)"
    )
    parser.add_argument(
        "--n-test", type=int, default=None, help="first N test images (all)"
    )
    parser.add_argument("--hidden-size", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--gemm-size", type=int, default=4096)
    parser.add_argument("--gemm-warmup", type=int, default=2)
    parser.add_argument("--gemm-runs", type=int, default=5)
    parser.add_argument("--fetch-runs", type=int, default=5)
    return parser.parse_args(argv)


# -- helpers ---------------------------------------------------------------------


def _peak_rss_bytes():
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def _load(args):
    """Real MNIST as raw uint8 images, sliced to --n-train / --n-test."""
    from skmnist import fetch_mnist

    X_train, y_train = fetch_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_mnist(subset="test", return_X_y=True)
    if args.n_train is not None:
        X_train, y_train = X_train[: args.n_train], y_train[: args.n_train]
    if args.n_test is not None:
        X_test, y_test = X_test[: args.n_test], y_test[: args.n_test]
    return X_train, y_train, X_test, y_test


def _scale(images):
    """The tutorial's preprocessing: flatten, float32, divide by 255."""
    import numpy as np

    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255)


def _time_predict(predict, X, n_warm=3):
    """Time the first call (cold: tracing, ...) and the median of `n_warm` more."""
    import statistics

    t0 = time.perf_counter()
    out = predict(X)
    first = time.perf_counter() - t0
    warm = []
    for _ in range(n_warm):
        t0 = time.perf_counter()
        predict(X)
        warm.append(time.perf_counter() - t0)
    return out, first, statistics.median(warm), warm


def _scores(y_test, proba):
    import numpy as np
    from sklearn.metrics import log_loss

    proba = np.asarray(proba)
    return {
        "test_accuracy": float(np.mean(np.argmax(proba, axis=1) == y_test)),
        "log_loss": float(log_loss(y_test, proba, labels=np.arange(proba.shape[1]))),
    }


def _mlp_params(n_features, hidden_sizes, n_classes):
    sizes = [n_features, *hidden_sizes, n_classes]
    return sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:], strict=True))


def _keras_split_sizes(n_samples, validation_split):
    # keras.utils.split_dataset/Model.fit: the first floor(n * (1 - split)) rows
    # train, the last rows validate.
    import math

    n_fit = int(math.floor(n_samples * (1.0 - validation_split)))
    return n_fit, n_samples - n_fit


# -- contenders ------------------------------------------------------------------


def _contender_a(args):
    """The Keras MNIST tutorial: plain Keras on TensorFlow, compile defaults."""
    import keras
    import numpy as np

    X_train, y_train, X_test, y_test = _load(args)
    hidden = 512 if args.hidden_size is None else args.hidden_size
    epochs = 20 if args.epochs is None else args.epochs
    validation_split = 0.1
    keras.utils.set_random_seed(args.seed)

    t0 = time.perf_counter()
    x = _scale(X_train)
    y = keras.utils.to_categorical(y_train, 10)
    model = keras.Sequential(
        [
            keras.Input(shape=(784,)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"]
    )
    history = model.fit(
        x,
        y,
        batch_size=args.batch_size,
        epochs=epochs,
        validation_split=validation_split,
        verbose=0,
    )
    fit_s = time.perf_counter() - t0

    def predict(images):
        return model.predict(_scale(images), batch_size=args.batch_size, verbose=0)

    proba, first, warm, warm_all = _time_predict(predict, X_test)
    loss, accuracy = model.evaluate(
        _scale(X_test), keras.utils.to_categorical(y_test, 10), verbose=0
    )
    n_fit, n_val = _keras_split_sizes(len(X_train), validation_split)
    checked = _scores(y_test, proba)
    return {
        "backend": keras.backend.backend(),
        "fit_s": fit_s,
        "n_iter": len(history.history["loss"]),
        "n_fit_samples": n_fit,
        "n_val_samples": n_val,
        "n_params": int(model.count_params()),
        # The tutorial's numbers: model.evaluate on the test set.
        "test_accuracy": float(accuracy),
        "log_loss": float(loss),
        "sklearn_check": checked,
        "predict_s": warm,
        "predict_first_s": first,
        "predict_warm_s": warm_all,
        "params": {
            "hidden_size": hidden,
            "epochs": epochs,
            "batch_size": args.batch_size,
            "validation_split": validation_split,
        },
        "versions": {"keras": keras.__version__, "numpy": np.__version__},
    }


def _contender_pipeline(args):
    """skmnist.make_mnist_pipeline with skmnist's defaults, on raw uint8 images."""
    import keras
    import numpy as np

    from skmnist import make_mnist_pipeline

    X_train, y_train, X_test, y_test = _load(args)
    params = {"random_state": args.seed}
    if args.epochs is not None:
        params["epochs"] = args.epochs
    if args.hidden_size is not None:
        params["hidden_size"] = args.hidden_size
    pipe = make_mnist_pipeline(**params)

    t0 = time.perf_counter()
    pipe.fit(X_train, y_train)
    fit_s = time.perf_counter() - t0

    proba, first, warm, warm_all = _time_predict(pipe.predict_proba, X_test)
    clf = pipe[-1]
    clf_params = {
        key: value
        for key, value in clf.get_params().items()
        if value is None or isinstance(value, bool | int | float | str)
    }
    n_iter = getattr(clf, "n_iter_", None)
    if n_iter is None:
        n_iter = clf_params.get("epochs")
    try:
        n_params = int(clf.model_.count_params())
    except Exception:  # the model may not be a Keras model one day
        n_params = _mlp_params(
            784,
            [clf_params.get("hidden_size", 512)] * clf_params.get("n_hidden_layers", 2),
            10,
        )
    n_fit, n_val = _skmnist_split_sizes(
        len(X_train), clf_params.get("validation_split", 0.0), 10
    )
    return {
        "backend": keras.backend.backend(),
        "fit_s": fit_s,
        "n_iter": int(n_iter),
        "n_fit_samples": n_fit,
        "n_val_samples": n_val,
        "n_params": n_params,
        **_scores(y_test, proba),
        "predict_s": warm,
        "predict_first_s": first,
        "predict_warm_s": warm_all,
        "params": clf_params,
        "tensorflow_imported": "tensorflow" in sys.modules,
        "versions": {"keras": keras.__version__, "numpy": np.__version__},
    }


def _skmnist_split_sizes(n_samples, validation_split, n_classes):
    # MNISTClassifier holds out ceil(split * n) samples, at least one per class.
    import math

    if not validation_split:
        return n_samples, 0
    n_val = max(math.ceil(validation_split * n_samples), n_classes)
    return n_samples - n_val, n_val


def _contender_c(args):
    """scikit-learn's MLPClassifier, the same architecture, on X/255 float32."""
    import warnings

    import numpy as np
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X_train, y_train, X_test, y_test = _load(args)
    hidden = 512 if args.hidden_size is None else args.hidden_size
    epochs = 20 if args.epochs is None else args.epochs
    clf = MLPClassifier(
        hidden_layer_sizes=(hidden, hidden),
        batch_size=args.batch_size,
        max_iter=epochs,
        early_stopping=False,
        random_state=args.seed,
    )
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        # max_iter=20 is a fixed budget of epochs, as in the other contenders.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(_scale(X_train), y_train)
    fit_s = time.perf_counter() - t0

    def predict(images):
        return clf.predict_proba(_scale(images))

    proba, first, warm, warm_all = _time_predict(predict, X_test)
    n_params = int(
        sum(w.size for w in clf.coefs_) + sum(b.size for b in clf.intercepts_)
    )
    return {
        "backend": "numpy",
        "fit_s": fit_s,
        "n_iter": int(clf.n_iter_),
        # early_stopping=False: MLPClassifier holds nothing out.
        "n_fit_samples": len(X_train),
        "n_val_samples": 0,
        "n_params": n_params,
        **_scores(y_test, proba),
        "predict_s": warm,
        "predict_first_s": first,
        "predict_warm_s": warm_all,
        "params": {
            "hidden_layer_sizes": [hidden, hidden],
            "batch_size": args.batch_size,
            "max_iter": epochs,
            "early_stopping": False,
            "dtype": str(clf.coefs_[0].dtype),
        },
        "versions": {"scikit-learn": sklearn.__version__, "numpy": np.__version__},
    }


# -- probes ----------------------------------------------------------------------


def _probe_gemm(args):
    """TensorFlow's float32 GEMM rate: best of N timed n x n x n matmuls."""
    import statistics

    import tensorflow as tf

    n = args.gemm_size
    a = tf.random.stateless_normal((n, n), seed=(1, 2), dtype=tf.float32)
    b = tf.random.stateless_normal((n, n), seed=(3, 4), dtype=tf.float32)

    def once():
        t0 = time.perf_counter()
        c = tf.linalg.matmul(a, b)
        c[0, 0].numpy()  # make sure the product is computed
        return time.perf_counter() - t0

    for _ in range(args.gemm_warmup):
        once()
    times = [once() for _ in range(args.gemm_runs)]
    flop = 2.0 * n**3
    return {
        "size": n,
        "flop": flop,
        "times_s": times,
        "best_s": min(times),
        "gflops_best": flop / min(times) / 1e9,
        "gflops_median": flop / statistics.median(times) / 1e9,
        "versions": {"tensorflow": tf.__version__},
    }


def _probe_fetch(args):
    """fetch_mnist(subset="train") from a warm cache: one warm-up, median of N."""
    import statistics

    from skmnist import fetch_mnist
    from skmnist.datasets import get_data_home

    fetch_mnist(subset="train")  # warm the OS file cache
    times = []
    for _ in range(args.fetch_runs):
        t0 = time.perf_counter()
        X, y = fetch_mnist(subset="train", return_X_y=True)
        times.append(time.perf_counter() - t0)
    return {
        "fetch_s": statistics.median(times),
        "times_s": times,
        "n_samples": len(X),
        "data_home": get_data_home(),
        "tensorflow_imported": "tensorflow" in sys.modules,
    }


_RUNNERS = {
    "a": _contender_a,
    "b": _contender_pipeline,
    "c": _contender_c,
    "d": _contender_pipeline,
    "gemm": _probe_gemm,
    "fetch": _probe_fetch,
}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    # The measured code's own prints go to stderr; stdout carries the result only.
    sys.stdout.flush()
    result_fd = os.dup(1)
    os.dup2(2, 1)

    import_result = None
    if argv[:1] == ["import"]:
        import_result = _import_probe()  # before anything else is imported
    args = _parse_args(argv)
    t0 = time.perf_counter()
    result = import_result if import_result is not None else _RUNNERS[args.name](args)

    import json

    result.update(
        name=args.name,
        seed=args.seed,
        ok=True,
        wall_s=time.perf_counter() - t0,
        peak_rss_bytes=_peak_rss_bytes(),
        keras_backend_env=os.environ.get("KERAS_BACKEND"),
        pid=os.getpid(),
    )
    sys.stdout.flush()
    os.write(result_fd, (json.dumps(result) + "\n").encode())
    os.close(result_fd)


if __name__ == "__main__":
    main()
