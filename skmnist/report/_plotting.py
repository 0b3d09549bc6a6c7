"""Plots of a trained MNIST model: learning curves, confusion matrix, digit grids.

matplotlib is imported inside the functions, so that importing skmnist never
needs it (install it with ``pip install 'skmnist[plot]'``).

Every function draws into the Axes or the figure you pass, or else into a new
pyplot figure (as scikit-learn's displays do), and returns the
:class:`~matplotlib.figure.Figure`: ``plt.show()`` displays it, notebooks show
it inline, ``fig.savefig("curves.png")`` writes it, and ``plt.close(fig)`` frees
it. Where there is no display (a server, CI, a terminal without X), matplotlib
picks its Agg backend by itself, so that the figures are drawn and saved
without one.
"""

import numpy as np

from .._errors import MissingExtra

__all__ = ["plot_confusion_matrix", "plot_digits", "plot_learning_curves"]

_HISTORY_METRICS = (("loss", "Loss"), ("accuracy", "Accuracy"))


def _check_matplotlib(caller):
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise MissingExtra(
            f"{caller} needs matplotlib: pip install 'skmnist[plot]' (or pip "
            "install matplotlib)."
        ) from exc


def _new_figure(**kwargs):
    """A new pyplot figure (matplotlib falls back to Agg without a display)."""
    import matplotlib.pyplot as plt

    return plt.figure(**kwargs)


def _get_history(history):
    """The per-epoch metrics of a history dict, Keras History or fitted model."""
    if hasattr(history, "steps") and hasattr(history, "__getitem__"):
        history = history[-1]  # a Pipeline: its final step
    if hasattr(history, "history_"):
        history = history.history_
    elif hasattr(history, "history") and isinstance(history.history, dict):
        history = history.history  # a keras.callbacks.History
    if not hasattr(history, "keys") or "loss" not in history:
        raise ValueError(
            "history must be a dict of per-epoch metrics with at least 'loss' "
            "(e.g. MNISTClassifier.history_), a keras History, or a fitted "
            f"MNISTClassifier or pipeline; got {type(history).__name__}."
        )
    return history


def plot_learning_curves(history, *, axes=None):
    """Plot loss and accuracy per epoch, for training and validation.

    Two panels side by side: "Loss" and "Accuracy", each with the training curve
    and, when the history has one, the validation curve, against the epoch
    number (from 1). A dotted vertical line marks the epoch of the lowest
    validation loss: where validation loss rises after it, later epochs overfit
    (``early_stopping=True`` stops there and keeps that epoch's weights).

    Parameters
    ----------
    history : dict, keras.callbacks.History, MNISTClassifier or Pipeline
        Per-epoch metrics: a dict with ``"loss"`` and optionally
        ``"accuracy"``, ``"val_loss"``, ``"val_accuracy"`` (the
        ``history_`` of a fitted :class:`~skmnist.MNISTClassifier`), a Keras
        ``History``, or a fitted classifier or pipeline ending in one.

    axes : sequence of two matplotlib Axes, default=None
        Where to draw the loss and the accuracy panels. If None, a new figure
        with two panels is made.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure holding the panels.

    Examples
    --------
    >>> from skmnist import plot_learning_curves
    >>> history = {"loss": [0.5, 0.3], "accuracy": [0.85, 0.91],
    ...            "val_loss": [0.4, 0.35], "val_accuracy": [0.88, 0.9]}
    >>> fig = plot_learning_curves(history)
    >>> [ax.get_title() for ax in fig.axes]
    ['Loss', 'Accuracy']
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['training', 'validation', 'lowest val_loss (epoch 2)']
    """
    _check_matplotlib("plot_learning_curves")
    history = _get_history(history)
    if axes is None:
        fig = _new_figure(figsize=(10, 4), layout="constrained")
        axes = fig.subplots(1, 2)
    else:
        axes = list(axes)
        if len(axes) != 2:
            raise ValueError(f"axes must hold 2 Axes; got {len(axes)}.")
        fig = axes[0].figure
    val_loss = np.asarray(history.get("val_loss") or [], dtype=float)
    # Where the model was best on held-out data: later epochs overfit.
    lowest = int(np.nanargmin(val_loss)) + 1 if np.isfinite(val_loss).any() else None
    for ax, (key, title) in zip(axes, _HISTORY_METRICS, strict=True):
        for prefix, label, style in (
            ("", "training", "o-"),
            ("val_", "validation", "s--"),
        ):
            values = history.get(prefix + key)
            if values is None or len(values) == 0:
                continue
            epochs = np.arange(1, len(values) + 1)
            ax.plot(epochs, np.asarray(values, dtype=float), style, label=label)
        if lowest is not None and ax.lines:
            ax.axvline(
                lowest,
                color="0.4",
                linestyle=":",
                label=f"lowest val_loss (epoch {lowest})",
            )
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        if ax.lines:
            ax.legend()
            ax.xaxis.get_major_locator().set_params(integer=True)
        else:
            ax.text(
                0.5,
                0.5,
                f"no {key} recorded",
                ha="center",
                va="center",
                transform=ax.transAxes,
            )
    return fig


