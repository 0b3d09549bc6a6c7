"""evaluate_model: a fitted model's test scores, and a report of them on disk.

This module needs NumPy and scikit-learn only; matplotlib is imported only to
draw a report's figures.
"""

import errno
import io
import json
import os
from numbers import Integral

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
)
from sklearn.utils.validation import check_is_fitted

from .. import __version__
from .._errors import UserError
from .._json import plain

__all__ = ["LabelMismatchError", "evaluate_model"]


class LabelMismatchError(UserError, ValueError):
    """Test labels that are not the classes of the model scored on them."""


def evaluate_model(
    estimator,
    X,
    y,
    *,
    fit_time=None,
    data_info=None,
    report_dir=None,
    n_digits=25,
    unknown_labels="error",
):
    """Score a fitted classifier on test data, and optionally write a report.

    The scores are those of ``skmnist train --report-dir``: accuracy, log loss,
    precision, recall, F1 score and support of each class, and the confusion
    matrix, with what is known of how the model was trained (its parameters,
    epochs, training history). The predicted label of a sample is its most
    probable class.

    Parameters
    ----------
    estimator : fitted classifier or Pipeline
        A fitted :func:`~skmnist.make_mnist_pipeline` pipeline or
        :class:`~skmnist.MNISTClassifier`, or any fitted scikit-learn
        classifier (or pipeline ending in one) with ``predict_proba`` and
        ``classes_``.

    X : array-like
        Test samples, as `estimator` takes them: images of shape
        ``(n_samples, 28, 28)`` for a pipeline, or rows scaled to [0, 1] for
        a bare :class:`~skmnist.MNISTClassifier`.

    y : array-like of shape (n_samples,)
        True labels of the test samples.

    fit_time : float, default=None
        Seconds the fit took, to record with the scores; None if unknown.

    data_info : dict, default=None
        Facts about the data to record under ``"data"``, next to ``"n_test"``
        (``skmnist train`` records ``"source"`` and ``"n_train"``). Its
        values must be JSON-serializable.

    report_dir : str or path-like, default=None
        If given, the folder (created if needed) to write the report to:
        ``metrics.json`` (the returned dict), ``confusion_matrix.png``,
        ``misclassified.png`` (the first misclassified test digits, drawn by
        :func:`~skmnist.plot_digits`) and, for an estimator that records a
        training history (``history_``), ``learning_curves.png``. The figures
        need matplotlib (``pip install 'skmnist[plot]'``): without it an
        ImportError is raised before anything is computed.

    n_digits : int, default=25
        The most misclassified digits to draw in ``misclassified.png``.

    unknown_labels : {"error", "skip"}, default="error"
        What to do with test samples whose label is not one of the model's
        classes (a model trained on some digits only): raise a ValueError
        naming them, or leave them out and score the others (their number is
        recorded as ``metrics["data"]["n_left_out"]``). Labels match the
        classes exactly; where no label does, they match by their string form
        (a model trained on the strings ``"0"``-``"9"`` is scored on MNIST's
        integer labels), if the classes' string forms are distinct. Where no
        sample is left, a ValueError names the classes and the labels.

    Returns
    -------
    metrics : dict
        JSON-serializable:

        - ``"skmnist_version"``;
        - ``"data"``: ``data_info``, ``"n_test"``, the number of samples
          scored, and ``"n_left_out"``, the number left out (see
          `unknown_labels`);
        - ``"accuracy"`` and ``"log_loss"``;
        - ``"labels"``: the classes, in the order of the confusion matrix;
        - ``"per_class"``: for each label (as a string), its ``"precision"``,
          ``"recall"``, ``"f1"`` and ``"support"``;
        - ``"confusion_matrix"``: counts, rows the true labels and columns the
          predicted ones;
        - ``"fit_time"``: `fit_time`;
        - ``"params"``: the classifier's ``get_params(deep=False)`` (values
          that JSON cannot hold, such as callbacks, as their ``repr``);
        - ``"n_iter"``, ``"history"`` and ``"best_epoch"``: the classifier's
          ``n_iter_``, ``history_`` and ``best_epoch_``, or None where it has
          none;
        - ``"lowest_val_loss"``: None without a validation history; else the
          ``"epoch"`` (counting from 1) of the lowest validation loss, that
          ``"val_loss"``, the ``"last_val_loss"``, ``"rose_after"`` (whether
          the last is more than 5% above the lowest: the epochs after it
          overfit) and a ``"note"`` in words (None when it did not rise),
          naming ``early_stopping=True`` as the fix when the model was not
          trained with it.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If `estimator` is not fitted.
    ValueError
        If labels of `y` are not classes of the model and `unknown_labels` is
        "error", or if no sample's label is a class of the model.
    ImportError
        If `report_dir` is given and matplotlib is not installed.
    OSError
        If the report cannot be written.

    See Also
    --------
    plot_learning_curves, plot_confusion_matrix, plot_digits : The report's
        figures, one by one.

    Examples
    --------
    >>> import os, tempfile
    >>> from skmnist import evaluate_model, load_mnist_sample, make_mnist_pipeline
    >>> X, y = load_mnist_sample(return_X_y=True)
    >>> X_test, y_test = load_mnist_sample(subset="test", return_X_y=True)
    >>> pipe = make_mnist_pipeline(hidden_size=32, epochs=2, random_state=0)
    >>> pipe = pipe.fit(X, y)
    >>> metrics = evaluate_model(pipe, X_test, y_test)
    >>> metrics["accuracy"] == pipe.score(X_test, y_test)
    True
    >>> metrics["data"], metrics["params"]["hidden_size"], metrics["n_iter"]
    ({'n_test': 500, 'n_left_out': 0}, 32, 2)
    >>> sum(map(sum, metrics["confusion_matrix"]))
    500
    >>> folder = os.path.join(tempfile.mkdtemp(), "report")
    >>> metrics = evaluate_model(pipe, X_test, y_test, report_dir=folder)
    >>> sorted(os.listdir(folder))  # doctest: +NORMALIZE_WHITESPACE
    ['confusion_matrix.png', 'learning_curves.png', 'metrics.json',
     'misclassified.png']
    """
    if not isinstance(n_digits, Integral) or n_digits < 0:
        raise ValueError(f"n_digits must be an int >= 0; got {n_digits!r}.")
    if report_dir is not None:
        from ._plotting import _check_matplotlib

        _check_matplotlib("evaluate_model(report_dir=...)")
        check_report_dir(report_dir)
    check_is_fitted(estimator)
    classifier = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    if unknown_labels not in ("error", "skip"):
        raise ValueError(
            f"unknown_labels must be 'error' or 'skip'; got {unknown_labels!r}."
        )
    labels = np.asarray(estimator.classes_)
    y = _match_labels(np.asarray(y), labels)
    known = np.isin(y, labels)
    n_left_out = int(len(y) - known.sum())
    if not known.any():
        raise LabelMismatchError(
            f"no test label is a class of the model: the model knows the classes "
            f"{_summary(labels)}, the data's labels are {_summary(np.unique(y))}."
        )
    if n_left_out and unknown_labels == "error":
        raise LabelMismatchError(
            f"{n_left_out} of {len(y)} test samples have labels the model does not "
            f"know ({_summary(np.unique(y[~known]))}; its classes are "
            f"{_summary(labels)}): pass unknown_labels='skip' to score the others."
        )
    if n_left_out:
        X, y = _take(X, known), y[known]
    proba = estimator.predict_proba(X)
    y_pred = labels[proba.argmax(axis=1)]

    precision, recall, f1, support = precision_recall_fscore_support(
        y, y_pred, labels=labels, zero_division=0
    )
    per_class = {
        str(label): {"precision": p, "recall": r, "f1": f, "support": s}
        for label, p, r, f, s in zip(
            labels, precision, recall, f1, support, strict=True
        )
    }
    get_params = getattr(classifier, "get_params", None)
    metrics = plain(
        {
            "skmnist_version": __version__,
            "data": {**(data_info or {}), "n_test": len(y), "n_left_out": n_left_out},
            "accuracy": accuracy_score(y, y_pred),
            "log_loss": log_loss(y, proba, labels=labels),
            "labels": labels,
            "per_class": per_class,
            "confusion_matrix": confusion_matrix(y, y_pred, labels=labels),
            "fit_time": fit_time,
            "params": get_params(deep=False) if get_params else None,
            "n_iter": getattr(classifier, "n_iter_", None),
            "history": getattr(classifier, "history_", None),
            "best_epoch": getattr(classifier, "best_epoch_", None),
        }
    )
    metrics["lowest_val_loss"] = lowest_val_loss(
        metrics["history"], early_stopping=metrics["best_epoch"] is not None
    )
    if report_dir is not None:
        _write_report(os.fspath(report_dir), metrics, X, y, y_pred, labels, n_digits)
    return metrics


