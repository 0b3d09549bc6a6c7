"""The ``skmnist`` command: fetch MNIST, train, evaluate and predict from a shell.

::

    skmnist fetch [--data-home DIR] [--mirror URL]
    skmnist train [--sample] [--hidden-size N] [--epochs N] ... \\
                  [--out MODEL] [--report-dir DIR]
    skmnist evaluate MODEL [--sample] [--data-home DIR] [--report-dir DIR]
    skmnist predict MODEL FILE [FILE ...] [--json] [--top-k K]
    skmnist serve MODEL [--host ADDR] [--port N] [--allow-host NAME] [--access-log]
    skmnist info MODEL

``python -m skmnist`` is the same command. It only composes public names of the
library: :func:`~skmnist.fetch_mnist` and :func:`~skmnist.load_mnist_sample`,
:func:`~skmnist.make_mnist_pipeline` (whose defaults ``train`` shows and keeps),
:func:`~skmnist.evaluate_model`, :func:`~skmnist.load_digit_image`, and joblib or
:func:`~skmnist.save_model` / :func:`~skmnist.load_model`.

Failures the user can fix print one line, ``skmnist: error: ...``, on stderr and
exit with status 2; anything else is a bug, raised with its traceback (see
:func:`main`). Importing this module, ``skmnist --help`` and ``skmnist fetch``
start neither TensorFlow nor matplotlib.
"""

import argparse
import contextlib
import os
import sys
import tempfile
import time
import warnings

from . import __version__
from ._errors import UserError

__all__ = ["main"]

PROG = "skmnist"

# MNISTClassifier's parameters that `train` takes as options: argparse type,
# metavar, help. The defaults are the classifier's own: an option not given is
# not passed, and --help reads the defaults from MNISTClassifier().get_params().
MODEL_OPTIONS = {
    "hidden_size": (int, "N", "units per hidden layer"),
    "n_hidden_layers": (int, "N", "number of hidden layers"),
    "activation": (str, "NAME", "activation of the hidden layers (relu, tanh, ...)"),
    "dropout": (float, "RATE", "dropout rate after each hidden layer"),
    "optimizer": (str, "NAME", "Keras optimizer (adam, sgd, rmsprop, ...)"),
    "learning_rate": (float, "RATE", "learning rate of the optimizer"),
    "epochs": (int, "N", "training epochs"),
    "batch_size": (int, "N", "samples per gradient update"),
    "validation_split": (float, "FRACTION", "share of the data held out to validate"),
    "early_stopping": (bool, None, "stop when the validation loss stops improving"),
    "patience": (int, "N", "epochs without improvement before early stopping"),
    "random_state": (int, "SEED", "seed for reproducible training"),
}

_TRUST_WARNING = (
    "Warning: model files ending in .joblib, .pkl or .pickle are pickles, loaded with "
    "joblib: loading one runs code stored in it, so load only files you trust. "
    "Other files are read with skmnist.load_model, which unpickles nothing."
)


class CommandError(UserError):
    """A command line that cannot be carried out, reported as one line on stderr."""