def plot_confusion_matrix(
    y_true, y_pred, labels=None, *, normalize=None, ax=None, cmap="Blues"
):
    """Plot the confusion matrix of predictions, with a count in each cell.

    Rows are the true labels and columns the predicted ones; drawn by
    :class:`sklearn.metrics.ConfusionMatrixDisplay`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.

    y_pred : array-like of shape (n_samples,)
        Predicted labels.

    labels : array-like of shape (n_classes,), default=None
        The labels, in the order of the rows and columns. If None, those that
        appear in `y_true` or `y_pred`, sorted.

    normalize : {"true", "pred", "all"}, default=None
        Show fractions of each true class (rows), of each predicted class
        (columns) or of all samples, instead of counts.

    ax : matplotlib Axes, default=None
        Where to draw. If None, a new figure is made.

    cmap : str or matplotlib Colormap, default="Blues"
        Colormap of the cells.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure holding the matrix (the image of the Axes, with a count in
        each cell) and its colour bar.

    Examples
    --------
    >>> from skmnist import plot_confusion_matrix
    >>> fig = plot_confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], labels=[0, 1, 2])
    >>> fig.axes[0].get_title()
    'Confusion matrix'
    >>> fig.axes[0].images[0].get_array().tolist()
    [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    """
    _check_matplotlib("plot_confusion_matrix")
    from sklearn.metrics import ConfusionMatrixDisplay

    if ax is None:
        ax = _new_figure(figsize=(7, 6), layout="constrained").add_subplot()
    display = ConfusionMatrixDisplay.from_predictions(
        y_true,
        y_pred,
        labels=labels,
        normalize=normalize,
        ax=ax,
        cmap=cmap,
        colorbar=True,
        values_format=".2f" if normalize else "d",
    )
    ax.set_title(
        "Confusion matrix"
        if normalize is None
        else f"Confusion matrix (normalized over {normalize})"
    )
    return display.figure_


def plot_digits(
    images,
    y_true=None,
    y_pred=None,
    *,
    n=25,
    misclassified_only=True,
    ncols=None,
    fig=None,
):
    """Plot digits in a grid, titled with their true and predicted labels.

    By default, with both `y_true` and `y_pred`, only the misclassified digits
    are shown, in their order, each titled ``"true 3 / pred 5"``: a look at what
    the model gets wrong.

    Parameters
    ----------
    images : array-like of shape (n_samples, height, width) or (n_samples, n_pixels)
        The digits, e.g. MNIST's uint8 images (light ink on black; shown dark on
        white). Flat rows of a square number of pixels are reshaped to squares.

    y_true : array-like of shape (n_samples,), default=None
        The true labels, shown in the titles.

    y_pred : array-like of shape (n_samples,), default=None
        The predicted labels, shown in the titles.

    n : int, default=25
        The most digits to show (the first ones).

    misclassified_only : bool, default=True
        With both `y_true` and `y_pred`: show only the digits where they differ.

    ncols : int, default=None
        Number of columns of the grid; if None, about the square root of the
        number of digits shown.

    fig : matplotlib Figure or SubFigure, default=None
        Where to draw. If None, a new figure is made.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure: one Axes per digit shown, or one Axes saying that there is
        nothing to show.

    Examples
    --------
    >>> import numpy as np
    >>> from skmnist import plot_digits
    >>> images = np.zeros((4, 28, 28), dtype=np.uint8)
    >>> fig = plot_digits(images, [3, 1, 4, 1], [3, 7, 4, 2])
    >>> [ax.get_title() for ax in fig.axes]
    ['true 1 / pred 7', 'true 1 / pred 2']
    """
    _check_matplotlib("plot_digits")
    images = np.asarray(images)
    if images.ndim == 2:
        side = int(np.sqrt(images.shape[1]))
        if side * side != images.shape[1]:
            raise ValueError(
                "images must have shape (n_samples, height, width), or "
                f"(n_samples, n_pixels) with a square n_pixels; got {images.shape}."
            )
        images = images.reshape(len(images), side, side)
    elif images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(
            "images must have shape (n_samples, height, width) or (n_samples, "
            f"n_pixels); got {images.shape}."
        )
    labels = {}
    for name, values in (("true", y_true), ("pred", y_pred)):
        if values is not None:
            values = np.asarray(values)
            if values.shape != (len(images),):
                raise ValueError(
                    f"y_{name} must have shape ({len(images)},), one label per "
                    f"image; got {values.shape}."
                )
            labels[name] = values
    if n < 0:
        raise ValueError(f"n must be >= 0; got {n}.")

    indices = np.arange(len(images))
    if misclassified_only and len(labels) == 2:
        indices = np.flatnonzero(labels["true"] != labels["pred"])
    indices = indices[:n]

    count = len(indices)
    ncols = ncols or max(1, int(np.ceil(np.sqrt(count))))
    nrows = max(1, int(np.ceil(count / ncols)))
    if fig is None:
        fig = _new_figure(
            figsize=(1.6 * min(ncols, max(count, 1)) + 0.4, 1.8 * nrows + 0.4),
            layout="constrained",
        )
    if count == 0:
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.text(
            0.5,
            0.5,
            "no misclassified digits"
            if misclassified_only and len(labels) == 2
            else "no digits",
            ha="center",
            va="center",
        )
        return fig

    vmax = 255 if images.max() > 1 else 1
    for position, index in enumerate(indices, start=1):
        ax = fig.add_subplot(nrows, ncols, position)
        ax.imshow(
            images[index], cmap="gray_r", vmin=0, vmax=vmax, interpolation="nearest"
        )
        ax.set_xticks([])
        ax.set_yticks([])
        title = " / ".join(
            f"{name} {labels[name][index]}"
            for name in ("true", "pred")
            if name in labels
        )
        if title:
            ax.set_title(title, fontsize=9)
    return fig