# The files a report writes, whatever the model: learning curves only when
# it has a history.
REPORT_FILES = (
    "metrics.json",
    "confusion_matrix.png",
    "misclassified.png",
    "learning_curves.png",
)


def check_report_dir(folder):
    """Refuse, before any work, a report folder whose files a report cannot
    replace: one that is a file, or holds a folder, FIFO or device of a report
    file's name (see :func:`skmnist._files.check_write_target`)."""
    from .._files import UnsafeWriteTarget, check_write_target, file_kind

    folder = os.fspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        kind = file_kind(os.stat(folder).st_mode)
        kind = "a file" if kind == "a special file" else kind
        raise UnsafeWriteTarget(
            errno.ENOTDIR,
            f"is {kind}, not a folder for the report: give the name of a new or "
            "existing folder",
            folder,
        )
    if os.path.isdir(folder):
        for name in REPORT_FILES:
            path = os.path.join(folder, name)
            if os.path.lexists(path):
                check_write_target(path)


#: How far above its lowest the last validation loss must end to count as a
#: rise: epoch-to-epoch noise of a converged fit stays well under it, the
#: tutorial's overfitting (0.072 at epoch 4 to 0.105 at epoch 20) is far above.
_RISE = 1.05


def lowest_val_loss(history, *, early_stopping=False):
    """Where validation loss was lowest in `history`, and whether it rose after.

    Returns None without a (finite) ``"val_loss"``; else the dict that
    :func:`evaluate_model` records as ``"lowest_val_loss"``.
    """
    values = np.asarray((history or {}).get("val_loss") or [], dtype=float)
    if not np.isfinite(values).any():
        return None
    best = int(np.nanargmin(values))
    lowest, last = float(values[best]), float(values[-1])
    rose = bool(last > _RISE * lowest)
    note = None
    if rose:
        note = (
            f"validation loss was lowest at epoch {best + 1} ({lowest:.4f}) and "
            f"rose to {last:.4f} by epoch {len(values)}: the epochs after "
            f"epoch {best + 1} overfit"
        )
        if early_stopping:
            note += "; early stopping kept the weights of the best epoch."
        else:
            note += (
                ". Train with early_stopping=True (skmnist train "
                "--early-stopping) to stop there and keep that epoch's weights."
            )
    return {
        "epoch": best + 1,
        "val_loss": lowest,
        "last_val_loss": last,
        "rose_after": rose,
        "note": note,
    }


