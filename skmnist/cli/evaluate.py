"""``skmnist evaluate``: a model's accuracy, log loss and per-class report on the
test set."""

from ._common import (
    TRUST_WARNING,
    add_data_options,
    add_model_argument,
    check_report_dir,
    load_data,
    load_model,
)

SUMMARY = "print a model's accuracy, log loss and per-class report on the test set"


def add_parser(commands):
    parser = commands.add_parser(
        "evaluate",
        help=SUMMARY,
        description="Print the accuracy, log loss and per-class precision, recall "
        "and F1 score of a model on MNIST's test images. " + TRUST_WARNING,
    )
    add_model_argument(parser)
    add_data_options(parser, sample=True)
    parser.add_argument(
        "--report-dir",
        metavar="DIR",
        help="write skmnist.evaluate_model's report here, as 'train --report-dir' "
        "does: metrics.json and figures (created if needed; needs matplotlib). "
        "Default: no report",
    )
    return parser


def run(args):
    import numpy as np
    from sklearn.metrics import classification_report

    from .. import evaluate_model

    if args.report_dir is not None:
        check_report_dir(args.report_dir)
    model = load_model(args.model)  # a wrong path fails before any download
    X_test, y_test = load_data(args, "test")
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
