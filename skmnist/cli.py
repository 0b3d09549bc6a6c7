"""The ``skmnist`` command: fetch MNIST, train, evaluate and predict from a shell.

::

    skmnist fetch [--data-home DIR] [--mirror URL]
    skmnist train [--sample] [--hidden-size 512] [--epochs 20] ... \\
                  [--out MODEL] [--report-dir DIR]
    skmnist evaluate MODEL [--sample] [--data-home DIR]
    skmnist predict MODEL FILE [FILE ...]
    skmnist serve MODEL [--host 127.0.0.1] [--port 8000]

``python -m skmnist`` is the same command. Every command only composes the
library: :func:`~skmnist.fetch_mnist` and :func:`~skmnist.load_mnist_sample` for
data, :func:`~skmnist.make_mnist_pipeline` for the model, scikit-learn's metrics,
``skmnist._plotting`` for the report's figures, ``skmnist._images`` to read digit
pictures, and joblib or :func:`~skmnist.save_model` / :func:`~skmnist.load_model`
for model files.

Expected failures (a missing or unreadable file, a model file of the wrong kind,
data that is missing and cannot be downloaded) print one line,
``skmnist: error: ...``, on stderr and exit with status 2, without a traceback.

Importing this module is cheap: TensorFlow is imported only by the commands that
train or load a model, and matplotlib only to draw the report's figures.
"""

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import warnings

from . import __version__

__all__ = ["main"]

PROG = "skmnist"
# Model files with these extensions are pickles, read and written with joblib.
PICKLE_EXTENSIONS = (".joblib", ".pkl", ".pickle")
REPORT_FILES = {
    "metrics": "metrics.json",
    "learning_curves": "learning_curves.png",
    "confusion_matrix": "confusion_matrix.png",
    "misclassified": "misclassified.png",
}

_TRUST_WARNING = (
    "Warning: model files ending in .joblib, .pkl or .pickle are pickles, loaded with "
    "joblib: loading one runs code stored in it, so load only files you trust. "
    "Other files are read with skmnist.load_model, which unpickles nothing."
)


class CommandError(Exception):
    """An expected failure of a command, reported as one line on stderr."""


