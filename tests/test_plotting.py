"""Tests of skmnist.report._plotting: the figures' content, not their pixels."""

import os
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix

from skmnist.report._plotting import (
    plot_confusion_matrix,
    plot_digits,
    plot_learning_curves,
)


@pytest.fixture(autouse=True)
def close_figures():
    """The functions make pyplot figures, which pyplot keeps until closed."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

HISTORY = {
    "loss": [0.9, 0.5, 0.3],
    "accuracy": [0.7, 0.85, 0.9],
    "val_loss": [0.6, 0.45, 0.4],
    "val_accuracy": [0.8, 0.86, 0.88],
}


def line_data(ax):
    return {
        line.get_label(): (list(line.get_xdata()), list(line.get_ydata()))
        for line in ax.lines
    }


# -- learning curves -------------------------------------------------------------------


def test_learning_curves_two_panels_with_the_history():
    fig = plot_learning_curves(HISTORY)
    assert isinstance(fig, Figure)
    loss, accuracy = fig.axes
    assert (loss.get_title(), accuracy.get_title()) == ("Loss", "Accuracy")
    assert loss.get_xlabel() == accuracy.get_xlabel() == "epoch"
    marker = {"lowest val_loss (epoch 3)": ([3, 3], [0, 1])}
    assert line_data(loss) == {
        "training": ([1, 2, 3], HISTORY["loss"]),
        "validation": ([1, 2, 3], HISTORY["val_loss"]),
        **marker,
    }
    assert line_data(accuracy) == {
        "training": ([1, 2, 3], HISTORY["accuracy"]),
        "validation": ([1, 2, 3], HISTORY["val_accuracy"]),
        **marker,
    }
    assert [t.get_text() for t in loss.get_legend().get_texts()] == [
        "training",
        "validation",
        "lowest val_loss (epoch 3)",
    ]


def test_learning_curves_mark_the_epoch_of_lowest_validation_loss():
    # Validation loss falls to epoch 2, then rises: the tutorial's overfitting.
    history = {"loss": [0.9, 0.5, 0.3, 0.2], "val_loss": [0.6, 0.3, 0.35, 0.5]}
    history["accuracy"] = [0.7, 0.8, 0.9, 0.95]
    fig = plot_learning_curves(history)
    for ax in fig.axes:
        assert line_data(ax)["lowest val_loss (epoch 2)"][0] == [2, 2]


def test_learning_curves_without_validation():
    history = {"loss": [0.5, 0.4], "accuracy": [0.8, 0.9]}
    fig = plot_learning_curves(history)
    assert [list(line_data(ax)) for ax in fig.axes] == [["training"], ["training"]]


@pytest.mark.parametrize(
    "source",
    [
        types.SimpleNamespace(history_=HISTORY),  # a fitted MNISTClassifier
        types.SimpleNamespace(history=HISTORY),  # a keras.callbacks.History
    ],
    ids=["estimator", "keras-history"],
)
def test_learning_curves_from_a_model_or_keras_history(source):
    fig = plot_learning_curves(source)
    assert line_data(fig.axes[0])["validation"][1] == HISTORY["val_loss"]


def test_learning_curves_from_a_pipeline():
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    class Fitted(FunctionTransformer):
        history_ = HISTORY

    pipe = Pipeline([("a", FunctionTransformer()), ("mlp", Fitted())])
    fig = plot_learning_curves(pipe)
    assert line_data(fig.axes[1])["training"][1] == HISTORY["accuracy"]


def test_learning_curves_into_given_axes():
    fig = Figure()
    axes = fig.subplots(2, 1)
    assert plot_learning_curves(HISTORY, axes=axes) is fig
    assert [ax.get_title() for ax in fig.axes] == ["Loss", "Accuracy"]
    with pytest.raises(ValueError, match="2 Axes"):
        plot_learning_curves(HISTORY, axes=axes[:1])


@pytest.mark.parametrize("history", [{}, {"accuracy": [1.0]}, [0.5, 0.4], None])
def test_learning_curves_bad_history(history):
    with pytest.raises(ValueError, match="history"):
        plot_learning_curves(history)


# -- confusion matrix ------------------------------------------------------------------


def test_confusion_matrix_counts():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 10, size=300)
    y_pred = np.where(rng.random(300) < 0.7, y_true, rng.integers(0, 10, size=300))
    labels = np.arange(10)
    fig = plot_confusion_matrix(y_true, y_pred, labels)
    ax = fig.axes[0]
    assert len(fig.axes) == 2  # the matrix and its colour bar
    assert ax.get_title() == "Confusion matrix"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Predicted label", "True label")
    expected = confusion_matrix(y_true, y_pred, labels=labels)
    np.testing.assert_array_equal(ax.images[0].get_array(), expected)
    texts = [t.get_text() for t in ax.texts]
    assert texts == [str(v) for v in expected.ravel()]
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(k) for k in labels]
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(k) for k in labels]


def test_confusion_matrix_labels_order_and_strings():
    fig = plot_confusion_matrix(["b", "a", "a"], ["a", "a", "b"], labels=["b", "a"])
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), [[0, 1], [1, 1]])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["b", "a"]
    # Without labels: those that occur, sorted.
    fig = plot_confusion_matrix([2, 0], [0, 0])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0", "2"]


def test_confusion_matrix_normalized_into_given_axes():
    fig = Figure()
    ax = fig.add_subplot()
    assert (
        plot_confusion_matrix([0, 0, 1, 1], [0, 1, 1, 1], ax=ax, normalize="true")
        is fig
    )
    np.testing.assert_allclose(ax.images[0].get_array(), [[0.5, 0.5], [0.0, 1.0]])
    assert [t.get_text() for t in ax.texts] == ["0.50", "0.50", "0.00", "1.00"]
    assert "normalized" in ax.get_title()


# -- digit grids -----------------------------------------------------------------------


def make_digits(n=12):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    y_true = np.arange(n) % 10
    y_pred = y_true.copy()
    wrong = [i for i in (1, 4, 5, 9, 11) if i < n]
    y_pred[wrong] = (y_true[wrong] + 3) % 10
    return images, y_true, y_pred


def test_digits_shows_the_misclassified_ones():
    images, y_true, y_pred = make_digits()
    fig = plot_digits(images, y_true, y_pred)
    wrong = [1, 4, 5, 9, 11]
    assert len(fig.axes) == len(wrong)
    assert [ax.get_title() for ax in fig.axes] == [
        f"true {y_true[i]} / pred {y_pred[i]}" for i in wrong
    ]
    for ax, i in zip(fig.axes, wrong, strict=True):
        assert len(ax.images) == 1
        np.testing.assert_array_equal(ax.images[0].get_array(), images[i])
    assert fig.axes[0].get_title() == "true 1 / pred 4"


def test_digits_n_limits_the_grid():
    images, y_true, y_pred = make_digits()
    fig = plot_digits(images, y_true, y_pred, n=3)
    assert len(fig.axes) == 3
    assert fig.axes[2].get_title() == f"true {y_true[5]} / pred {y_pred[5]}"
    fig = plot_digits(images, y_true, y_pred, n=4, ncols=2)
    assert fig.axes[0].get_subplotspec().get_gridspec().get_geometry() == (2, 2)


def test_digits_all_of_them_and_flat_rows():
    images, y_true, y_pred = make_digits(6)
    fig = plot_digits(images.reshape(6, 784), y_true, y_pred, misclassified_only=False)
    assert len(fig.axes) == 6
    np.testing.assert_array_equal(fig.axes[3].images[0].get_array(), images[3])
    fig = plot_digits(images, y_true)  # no predictions: titled by label
    assert [ax.get_title() for ax in fig.axes] == [f"true {k}" for k in y_true]
    fig = plot_digits(images[:2])
    assert [ax.get_title() for ax in fig.axes] == ["", ""]


def test_digits_none_misclassified():
    images, y_true, _ = make_digits(4)
    fig = plot_digits(images, y_true, y_true)
    assert len(fig.axes) == 1
    assert not fig.axes[0].images
    assert fig.axes[0].texts[0].get_text() == "no misclassified digits"


def test_digits_into_given_figure():
    images, y_true, y_pred = make_digits()
    fig = Figure()
    assert plot_digits(images, y_true, y_pred, fig=fig, n=2) is fig
    assert len(fig.axes) == 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"images": np.zeros((3, 10))}, "square"),
        ({"images": np.zeros(5)}, "shape"),
        ({"images": np.zeros((3, 4, 4)), "y_true": [1, 2]}, "y_true"),
        ({"images": np.zeros((3, 4, 4)), "y_true": [1, 2, 3], "y_pred": [1]}, "y_pred"),
        ({"images": np.zeros((3, 4, 4)), "n": -1}, "n must be"),
    ],
)
def test_digits_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_digits(**kwargs)


# -- saving, and staying out of pyplot -------------------------------------------------


def test_figures_save_as_png(tmp_path):
    images, y_true, y_pred = make_digits()
    figures = [
        plot_learning_curves(HISTORY),
        plot_confusion_matrix(y_true, y_pred),
        plot_digits(images, y_true, y_pred),
    ]
    for i, fig in enumerate(figures):
        path = tmp_path / f"{i}.png"
        fig.savefig(path)
        assert path.read_bytes().startswith(PNG_MAGIC)


def test_matplotlib_only_when_needed_and_agg_without_a_display(tmp_path):
    # In a fresh process without a display: importing the module imports no
    # matplotlib; the figures are pyplot figures, drawn with Agg.
    script = textwrap.dedent(
        """
        import sys
        import skmnist.report._plotting as plotting
        assert "matplotlib" not in sys.modules, "matplotlib was imported"
        fig = plotting.plot_digits([[[0, 255]]], [1], [0])
        import matplotlib, matplotlib.pyplot as plt
        assert plt.get_fignums() == [fig.number]
        fig.savefig(sys.argv[1])
        print(matplotlib.get_backend().lower())
        """
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")
    }
    path = os.path.join(os.fspath(tmp_path), "digits.png")
    result = subprocess.run(
        [sys.executable, "-c", script, path], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    if sys.platform.startswith("linux"):
        assert result.stdout.strip() == "agg"
    with open(path, "rb") as file:
        assert file.read(8) == PNG_MAGIC