def main(argv=None):
    """Run the ``skmnist`` command.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments, without the program name; if None, ``sys.argv[1:]``.

    Returns
    -------
    status : int
        The exit status: 0 on success, 1 when ``predict`` could not read some
        of its inputs (it answers the others), 2 for a usage error or a failure the
        user can fix (reported as one line ``skmnist: error: ...`` on stderr),
        130 when interrupted.

    Raises
    ------
    Exception
        Anything but a failure the user can fix, which is reported in one line:
        a usage error, an option's value the classifier refuses (scikit-learn's
        ``InvalidParameterError``), an ``OSError`` (``MNISTFetchError`` is
        one), or an error of a class skmnist defines to tell users what went
        wrong (``ModelFileError``, ``MNISTFormatError``, a training that
        diverged, ...). Anything else, a plain ``ValueError`` included, is a
        bug and raised with its traceback, except a ValueError about a user's
        own file (a digit picture, a pickled model).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        with _tidy_warnings():
            status = args.run(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not _is_users_to_fix(exc):
            raise
        sys.stdout.flush()
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    return status or 0  # predict: 1 when some inputs failed


def _is_users_to_fix(exc):
    # OSError: a file or folder the user named (its message names it).
    if isinstance(exc, (UserError, OSError)):
        return True
    from ._fixes import InvalidParameterError

    return isinstance(exc, InvalidParameterError)


class _Parser(argparse.ArgumentParser):
    """A parser whose usage errors are one line, as every error of the command."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class _CommandParser(_Parser):
    """A command's parser; its help adds the classifier's defaults, which are
    read (importing Keras) only when the help is shown."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.classifier_options = []

    def format_help(self):
        if self.classifier_options:
            from . import MNISTClassifier

            defaults = MNISTClassifier().get_params()
            for action in self.classifier_options:
                default = str(defaults[action.dest]).replace("%", "%%")
                action.help = f"{action.help} (default: {default})"
            self.classifier_options = []
        return super().format_help()


def build_parser():
    """The argument parser of the ``skmnist`` command, with its subcommands."""
    parser = _Parser(
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
        title="commands",
        dest="command",
        required=True,
        metavar="COMMAND",
        parser_class=_CommandParser,
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
        "log loss on the test images. The defaults are MNISTClassifier's: the "
        "Keras tutorial's reference model.",
        _run_train,
    )
    model = train.add_argument_group("model")
    for name, (kind, metavar, text) in MODEL_OPTIONS.items():
        flag = "--" + name.replace("_", "-")
        if kind is bool:
            options = {"action": argparse.BooleanOptionalAction}
        else:
            options = {"type": kind, "metavar": metavar}
        action = model.add_argument(
            flag, default=argparse.SUPPRESS, help=text, **options
        )
        train.classifier_options.append(action)
    model.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="training output: 0 silent, 1 a progress bar that moves within each "
        "epoch on a terminal (one plain line per epoch when redirected), 2 one "
        "line per epoch (default: %(default)s; the classifier's own default is 0)",
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
        help="write skmnist.evaluate_model's report here: metrics.json and "
        "figures (created if needed; needs matplotlib). Default: no report",
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
    evaluate.add_argument(
        "--report-dir",
        metavar="DIR",
        help="write skmnist.evaluate_model's report here, as 'train --report-dir' "
        "does: metrics.json and figures (created if needed; needs matplotlib). "
        "Default: no report",
    )

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
        f"(28, 28), (784,), (n, 28, 28) or (n, 784). Every input that can be read "
        "is answered; one that cannot gets an error line on stderr, and the exit "
        "status is then 1 (2 for a usage error or a model that cannot be used). "
        f"{_TRUST_WARNING}",
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
    predict.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per line and input (JSON Lines): its 'file' "
        "(and 'index' in an .npy stack), 'label', 'probability' and "
        "'probabilities' of every class; a failed input as {'file': ..., "
        "'error': ...}",
    )
    predict.add_argument(
        "--top-k",
        type=int,
        metavar="K",
        help="show the K most probable classes with their probabilities "
        "(1 to the model's number of classes; with --json, as 'top_k' in place "
        "of 'probabilities')",
    )
    _add_serve_command(commands)
    _add_info_command(commands)
    return parser


# -- commands ------------------------------------------------------------------


def _run_fetch(args):
    from . import fetch_mnist
    from .datasets import MNISTFetchError, get_data_home

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
    # Whatever would fail after training fails now.
    if args.out is not None:
        _check_file_can_be_written(args.out)
    if args.report_dir is not None:
        _check_report_dir(args.report_dir)
    from . import evaluate_model, make_mnist_pipeline

    params = {name: getattr(args, name) for name in MODEL_OPTIONS if name in args}
    pipe = make_mnist_pipeline(verbose=args.verbose, **params)
    pipe[-1]._check_params()  # a bad option fails before any download or output

    X_train, y_train = _load_data(args, "train")
    X_test, y_test = _load_data(args, "test")
    source = "the packaged sample of MNIST" if args.sample else "MNIST"
    print(
        f"Training on {len(X_train)} images of {source} "
        f"({_epochs(pipe[-1].epochs)}, hidden size {pipe[-1].hidden_size}) ...",
        flush=True,
    )
    start = time.perf_counter()
    pipe.fit(X_train, y_train)
    fit_time = time.perf_counter() - start
    if args.out is not None:
        _save(pipe, args.out)

    metrics = evaluate_model(
        pipe,
        X_test,
        y_test,
        fit_time=fit_time,
        data_info={
            "source": "sample" if args.sample else "mnist",
            "n_train": len(y_train),
        },
        report_dir=args.report_dir,
    )
    print(f"fit time:       {fit_time:.1f} s ({_epochs(metrics['n_iter'])})")
    print(f"test accuracy:  {metrics['accuracy']:.4f}")
    print(f"test log loss:  {metrics['log_loss']:.4f}")
    lowest = metrics["lowest_val_loss"]
    if lowest is not None and lowest["note"] is not None:
        print(f"note:           {lowest['note']}")
    if args.out is not None:
        print(f"model:          {args.out}")
    if args.report_dir is not None:
        print(f"report:         {args.report_dir}")


def _run_evaluate(args):
    import numpy as np
    from sklearn.metrics import classification_report

    from . import evaluate_model

    if args.report_dir is not None:
        _check_report_dir(args.report_dir)
    model = _load_model(args.model)  # a wrong path fails before any download
    X_test, y_test = _load_data(args, "test")
    source = "the packaged sample of MNIST" if args.sample else "MNIST"
    metrics = evaluate_model(
        model.estimator,
        model.to_input(X_test),
        y_test,
        data_info={"source": "sample" if args.sample else "mnist"},
        report_dir=args.report_dir,
        unknown_labels="skip",
    )
    n_test, n_left_out = metrics["data"]["n_test"], metrics["data"]["n_left_out"]
    if n_left_out:
        classes = ", ".join(str(c) for c in model.classes_)
        print(
            f"{args.model}: evaluated {n_test} of {len(X_test)} test images of "
            f"{source}: the model knows the classes {classes} only; "
            f"{n_left_out} images of other digits left out"
        )
    else:
        print(f"{args.model} on {len(X_test)} test images of {source}")
    print(f"accuracy:  {metrics['accuracy']:.4f}")
    print(f"log loss:  {metrics['log_loss']:.4f}")
    print()
    # Rebuilt from the confusion matrix, not from a second pass of the model:
    # one (true, predicted) pair per count.
    counts = np.asarray(metrics["confusion_matrix"])
    true, predicted = np.nonzero(counts)
    n = counts[true, predicted]
    print(
        classification_report(
            np.repeat(model.classes_[true], n),
            np.repeat(model.classes_[predicted], n),
            labels=model.classes_,
            digits=4,
            zero_division=0,
        )
    )
    if args.report_dir is not None:
        print(f"report:    {args.report_dir}")


def _run_predict(args):
    """Answer every input it can; return 1 if any failed."""
    import numpy as np

    from . import load_digit_image

    # The model first: a wrong model fails once, before any image is read.
    model = _load_model(args.model, light=True)
    n_classes = len(model.classes_)
    if args.top_k is not None and not 1 <= args.top_k <= n_classes:
        raise CommandError(
            f"--top-k must be between 1 and the model's {n_classes} classes; "
            f"got {args.top_k}"
        )
    invert = {"auto": "auto", "yes": True, "no": False}[args.invert]
    # One entry per input: (name, index or None, error or None); images of the
    # good ones go to one batch, predicted at once.
    entries, images = [], []
    for path in args.files:
        try:
            digits = load_digit_image(path, invert=invert)
        except ImportError as exc:  # reading pictures needs Pillow: every one fails
            raise CommandError(_one_line(exc)) from exc
        except (ValueError, OSError) as exc:
            # The user's file is not a digit picture or MNIST array (the message
            # names it): the others are still answered.
            entries.append((path, None, _one_line(exc)))
            continue
        if digits.ndim == 2:
            entries.append((path, None, None))
            images.append(digits[np.newaxis])
        else:
            entries.extend((path, i, None) for i in range(len(digits)))
            images.append(digits)
    if images:
        proba = model.predict_proba(np.concatenate(images))
    k = args.top_k or (n_classes if args.json else 1)
    row = 0
    for path, index, error in entries:
        name = path if index is None else f"{path}[{index}]"
        if error is not None:
            _print_error(path, error, as_json=args.json)
            continue
        p = proba[row]
        row += 1
        top = np.argsort(-p, kind="stable")[:k]
        if args.json:
            _print_json(path, index, model.classes_, p, top, args.top_k is not None)
        else:
            answers = ", ".join(f"{model.classes_[c]} (p={p[c]:.2f})" for c in top)
            print(f"{name}: {answers}")
    return 1 if any(error is not None for *_, error in entries) else 0


def _print_error(path, error, *, as_json):
    import json

    if as_json:
        print(json.dumps({"file": os.fspath(path), "error": error}))
        return
    sys.stdout.flush()  # the lines of stdout and stderr in the inputs' order
    message = error if os.fspath(path) in error else f"{path}: {error}"
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)


def _print_json(path, index, classes, proba, top, top_only):
    import json

    from ._json import plain

    # Shortest decimal forms of the model's floats: 0.98, not 0.9800000190734863.
    probability = {c: float(str(proba[c])) for c in top}
    answer = {"file": os.fspath(path)}
    if index is not None:
        answer["index"] = index
    answer["label"] = plain(classes[top[0]])
    answer["probability"] = probability[top[0]]
    if top_only:
        answer["top_k"] = [
            {"label": plain(classes[c]), "probability": probability[c]} for c in top
        ]
    else:
        answer["probabilities"] = {
            str(plain(classes[c])): float(str(proba[c])) for c in range(len(classes))
        }
    print(json.dumps(answer))


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
        "--port",
        type=_port,
        default=8000,
        help="default: %(default)s; 0: any free one",
    )
    serve.add_argument(
        "--allow-host",
        metavar="NAME",
        action="append",
        default=[],
        help="another name the service answers to in the Host header, beside "
        "localhost, 127.0.0.1, [::1] and --host (repeatable)",
    )
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="print one line per request (client, time, request, status)",
    )


def _port(text):
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a port: give a number from 0 to 65535 (0: any free one)"
        )
    return port


def _run_serve(args):
    from ._image_model import check_model_source

    check_model_source(args.model, allow_pickle=False)  # before the extra is needed
    from .serve import run

    run(
        args.model,
        host=args.host,
        port=args.port,
        allow_hosts=args.allow_host,
        access_log=args.access_log,
    )


def _add_info_command(commands):
    info = _add_command(
        commands,
        "info",
        "describe a .skmnist model file without loading its network",
        "Print what a .skmnist model file holds: its kind, parameters, classes, "
        "recorded training and validation scores, file format and size, and the "
        "versions that wrote it. The file is read and checked as skmnist.load_model "
        "reads it, without starting TensorFlow; pickles are not read.",
        _run_info,
    )
    info.add_argument("model", metavar="MODEL", help="a .skmnist file (no pickles)")


def _run_info(args):
    from ._image_model import check_model_path, is_pickle
    from ._model_file import read_model_file

    if is_pickle(args.model):
        raise CommandError(
            f"{args.model} is a pickle: its contents cannot be read without running "
            "the code stored in it. skmnist info reads .skmnist files (save_model)"
        )
    model = read_model_file(check_model_path(args.model))
    params, fitted = model.params, model.fitted
    kind = "MNISTClassifier"
    if model.kind == "Pipeline":
        first, second = model.pipeline["steps"]
        kind = f"Pipeline({first}=FlattenScaler, {second}=MNISTClassifier)"
    classes = fitted["classes_"].tolist()
    shown = " ".join(map(str, classes[:20])) + (" ..." if len(classes) > 20 else "")
    if model.scaler is not None:
        scale = f"{model.scaler.scale_:g}"
        inputs = f"{model.scaler.image_shape_} images, pixel values 0-{scale}"
    else:
        inputs = f"{fitted['n_features_in_']} features (rows scaled to [0, 1])"
    print(f"{args.model}: {kind}")
    print(f"classes:      {shown} ({len(classes)})")
    print(f"input:        {inputs}")
    print("parameters:   " + ", ".join(f"{k}={v!r}" for k, v in sorted(params.items())))
    history = fitted.get("history_")
    if history:
        epoch = fitted.get("best_epoch_", fitted["n_iter_"] - 1)
        which = "best" if "best_epoch_" in fitted else "last"
        line = f"{_epochs(fitted['n_iter_'])}; {which} epoch {epoch + 1}:"
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            if key in history:
                line += f" {key} {history[key][epoch]:.4f}"
        if "val_loss" not in history:
            line += " (no validation split)"
        print(f"training:     {line}")
    else:
        print("training:     none recorded (the network was only initialized)")
    versions = model.manifest.get("versions")
    written = "unknown"
    if isinstance(versions, dict):
        written = ", ".join(f"{name} {version}" for name, version in versions.items())
    size = model.size
    print(
        f"file:         format {model.manifest['format_version']}, "
        f"{size / 1e6:.2f} MB ({size:,} bytes)"
    )
    print(f"written by:   {written}")


# -- pieces the commands share -------------------------------------------------


def _add_command(commands, name, summary, description, run):
    command = commands.add_parser(name, help=summary, description=description)
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
        from . import load_mnist_sample

        return load_mnist_sample(subset=subset, return_X_y=True)
    from . import fetch_mnist

    return fetch_mnist(
        subset=subset, data_home=args.data_home, mirror=args.mirror, return_X_y=True
    )


def _check_file_can_be_written(path):
    from ._files import check_write_target

    target, _ = check_write_target(path)  # a folder, FIFO or device is refused
    if os.path.exists(target) and not os.access(target, os.W_OK):
        raise CommandError(f"cannot write the model to {path}: the file is read-only")
    _probe(os.path.dirname(target), f"the model to {path}")


def _epochs(n):
    """'1 epoch', '2 epochs': what the output says of `n` epochs."""
    return f"{n} epoch" if n == 1 else f"{n} epochs"


def _check_report_dir(folder):
    from ._evaluation import check_report_dir
    from ._plotting import _check_matplotlib

    # Before the folder is made: a missing matplotlib leaves nothing behind.
    try:
        _check_matplotlib("--report-dir")
    except ImportError as exc:
        raise CommandError(str(exc)) from None
    check_report_dir(folder)
    target = f"the report to {folder}"
    # Made to learn now whether it can be, with the system's own reason if not,
    # then removed: the report makes it when it writes, so a run that fails
    # before then (no data, a refused option) leaves no empty folder behind.
    made = []
    path = os.path.abspath(folder)
    while not os.path.lexists(path):
        made.append(path)  # innermost first, the order to remove them in
        path = os.path.dirname(path)
    try:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"cannot write {target}: {_reason(exc)}") from None
        _probe(folder, target)
    finally:
        for path in made:
            with contextlib.suppress(OSError):
                os.rmdir(path)


def _probe(folder, target):
    """Create and remove a file in `folder`: whether it can be written, whatever
    the reason it cannot (permissions, a read-only file system, ...)."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".skmnist-probe-"):
            pass
    except OSError as exc:
        raise CommandError(f"cannot write {target}: {_reason(exc)}") from None


def _save(pipe, path):
    from ._image_model import is_pickle

    if is_pickle(path):
        import joblib

        joblib.dump(pipe, path)
    else:
        from . import save_model

        save_model(pipe, path)


def _load_model(path, *, light=False):
    """The fitted skmnist model in the file at `path`, taking 0-255 images;
    with `light`, predicting in NumPy where it can (no TensorFlow)."""
    from ._image_model import load_image_model

    return load_image_model(path, allow_pickle=True, light=light)


def _reason(exc):
    return exc.strerror or str(exc)


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