def main(argv=None):
    """Run the ``skmnist`` command.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments, without the program name; if None, ``sys.argv[1:]``.

    Returns
    -------
    status : int
        The exit status: 0 on success, 2 for a usage error or an expected
        failure (reported as one line ``skmnist: error: ...`` on stderr), 130
        when interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        with _tidy_warnings(), _quiet_tensorflow():
            args.run(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except (CommandError, OSError, ValueError, ImportError) as exc:
        sys.stdout.flush()
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    return 0


def build_parser():
    """The argument parser of the ``skmnist`` command, with its subcommands."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "The classic Keras MNIST multilayer perceptron as a scikit-learn "
            "estimator: fetch MNIST, train the model, evaluate it, and read "
            "digits from images."
        ),
        epilog=f"Run '{PROG} COMMAND --help' for the options of each command.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    commands = parser.add_subparsers(
        title="commands", dest="command", required=True, metavar="COMMAND"
    )

    fetch = _add_command(
        commands,
        "fetch",
        "download MNIST into the cache and verify it",
        "Download MNIST's mnist.npz into the data folder, verify it (SHA-256 of a "
        "download; shapes, types and labels of a local copy) and print where it "
        "is. A folder that already holds MNIST is only checked.",
        _run_fetch,
    )
    _add_data_options(fetch, sample=False)

    train = _add_command(
        commands,
        "train",
        "train the model, evaluate it on the test set, write it and a report",
        "Train make_mnist_pipeline() (FlattenScaler -> MNISTClassifier) on MNIST's "
        "training images, with Keras's progress bars, then print its accuracy and "
        "log loss on the test images. The defaults are the Keras tutorial's "
        "reference model (784-512-512-10, 20 epochs, batches of 128, 10% "
        "held out for validation).",
        _run_train,
    )
    model = train.add_argument_group("model")
    model.add_argument(
        "--hidden-size",
        metavar="N",
        type=int,
        default=512,
        help="units per hidden layer (default: %(default)s)",
    )
    model.add_argument(
        "--epochs",
        metavar="N",
        type=int,
        default=20,
        help="training epochs (default: %(default)s)",
    )
    model.add_argument(
        "--batch-size",
        metavar="N",
        type=int,
        default=128,
        help="samples per gradient update (default: %(default)s)",
    )
    model.add_argument(
        "--validation-split",
        metavar="FRACTION",
        type=float,
        default=0.1,
        help="fraction of the training set held out to validate each epoch "
        "(default: %(default)s)",
    )
    model.add_argument(
        "--early-stopping",
        action="store_true",
        help="stop when the validation loss stops improving (keep the best epoch)",
    )
    model.add_argument(
        "--patience",
        metavar="N",
        type=int,
        default=5,
        help="epochs without improvement before early stopping stops "
        "(default: %(default)s)",
    )
    model.add_argument(
        "--random-state",
        metavar="SEED",
        type=int,
        default=None,
        help="seed for reproducible training (default: not seeded)",
    )
    model.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="Keras's output: 0 silent, 1 progress bars, 2 one line per epoch "
        "(default: %(default)s)",
    )
    _add_data_options(train, sample=True)
    output = train.add_argument_group("output")
    output.add_argument(
        "--out",
        metavar="MODEL",
        help="write the fitted pipeline here: with joblib.dump for a name ending "
        "in .joblib, .pkl or .pickle (a pickle: whoever loads it runs its code), "
        "else with skmnist.save_model (no pickle). Default: not saved",
    )
    output.add_argument(
        "--report-dir",
        metavar="DIR",
        help=f"write {', '.join(REPORT_FILES.values())} here (created if "
        "needed; the figures need matplotlib). Default: no report",
    )

    evaluate = _add_command(
        commands,
        "evaluate",
        "print a model's accuracy, log loss and per-class report on the test set",
        "Print the accuracy, log loss and per-class precision, recall and F1 "
        f"score of a model on MNIST's test images. {_TRUST_WARNING}",
        _run_evaluate,
    )
    _add_model_argument(evaluate)
    _add_data_options(evaluate, sample=True)

    predict = _add_command(
        commands,
        "predict",
        "read digits from images or .npy files and print the predicted labels",
        "Print the predicted digit and its probability for each file, one line "
        "each ('digit.png: 7 (p=0.98)'; 'digits.npy[3]: 1 (p=0.99)' for each "
        "image of an .npy stack). Images (PNG, JPEG, ...) of one digit are turned "
        "into MNIST images the way MNIST was made: grayscale, inverted if the "
        "background is light, the ink fitted into 20x20 pixels and centred by "
        "mass in 28x28. .npy files hold images already in MNIST's format: "
        f"(28, 28), (784,), (n, 28, 28) or (n, 784). {_TRUST_WARNING}",
        _run_predict,
    )
    _add_model_argument(predict)
    predict.add_argument(
        "files", nargs="+", metavar="FILE", help="digit images or .npy arrays"
    )
    predict.add_argument(
        "--invert",
        choices=("auto", "yes", "no"),
        default="auto",
        help="invert images' gray levels: 'auto' inverts when the background is "
        "light (default: %(default)s)",
    )
    _add_serve_command(commands)
    return parser


# -- commands ------------------------------------------------------------------


def _run_fetch(args):
    from .datasets import MNISTFetchError, fetch_mnist, get_data_home

    folder = get_data_home(args.data_home)
    options = {"data_home": args.data_home, "mirror": args.mirror}
    try:
        X_train, _ = fetch_mnist(
            subset="train", download_if_missing=False, return_X_y=True, **options
        )
    except MNISTFetchError:
        print(f"Downloading MNIST into {folder} ...", flush=True)
        X_train, _ = fetch_mnist(subset="train", return_X_y=True, **options)
    X_test, _ = fetch_mnist(subset="test", return_X_y=True, **options)
    print(
        f"MNIST ({len(X_train)} training and {len(X_test)} test images) is in {folder}"
    )


