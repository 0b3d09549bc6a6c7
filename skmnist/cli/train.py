"""``skmnist train``: train the model, evaluate it on the test set, write it and a
report."""

import argparse
import sys
import time
import warnings

from ._common import (
    PROG,
    CommandError,
    add_data_options,
    check_file_can_be_written,
    check_report_dir,
    epochs_text,
    load_data,
)

SUMMARY = "train the model, evaluate it on the test set, write it and a report"

# MNISTClassifier's parameters that `train` takes as options: argparse type,
# metavar, help. An option not given is not passed, so the defaults are the
# classifier's own, which --help shows from the one table of them (no Keras).
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


def add_parser(commands):
    from ..estimator._parameters import DEFAULTS

    parser = commands.add_parser(
        "train",
        help=SUMMARY,
        description="Train make_mnist_pipeline() (FlattenScaler -> MNISTClassifier) "
        "on MNIST's training images, with Keras's progress bars, then print its "
        "accuracy and log loss on the test images. The defaults are "
        "MNISTClassifier's: the Keras tutorial's reference model.",
    )
    model = parser.add_argument_group("model")
    for name, (kind, metavar, text) in MODEL_OPTIONS.items():
        flag = "--" + name.replace("_", "-")
        if kind is bool:
            options = {"action": argparse.BooleanOptionalAction}
        else:
            options = {"type": kind, "metavar": metavar}
        default = str(DEFAULTS[name]).replace("%", "%%")
        model.add_argument(
            flag,
            default=argparse.SUPPRESS,
            help=f"{text} (default: {default})",
            **options,
        )
    model.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="training output: 0 silent, 1 a progress bar that moves within each "
        "epoch on a terminal (one plain line per epoch when redirected), 2 one "
        "line per epoch (default: %(default)s; the classifier's own default is 0)",
    )
    add_data_options(parser, sample=True)
    output = parser.add_argument_group("output")
    output.add_argument(
        "--out",
        metavar="MODEL",
        help="write the fitted pipeline here: with joblib.dump for a name ending "
        "in .joblib, .pkl or .pickle (a pickle: whoever loads it runs its code), "
        "else with skmnist.save_model (no pickle). Default: not saved",
    )
    output.add_argument(
        "--keep-partial",
        action="store_true",
        help="on Ctrl+C after the first epoch, write and evaluate the model "
        "reached and exit 0. Default: exit 130, leaving --out as it was",
    )
    output.add_argument(
        "--report-dir",
        metavar="DIR",
        help="write skmnist.evaluate_model's report here: metrics.json and "
        "figures (created if needed; needs matplotlib). Default: no report",
    )
    return parser


def run(args):
    # Whatever would fail after training fails now.
    if args.out is not None:
        if str(args.out).lower().endswith(".onnx"):
            raise CommandError(
                f"--out {args.out}: train writes a .skmnist model file (or a "
                "pickle), not ONNX; write model.skmnist, then run 'skmnist export "
                "model.skmnist model.onnx'"
            )
        check_file_can_be_written(args.out)
    if args.report_dir is not None:
        check_report_dir(args.report_dir)
    from .. import evaluate_model, make_mnist_pipeline
    from .._frontend import TrainingInterrupted, check_params

    params = {name: getattr(args, name) for name in MODEL_OPTIONS if name in args}
    pipe = make_mnist_pipeline(verbose=args.verbose, **params)
    check_params(pipe[-1])  # a bad option fails before any download or output

    X_train, y_train = load_data(args, "train")
    X_test, y_test = load_data(args, "test")
    source = "the packaged sample of MNIST" if args.sample else "MNIST"
    print(
        f"Training on {len(X_train)} images of {source} "
        f"({epochs_text(pipe[-1].epochs)}, hidden size {pipe[-1].hidden_size}) ...",
        flush=True,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        if not args.keep_partial:
            # The classifier keeps a model interrupted after an epoch, with this
            # warning: as an error, it leaves nothing to write or evaluate.
            warnings.simplefilter("error", TrainingInterrupted)
        try:
            pipe.fit(X_train, y_train)
        except TrainingInterrupted as stop:
            kept = "nothing written" if args.out is None else f"{args.out} not written"
            print(
                f"{PROG}: interrupted after {stop.n_epochs} of "
                f"{epochs_text(stop.epochs)}: {kept} (--keep-partial keeps the "
                "model reached)",
                file=sys.stderr,
            )
            return 130
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
    print(f"fit time:       {fit_time:.1f} s ({epochs_text(metrics['n_iter'])})")
    print(f"test accuracy:  {metrics['accuracy']:.4f}")
    print(f"test log loss:  {metrics['log_loss']:.4f}")
    lowest = metrics["lowest_val_loss"]
    if lowest is not None and lowest["note"] is not None:
        print(f"note:           {lowest['note']}")
    if args.out is not None:
        print(f"model:          {args.out}")
    if args.report_dir is not None:
        print(f"report:         {args.report_dir}")


def _save(pipe, path):
    from .._frontend import is_pickle, write_atomically

    if is_pickle(path):
        import io

        import joblib

        # Whole or not at all, as save_model writes: Ctrl+C in the middle of a
        # dump never leaves a truncated pickle in place of the user's file.
        buffer = io.BytesIO()
        joblib.dump(pipe, buffer)
        write_atomically(path, buffer.getbuffer())
    else:
        from .. import save_model

        save_model(pipe, path)
