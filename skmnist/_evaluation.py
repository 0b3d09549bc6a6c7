"""evaluate_model: a fitted model's test scores, and a report of them on disk.

This module needs NumPy and scikit-learn only; matplotlib is imported only to
draw a report's figures.
"""

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

from . import __version__

__all__ = ["evaluate_model"]


def evaluate_model(
    estimator, X, y, *, fit_time=None, data_info=None, report_dir=None, n_digits=25
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

    Returns
    -------
    metrics : dict
        JSON-serializable:

        - ``"skmnist_version"``;
        - ``"data"``: ``data_info`` and ``"n_test"``, the number of samples;
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
    ({'n_test': 500}, 32, 2)
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
    check_is_fitted(estimator)
    classifier = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    labels = estimator.classes_
    y = np.asarray(y)
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
    metrics = _plain(
        {
            "skmnist_version": __version__,
            "data": {**(data_info or {}), "n_test": len(y)},
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

    from ._persistence import _write_atomically
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
        _write_atomically(os.path.join(folder, name), data)


def _plain(value):
    """`value` as something JSON can hold: NumPy's scalars and arrays become
    Python's, and anything else without a JSON form its ``repr``."""
    if isinstance(value, (str, bool)) or value is None:
        return value
    if isinstance(value, (int, float, np.number, np.bool_)):
        return value.item() if hasattr(value, "item") else value
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return repr(value)