def _write_report(folder, metrics, X, y, y_pred, labels, n_digits):
    """Draw the figures, then write them and metrics.json into `folder`."""
    import matplotlib.pyplot as plt

    from .._files import write_atomically
    from ._plotting import plot_confusion_matrix, plot_digits, plot_learning_curves

    files = {"metrics.json": (json.dumps(metrics, indent=2) + "\n").encode()}
    figures = []
    try:
        figures.append(
            ("confusion_matrix.png", plot_confusion_matrix(y, y_pred, labels))
        )
        figures.append(("misclassified.png", plot_digits(X, y, y_pred, n=n_digits)))
        if metrics["history"]:
            figures.append(
                ("learning_curves.png", plot_learning_curves(metrics["history"]))
            )
        for name, figure in figures:
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=100)
            files[name] = buffer.getvalue()
    finally:
        for _, figure in figures:
            plt.close(figure)
    os.makedirs(folder, exist_ok=True)
    # Each file whole or not at all: a full disk leaves the previous one as it was.
    for name, data in files.items():
        write_atomically(os.path.join(folder, name), data)


def _match_labels(y, classes):
    """`y` in the classes' own values: as it is where any label is a class,
    else by string form where that matches (the model's "7" is the data's 7)."""
    if np.isin(y, classes).any() or len(y) == 0:
        return y
    names = [str(c) for c in classes]
    if len(set(names)) < len(names):
        return y
    by_name = dict(zip(names, classes, strict=True))
    as_names = np.array([str(label) for label in y.tolist()], dtype=object)
    if not np.isin(as_names, names).any():
        return y
    mapped = np.array(
        [by_name.get(name, label) for name, label in zip(as_names, y, strict=True)],
        dtype=object,
    )
    return mapped.astype(classes.dtype) if np.isin(as_names, names).all() else mapped


def _take(X, rows):
    """The selected rows of X, an array or a DataFrame."""
    if hasattr(X, "iloc"):
        return X.iloc[np.flatnonzero(rows)]
    return np.asarray(X)[rows]


def _summary(values, most=12):
    """Values as 'a, b, c', or the first few and a count."""
    values = [str(v) for v in np.asarray(values).tolist()]
    if len(values) <= most:
        return ", ".join(values)
    return ", ".join(values[:most]) + f", ... ({len(values)} in all)"