def _run_train(args):
    # Fail before a long training run, not after it.
    if args.report_dir is not None:
        from ._plotting import _check_matplotlib

        _check_matplotlib("skmnist train --report-dir")
        os.makedirs(args.report_dir, exist_ok=True)
    if args.out is not None:
        _check_writable(args.out)

    X_train, y_train = _load_data(args, "train")
    X_test, y_test = _load_data(args, "test")

    _import_keras()
    from ._pipeline import make_mnist_pipeline

    pipe = make_mnist_pipeline(
        hidden_size=args.hidden_size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_split=args.validation_split,
        early_stopping=args.early_stopping,
        patience=args.patience,
        random_state=args.random_state,
        verbose=args.verbose,
    )
    source = "the packaged sample of MNIST" if args.sample else "MNIST"
    print(
        f"Training on {len(X_train)} images of {source} "
        f"({pipe[-1].epochs} epochs, hidden size {pipe[-1].hidden_size}) ...",
        flush=True,
    )
    start = time.perf_counter()
    pipe.fit(X_train, y_train)
    fit_time = time.perf_counter() - start

    scores = _test_scores(pipe, X_test, y_test)
    print(f"fit time:       {fit_time:.1f} s ({pipe[-1].n_iter_} epochs)")
    print(f"test accuracy:  {scores['accuracy']:.4f}")
    print(f"test log loss:  {scores['log_loss']:.4f}")

    if args.out is not None:
        _save_estimator(pipe, args.out)
        print(f"model:          {args.out}")
    if args.report_dir is not None:
        metrics = _metrics(pipe, y_test, scores, fit_time, args, n_train=len(X_train))
        paths = _write_report(args.report_dir, metrics, pipe, X_test, y_test, scores)
        for path in paths:
            print(f"report:         {path}")


def _run_evaluate(args):
    from sklearn.metrics import classification_report

    X_test, y_test = _load_data(args, "test")
    pipe = _load_estimator(args.model)
    scores = _test_scores(pipe, X_test, y_test)
    source = "the packaged sample of MNIST" if args.sample else "MNIST"
    print(f"{args.model} on {len(X_test)} test images of {source}")
    print(f"accuracy:  {scores['accuracy']:.4f}")
    print(f"log loss:  {scores['log_loss']:.4f}")
    print()
    print(
        classification_report(
            y_test, scores["y_pred"], labels=pipe.classes_, digits=4, zero_division=0
        )
    )


def _run_predict(args):
    import numpy as np

    from ._images import load_digit_image

    invert = {"auto": "auto", "yes": True, "no": False}[args.invert]
    names, images = [], []
    for path in args.files:
        digits = load_digit_image(path, invert=invert)
        if digits.ndim == 2:
            names.append(path)
            images.append(digits[np.newaxis])
        else:
            names.extend(f"{path}[{i}]" for i in range(len(digits)))
            images.append(digits)
    pipe = _load_estimator(args.model)
    proba = pipe.predict_proba(np.concatenate(images))
    best = proba.argmax(axis=1)
    for name, row, k in zip(names, proba, best, strict=True):
        print(f"{name}: {pipe.classes_[k]} (p={row[k]:.2f})")


def _add_serve_command(commands):
    serve = _add_command(
        commands,
        "serve",
        "serve a model: a page to draw digits on, and a JSON prediction API",
        "Serve a .skmnist model file: a page to draw or upload a digit and watch "
        "the model read it, and POST /predict, GET /health and GET /model. Prints "
        "its address; Ctrl+C stops it. Needs: pip install 'skmnist[serve]'.",
        _run_serve,
    )
    serve.add_argument("model", metavar="MODEL", help="a .skmnist file (no pickles)")
    serve.add_argument("--host", default="127.0.0.1", help="default: %(default)s")
    serve.add_argument(
        "--port", type=int, default=8000, help="default: %(default)s; 0: any free one"
    )


def _run_serve(args):
    _import_keras()
    from .serve import run

    run(args.model, host=args.host, port=args.port)


# -- pieces the commands share -------------------------------------------------


def _add_command(commands, name, summary, description, run):
    command = commands.add_parser(
        name,
        help=summary,
        description=description,
    )
    command.set_defaults(run=run)
    return command


