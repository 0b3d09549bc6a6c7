"""What a fit prints: a bar that moves on a terminal, else one line per epoch.

A terminal is a pseudo-terminal (``os.openpty``) standing in for ``sys.stdout``;
what the fit writes is read from its other end.
"""

import os
import re
import sys
import threading

import keras
import numpy as np
import pytest

from skmnist import MNISTClassifier, load_mnist_sample

# Any control character but the newline: carriage returns, backspaces, ANSI codes.
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


@pytest.fixture(scope="module")
def digits():
    X, y = load_mnist_sample(return_X_y=True)
    return X.reshape(len(X), -1).astype(np.float32) / 255, y


def _fit(X, y, **params):
    # 1,800 training rows in batches of 16: 113 steps per epoch.
    params = {"hidden_size": 16, "epochs": 2, "batch_size": 16, **params}
    return MNISTClassifier(random_state=0, **params).fit(X, y)


class _Terminal:
    """``sys.stdout`` on a pseudo-terminal for the block; ``text``: what it showed."""

    def __init__(self, monkeypatch):
        self._monkeypatch = monkeypatch
        self._chunks = []

    def __enter__(self):
        master, slave = os.openpty()
        self._master = master
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._stdout = open(slave, "w", encoding="utf-8")
        self._monkeypatch.setattr(sys, "stdout", self._stdout)
        self._monkeypatch.setenv("COLUMNS", "200")
        return self

    def _read(self):
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            self._chunks.append(chunk)

    def __exit__(self, *exc):
        self._monkeypatch.undo()
        self._stdout.close()
        self._reader.join(timeout=10)
        os.close(self._master)
        self.text = b"".join(self._chunks).decode()


def _epoch_texts(text):
    """What was drawn for each epoch: the text from one "Epoch k/" to the next."""
    return re.split(r"(?=Epoch \d+/)", text.replace("\r\n", "\n"))[1:]


def _step_counts(epoch_text, steps):
    return [int(n) for n in re.findall(rf"\b(\d+)/{steps}\b", epoch_text)]


def test_bar_moves_within_each_epoch_on_a_terminal(digits, monkeypatch):
    X, y = digits
    with _Terminal(monkeypatch) as terminal:
        _fit(X, y, verbose=1)
    first, second = (
        [t for t in _epoch_texts(terminal.text) if t.startswith(f"Epoch {k}/2")]
        for k in (1, 2)
    )
    for drawn in (first, second):
        counts = sorted(set(_step_counts("".join(drawn), 113)))
        assert len(counts) >= 10, counts
        assert counts[0] == 0 and counts[-1] == 113
    assert "\r" in terminal.text and "\x1b" not in terminal.text
    # Each epoch's line ends once, with its validation scores.
    lines = terminal.text.replace("\r\n", "\n").split("\n")
    finished = [line.rpartition("\r")[2] for line in lines if line.strip()]
    assert len(finished) == 2 and all("val_loss: " in line for line in finished)


def test_moving_bar_trains_the_same_model(digits, monkeypatch):
    # The bar runs an epoch in many compiled calls: the same steps, the same sums.
    X, y = digits
    quiet = _fit(X, y)
    with _Terminal(monkeypatch):
        watched = _fit(X, y, verbose=1)
    assert watched.history_ == quiet.history_
    for a, b in zip(watched.model_.variables, quiet.model_.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


class _CallCounter(keras.callbacks.Callback):
    """The compiled calls per epoch, as batch-level callbacks hear of them."""

    def on_epoch_begin(self, epoch, logs=None):
        self.calls = 0

    def on_train_batch_end(self, batch, logs=None):
        self.calls += 1


@pytest.mark.parametrize(
    "steps_per_execution, verbose, calls",
    [
        ("auto", 1, range(10, 21)),  # about 20 calls, for a bar that moves
        ("auto", 2, [1]),
        ("auto", 0, [1]),
        ("epoch", 1, [1]),
        (40, 1, [3]),
    ],
)
def test_steps_per_call_on_a_terminal(
    digits, monkeypatch, steps_per_execution, verbose, calls
):
    # Only "auto" with a live bar splits an epoch; a value that is set keeps its
    # meaning.
    X, y = digits
    counter = _CallCounter()
    with _Terminal(monkeypatch):
        _fit(
            X,
            y,
            epochs=1,
            verbose=verbose,
            steps_per_execution=steps_per_execution,
            callbacks=[counter],
        )
    assert counter.calls in calls


@pytest.mark.parametrize("verbose", [1, 2])
def test_one_plain_line_per_epoch_in_a_file(digits, capfd, verbose):
    X, y = digits
    _fit(X, y, epochs=3, verbose=verbose)
    out = capfd.readouterr().out
    assert not CONTROL.search(out), repr(out[:300])
    lines = out.splitlines()
    assert len(lines) == 3
    for k, line in enumerate(lines, 1):
        head, *metrics = line.split(" - ")[2:]
        assert line.startswith(f"Epoch {k}/3 - 113/113 - "), line
        assert re.fullmatch(r"\d+s \d+[mu]?s/step", head), line
        # In the order Keras logs them, which changed between Keras versions.
        pattern = r"(val_)?(loss|accuracy): \d\.\d{4}"
        assert all(re.fullmatch(pattern, m) for m in metrics), line
        names = sorted(m.split(":")[0] for m in metrics)
        assert names == ["accuracy", "loss", "val_accuracy", "val_loss"], line


def test_verbose_2_writes_no_bar_on_a_terminal(digits, monkeypatch):
    X, y = digits
    with _Terminal(monkeypatch) as terminal:
        _fit(X, y, verbose=2)
    assert not CONTROL.search(terminal.text.replace("\r\n", "\n"))
    assert len(terminal.text.splitlines()) == 2


def test_silent_with_verbose_0(digits, capfd):
    X, y = digits
    _fit(X, y, epochs=1)
    assert capfd.readouterr().out == ""
