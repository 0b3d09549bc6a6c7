"""Tests of skmnist.evaluate_model: a fitted model's test scores and its report."""

import errno
import json
import os
import sys

import numpy as np
import pytest
from PIL import Image
from sklearn.exceptions import NotFittedError
from sklearn.metrics import (
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
)
from sklearn.naive_bayes import GaussianNB

from skmnist import (
    FlattenScaler,
    evaluate_model,
    load_mnist_sample,
    make_mnist_pipeline,
)

REPORT = [
    "confusion_matrix.png",
    "learning_curves.png",
    "metrics.json",
    "misclassified.png",
]


@pytest.fixture(scope="module")
def sample():
    X, y = load_mnist_sample(return_X_y=True)
    X_test, y_test = load_mnist_sample(subset="test", return_X_y=True)
    return X, y, X_test, y_test


@pytest.fixture(scope="module")
def pipe(sample):
    X, y, _, _ = sample
    return make_mnist_pipeline(hidden_size=16, epochs=2, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def metrics(pipe, sample):
    _, _, X_test, y_test = sample
    return evaluate_model(pipe, X_test, y_test)


def test_scores_are_scikit_learns(pipe, metrics, sample):
    _, _, X_test, y_test = sample
    labels = list(range(10))
    y_pred = pipe.predict(X_test)
    assert metrics["accuracy"] == pipe.score(X_test, y_test)
    assert metrics["log_loss"] == pytest.approx(
        log_loss(y_test, pipe.predict_proba(X_test), labels=labels)
    )
    assert metrics["labels"] == labels
    assert metrics["confusion_matrix"] == confusion_matrix(y_test, y_pred).tolist()
    precision, recall, f1, support = precision_recall_fscore_support(
        y_test, y_pred, labels=labels, zero_division=0
    )
    assert metrics["per_class"] == {
        str(k): {
            "precision": pytest.approx(precision[k]),
            "recall": pytest.approx(recall[k]),
            "f1": pytest.approx(f1[k]),
            "support": support[k],
        }
        for k in labels
    }


def test_what_is_known_of_the_training(pipe, metrics):
    clf = pipe[-1]
    assert metrics["params"] == clf.get_params()
    assert metrics["n_iter"] == 2
    assert metrics["history"] == {
        key: pytest.approx(values) for key, values in clf.history_.items()
    }
    assert set(metrics["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert metrics["best_epoch"] is None  # no early stopping
    assert metrics["fit_time"] is None
    assert metrics["data"] == {"n_test": 500, "n_left_out": 0}
    assert metrics["skmnist_version"] == __import__("skmnist").__version__


def test_records_what_the_caller_knows(pipe, sample):
    _, _, X_test, y_test = sample
    metrics = evaluate_model(
        pipe, X_test, y_test, fit_time=1.5, data_info={"source": "a", "n_train": 9}
    )
    assert metrics["fit_time"] == 1.5
    assert metrics["data"] == {
        "source": "a",
        "n_train": 9,
        "n_test": 500,
        "n_left_out": 0,
    }


def test_best_epoch_of_early_stopping(sample):
    X, y, X_test, y_test = sample
    pipe = make_mnist_pipeline(
        hidden_size=8, epochs=3, early_stopping=True, patience=1, random_state=0
    ).fit(X, y)
    metrics = evaluate_model(pipe, X_test, y_test)
    assert metrics["best_epoch"] == pipe[-1].best_epoch_
    assert metrics["params"]["early_stopping"] is True


def test_the_report_on_disk(pipe, metrics, sample, tmp_path):
    import matplotlib.pyplot as plt

    _, _, X_test, y_test = sample
    folder = tmp_path / "new" / "report"
    open_figures = plt.get_fignums()
    written = evaluate_model(pipe, X_test, y_test, report_dir=folder)
    assert written == metrics
    assert sorted(os.listdir(folder)) == REPORT
    assert json.loads((folder / "metrics.json").read_text()) == metrics
    for name in REPORT:
        if name.endswith(".png"):
            with Image.open(folder / name) as image:
                assert image.format == "PNG"
                if name == "learning_curves.png":
                    assert image.size == (1000, 400)  # two panels, at 100 dpi
    assert plt.get_fignums() == open_figures  # every figure it drew is closed


def test_a_bare_classifier_on_scaled_rows(pipe, metrics, sample):
    _, _, X_test, y_test = sample
    rows = FlattenScaler().fit_transform(X_test)
    assert evaluate_model(pipe[-1], rows, y_test) == metrics


def test_any_scikit_learn_classifier(sample, tmp_path):
    X, y, X_test, y_test = sample
    scaler = FlattenScaler().fit(X)
    clf = GaussianNB().fit(scaler.transform(X), y)
    rows = scaler.transform(X_test)
    metrics = evaluate_model(clf, rows, y_test, report_dir=tmp_path)
    assert metrics["accuracy"] == clf.score(rows, y_test)
    assert metrics["params"] == clf.get_params()
    assert metrics["n_iter"] is None and metrics["history"] is None
    # No training history, no learning curves.
    assert sorted(os.listdir(tmp_path)) == [n for n in REPORT if "learning" not in n]


def test_string_labels(sample):
    X, y, X_test, y_test = sample
    names = np.array(["zero", "one", "two", "three", "four"] * 2)
    pipe = make_mnist_pipeline(hidden_size=8, epochs=1, random_state=0)
    pipe.fit(X, names[y])
    metrics = evaluate_model(pipe, X_test, names[y_test])
    assert metrics["labels"] == sorted(set(names))
    assert sorted(metrics["per_class"]) == sorted(set(names))
    json.dumps(metrics)


def _bayes(X, y):
    """A quick classifier of rows in [0, 1] (no network to train)."""
    scaler = FlattenScaler().fit(X)
    return scaler, GaussianNB().fit(scaler.transform(X), y)


def test_labels_the_model_does_not_know(sample):
    X, y, X_test, y_test = sample
    scaler, clf = _bayes(X[y < 5], y[y < 5])
    rows = scaler.transform(X_test)
    # By default: a clear error naming the unknown labels and the fix.
    with pytest.raises(ValueError, match=r"labels the model does not know \(5, 6"):
        evaluate_model(clf, rows, y_test)
    with pytest.raises(ValueError, match="unknown_labels='skip'"):
        evaluate_model(clf, rows, y_test)
    # Skipped: the known rows are scored exactly as on their own.
    metrics = evaluate_model(clf, rows, y_test, unknown_labels="skip")
    known = y_test < 5
    alone = evaluate_model(clf, rows[known], y_test[known])
    assert metrics["data"] == {"n_test": known.sum(), "n_left_out": (~known).sum()}
    assert (
        metrics["accuracy"]
        == alone["accuracy"]
        == clf.score(rows[known], y_test[known])
    )
    assert metrics["log_loss"] == alone["log_loss"]
    assert metrics["labels"] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="unknown_labels must be"):
        evaluate_model(clf, rows, y_test, unknown_labels="drop")


def test_no_label_the_model_knows(sample):
    X, y, X_test, y_test = sample
    scaler, clf = _bayes(X, y + 10)
    with pytest.raises(ValueError) as info:
        evaluate_model(clf, scaler.transform(X_test), y_test, unknown_labels="skip")
    message = str(info.value)
    assert "classes 10, 11" in message and "labels are 0, 1" in message
    # Shifted labels that match the model are scored.
    metrics = evaluate_model(clf, scaler.transform(X_test), y_test + 10)
    assert metrics["labels"] == list(range(10, 20))


def test_string_classes_match_integer_labels_by_their_string_form(sample):
    X, y, X_test, y_test = sample
    scaler, clf = _bayes(X, y.astype(str))
    rows = scaler.transform(X_test)
    metrics = evaluate_model(clf, rows, y_test)
    assert metrics["accuracy"] == clf.score(rows, y_test.astype(str))
    assert metrics["labels"] == [str(d) for d in range(10)]
    assert metrics["data"]["n_left_out"] == 0
    # A subset of the digits, as strings: the others are left out.
    scaler, clf = _bayes(X[y < 5], y[y < 5].astype(str))
    metrics = evaluate_model(
        clf, scaler.transform(X_test), y_test, unknown_labels="skip"
    )
    assert metrics["data"]["n_left_out"] == (y_test >= 5).sum()


def test_an_unfitted_model_is_refused(sample):
    _, _, X_test, y_test = sample
    with pytest.raises(NotFittedError):
        evaluate_model(make_mnist_pipeline(), X_test, y_test)


def test_n_digits_must_be_a_count(pipe, sample):
    _, _, X_test, y_test = sample
    with pytest.raises(ValueError, match="n_digits must be an int >= 0; got -1"):
        evaluate_model(pipe, X_test, y_test, n_digits=-1)


def test_a_report_without_matplotlib_fails_first(pipe, sample, tmp_path, monkeypatch):
    _, _, X_test, y_test = sample
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails

    def must_not_predict(X):
        raise AssertionError("predicted before checking matplotlib")

    monkeypatch.setattr(pipe, "predict_proba", must_not_predict)
    with pytest.raises(ImportError, match=r"pip install 'skmnist\[plot\]'"):
        evaluate_model(pipe, X_test, y_test, report_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_a_full_disk_leaves_no_truncated_file(pipe, sample, tmp_path, monkeypatch):
    _, _, X_test, y_test = sample
    fsync = os.fsync

    def full_disk(fd):  # the disk fills up while misclassified.png is written
        if "misclassified.png" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, "No space left on device")
        fsync(fd)

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError) as raised:
        evaluate_model(pipe, X_test, y_test, report_dir=tmp_path / "new")
    assert raised.value.errno == errno.ENOSPC
    assert "misclassified.png" not in os.listdir(tmp_path / "new")
    # Over an earlier report, the earlier file stays whole; no temporary is left.
    monkeypatch.setattr(os, "fsync", fsync)
    evaluate_model(pipe, X_test[:50], y_test[:50], report_dir=tmp_path / "old")
    before = (tmp_path / "old" / "misclassified.png").read_bytes()
    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        evaluate_model(pipe, X_test, y_test, report_dir=tmp_path / "old")
    assert (tmp_path / "old" / "misclassified.png").read_bytes() == before
    assert not [n for n in os.listdir(tmp_path / "old") if n.endswith(".tmp")]


def _with_history(sample, history, **fitted):
    """A fitted classifier that records `history` as its training history."""
    X, y, _, _ = sample
    clf = GaussianNB().fit(X.reshape(len(X), -1)[:200], y[:200])
    clf.history_ = history
    for name, value in fitted.items():
        setattr(clf, name, value)
    return clf


def _lowest(sample, history, **fitted):
    _, _, X_test, y_test = sample
    clf = _with_history(sample, history, **fitted)
    return evaluate_model(clf, X_test.reshape(len(X_test), -1), y_test)[
        "lowest_val_loss"
    ]


def test_a_rise_of_validation_loss_is_named_with_its_fix(sample):
    # The tutorial's curve: lowest at epoch 2, then up by 50%.
    history = {"loss": [0.5, 0.3, 0.2, 0.1], "val_loss": [0.4, 0.2, 0.25, 0.3]}
    lowest = _lowest(sample, history)
    note = lowest.pop("note")
    assert lowest == {
        "epoch": 2,
        "val_loss": 0.2,
        "last_val_loss": 0.3,
        "rose_after": True,
    }
    assert "lowest at epoch 2 (0.2000) and rose to 0.3000 by epoch 4" in note
    assert "early_stopping=True" in note and "--early-stopping" in note


def test_a_rise_under_early_stopping_says_the_best_weights_were_kept(sample):
    history = {"loss": [0.5, 0.3, 0.2, 0.1], "val_loss": [0.4, 0.2, 0.25, 0.3]}
    lowest = _lowest(sample, history, best_epoch_=1)
    assert lowest["rose_after"] is True
    assert "early stopping kept the weights" in lowest["note"]
    assert "early_stopping=True" not in lowest["note"]


@pytest.mark.parametrize(
    "val_loss", [[0.4, 0.3, 0.2], [0.4, 0.2, 0.205]], ids=["falling", "noise"]
)
def test_no_note_when_validation_loss_did_not_rise(sample, val_loss):
    lowest = _lowest(sample, {"loss": [0.5, 0.4, 0.3], "val_loss": val_loss})
    assert lowest["rose_after"] is False and lowest["note"] is None
    assert lowest["epoch"] == 1 + val_loss.index(min(val_loss))


def test_no_lowest_val_loss_without_validation(metrics, sample):
    assert _lowest(sample, {"loss": [0.5, 0.4]}) is None
    assert metrics["lowest_val_loss"]["epoch"] in (1, 2)  # a real fit's


def test_a_report_never_replaces_a_special_file(pipe, sample, tmp_path):
    """A report folder holding a FIFO (or a folder) of a report file's name, or a
    report "folder" that is a file, is refused before anything is drawn or
    written; the FIFO stays a FIFO."""
    import stat

    _, _, X_test, y_test = sample
    report = tmp_path / "report"
    report.mkdir()
    os.mkfifo(report / "metrics.json")
    (report / "misclassified.png").mkdir()
    with pytest.raises(OSError, match="metrics.json.*named pipe|named pipe"):
        evaluate_model(pipe, X_test, y_test, report_dir=report)
    assert stat.S_ISFIFO(os.stat(report / "metrics.json").st_mode)
    os.unlink(report / "metrics.json")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        evaluate_model(pipe, X_test, y_test, report_dir=report)
    assert sorted(p.name for p in report.iterdir()) == ["misclassified.png"]
    (tmp_path / "file").write_text("kept")
    with pytest.raises(OSError, match="not a folder for the report"):
        evaluate_model(pipe, X_test, y_test, report_dir=tmp_path / "file")
    assert (tmp_path / "file").read_text() == "kept"