def _add_data_options(parser, *, sample):
    data = parser.add_argument_group("data")
    if sample:
        data.add_argument(
            "--sample",
            action="store_true",
            help="use the small sample of MNIST shipped with skmnist (2,000 "
            "training and 500 test images) instead of the full data set",
        )
    data.add_argument(
        "--data-home",
        metavar="DIR",
        help="folder holding (or to download) mnist.npz. Default: "
        "$SKMNIST_DATA_HOME, else ~/scikit_learn_data/mnist",
    )
    data.add_argument(
        "--mirror",
        metavar="URL",
        help="server to download mnist.npz from before the official URL "
        "(<URL>/mnist.npz, checked against the official SHA-256). "
        "Default: $SKMNIST_MIRROR",
    )


def _add_model_argument(parser):
    parser.add_argument(
        "model",
        metavar="MODEL",
        help="model file from 'skmnist train --out' (or joblib.dump / "
        "skmnist.save_model of a fitted skmnist pipeline or MNISTClassifier). "
        "Only load .joblib/.pkl files you trust: they run code when loaded",
    )


def _load_data(args, subset):
    """MNIST's `subset` split, or the packaged sample's with ``--sample``."""
    if getattr(args, "sample", False):
        from .datasets import load_mnist_sample

        return load_mnist_sample(subset=subset, return_X_y=True)
    from .datasets import fetch_mnist

    return fetch_mnist(
        subset=subset, data_home=args.data_home, mirror=args.mirror, return_X_y=True
    )


def _test_scores(pipe, X_test, y_test):
    from sklearn.metrics import accuracy_score, log_loss

    proba = pipe.predict_proba(X_test)
    y_pred = pipe.classes_[proba.argmax(axis=1)]
    return {
        "y_pred": y_pred,
        "accuracy": float(accuracy_score(y_test, y_pred)),
        "log_loss": float(log_loss(y_test, proba, labels=pipe.classes_)),
    }


def _metrics(pipe, y_test, scores, fit_time, args, *, n_train):
    """The content of metrics.json."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    classifier = pipe[-1]
    labels = pipe.classes_
    y_pred = scores["y_pred"]
    precision, recall, f1, support = precision_recall_fscore_support(
        y_test, y_pred, labels=labels, zero_division=0
    )
    per_class = {
        str(label): {
            "precision": float(p),
            "recall": float(r),
            "f1": float(f),
            "support": int(s),
        }
        for label, p, r, f, s in zip(
            labels, precision, recall, f1, support, strict=True
        )
    }
    metrics = {
        "skmnist_version": __version__,
        "data": {
            "source": "sample" if args.sample else "mnist",
            "n_train": int(n_train),
            "n_test": int(len(y_test)),
        },
        "accuracy": scores["accuracy"],
        "log_loss": scores["log_loss"],
        "per_class": per_class,
        "labels": [_plain(label) for label in labels],
        "confusion_matrix": confusion_matrix(y_test, y_pred, labels=labels).tolist(),
        "fit_time": fit_time,
        "params": {
            key: _plain(value) for key, value in classifier.get_params().items()
        },
        "n_iter": int(classifier.n_iter_),
        "history": classifier.history_,
    }
    if hasattr(classifier, "best_epoch_"):
        metrics["best_epoch"] = int(classifier.best_epoch_)
    return metrics


def _write_report(folder, metrics, pipe, X_test, y_test, scores):
    from . import _plotting

    paths = [os.path.join(folder, name) for name in REPORT_FILES.values()]
    with open(paths[0], "w", encoding="utf-8") as file:
        json.dump(metrics, file, indent=2)
        file.write("\n")
    figures = [
        _plotting.plot_learning_curves(pipe[-1].history_),
        _plotting.plot_confusion_matrix(y_test, scores["y_pred"], labels=pipe.classes_),
        _plotting.plot_digits(X_test, y_test, scores["y_pred"], n=25),
    ]
    for figure, path in zip(figures, paths[1:], strict=True):
        figure.savefig(path, dpi=100)
        if "matplotlib.pyplot" in sys.modules:  # a pyplot figure: free it
            sys.modules["matplotlib.pyplot"].close(figure)
    return paths


def _is_pickle(path):
    return os.fspath(path).lower().endswith(PICKLE_EXTENSIONS)


def _check_writable(path):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandError(f"{path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise CommandError(f"{path} is a folder, not a file name for the model")


def _save_estimator(pipe, path):
    if _is_pickle(path):
        import joblib

        joblib.dump(pipe, path)
    else:
        from . import save_model

        save_model(pipe, path)


def _load_estimator(path):
    """Load a fitted skmnist model from `path`, as a pipeline taking raw images."""
    if not os.path.exists(path):
        raise CommandError(f"{path}: no such model file")
    if os.path.isdir(path):
        raise CommandError(f"{path} is a folder, not a model file")
    _import_keras()
    if _is_pickle(path):
        import joblib

        try:
            model = joblib.load(path)
        except (OSError, MemoryError):
            raise
        except Exception as exc:  # unpickling fails in many ways
            raise CommandError(
                f"{path} is not a model written with joblib.dump "
                f"({type(exc).__name__}: {exc})"
            ) from exc
    else:
        from . import load_model

        model = load_model(path)
    return _as_image_pipeline(model, path)


def _as_image_pipeline(model, path):
    """`model` if it is a fitted skmnist pipeline; a bare classifier gets a
    FlattenScaler in front; anything else is an error."""
    from sklearn.exceptions import NotFittedError
    from sklearn.pipeline import Pipeline
    from sklearn.utils.validation import check_is_fitted

    from ._classifier import MNISTClassifier

    what = (
        "a fitted skmnist model (a make_mnist_pipeline() pipeline or an "
        "MNISTClassifier)"
    )
    if (
        isinstance(model, Pipeline)
        and len(model)
        and isinstance(model[-1], MNISTClassifier)
    ):
        classifier = model[-1]
    elif isinstance(model, MNISTClassifier):
        classifier = model
    else:
        raise CommandError(f"{path} holds {_describe(model)}, not {what}")
    try:
        check_is_fitted(model)
    except NotFittedError as exc:
        raise CommandError(f"{path} holds an unfitted model, not {what}") from exc
    if model is classifier:
        import numpy as np

        from ._preprocessing import FlattenScaler

        n_pixels = getattr(classifier, "n_features_in_", None)
        if n_pixels != 28 * 28:
            raise CommandError(
                f"{path} holds an MNISTClassifier fitted on {n_pixels} features, "
                "not on MNIST's 28x28 images"
            )
        flatten = FlattenScaler().fit(np.zeros((1, 28, 28), dtype=np.uint8))
        model = Pipeline([("flatten", flatten), ("mlp", classifier)])
    return model


def _describe(obj):
    kind = type(obj)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else (f"{kind.__module__}.{kind.__qualname__}")
    )
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return f"{article} {name}"


def _plain(value):
    """`value` as something JSON can hold: NumPy scalars become Python's."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return repr(value)


def _one_line(exc):
    """An exception's message on one line, naming the file of an OSError."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        message = f"{exc.filename}: {exc.strerror}"
    else:
        message = str(exc) or type(exc).__name__
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


@contextlib.contextmanager
def _tidy_warnings():
    """Show warnings as ``skmnist: warning: ...`` lines, then restore the hook."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{PROG}: warning: {_one_line(message)}", file=file or sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


_TF_LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"


@contextlib.contextmanager
def _quiet_tensorflow():
    """Hide TensorFlow's C++ logs, unless the user set ``TF_CPP_MIN_LOG_LEVEL``.

    TensorFlow reads the variable when it is first imported, which happens
    inside the command; it is removed again afterwards.
    """
    if _TF_LOG_LEVEL in os.environ:
        yield
        return
    os.environ[_TF_LOG_LEVEL] = "3"
    try:
        yield
    finally:
        os.environ.pop(_TF_LOG_LEVEL, None)


def _import_keras():
    """Import skmnist's Keras modules (and so TensorFlow), quietly.

    While it starts, TensorFlow's C++ code writes lines to the process's stderr
    that no log level hides ("All log messages before absl::InitializeLog() is
    called are written to STDERR", CUDA and oneDNN notices). They are written to
    a temporary file instead, and shown only if the import fails, or kept when
    ``TF_CPP_MIN_LOG_LEVEL`` is 0.
    """
    if "skmnist._classifier" in sys.modules or os.environ.get(_TF_LOG_LEVEL) == "0":
        from . import _classifier  # noqa: F401

        return
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # pragma: no cover - no stderr to silence
        from . import _classifier  # noqa: F401

        return
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            from . import _classifier  # noqa: F401
        except BaseException:
            sys.stderr.flush()
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
