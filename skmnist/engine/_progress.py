"""Training progress as a fit prints it: a bar that moves, or one line per epoch.

Keras's own progress bar writes ANSI colours and backspaces wherever the output
goes (it takes every POSIX process for a terminal), and redraws at most every
0.05 s, so a log file fills with control characters and a short epoch shows one
step count. This one draws a bar only where a person watches it live (a
terminal or a notebook), and writes one plain line per epoch everywhere else.
"""

import shutil
import sys
import time

from ._runtime import keras

__all__ = ["LIVE_UPDATES_PER_EPOCH", "ProgressBar", "is_live", "steps_per_call"]

#: Compiled calls per epoch when a live bar shows the epoch's progress: enough
#: for the bar to move smoothly, few enough that the calls' overhead is lost in
#: the noise of the reference fit (benchmarks/progress_bar.py: median ratio
#: 0.998 on a 2-core machine, 21 step counts drawn per epoch of 422 steps).
LIVE_UPDATES_PER_EPOCH = 20
_BAR_WIDTH = 20


def is_live(verbose, stream=None):
    """Whether ``verbose`` asks for a bar that a person watches move in ``stream``.

    With ``verbose=1``, on a terminal or in a Jupyter notebook (whose output
    area redraws a line on ``"\\r"``); anything else, a file or a pipe, gets one
    plain line per epoch.
    """
    if verbose != 1:
        return False
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        tty = bool(isatty()) if isatty is not None else False
    except ValueError:  # a closed stream
        tty = False
    return tty or "ipykernel" in sys.modules


def steps_per_call(steps_per_execution, n_steps, verbose):
    """Batches per compiled call for ``steps_per_execution`` in an epoch of ``n_steps``.

    ``"auto"`` runs a whole epoch per call (the fastest), or with a live progress
    bar about :data:`LIVE_UPDATES_PER_EPOCH` calls per epoch so that the bar
    moves; ``"epoch"`` always a whole epoch; an int that many batches.
    """
    if steps_per_execution == "epoch":
        return n_steps
    if steps_per_execution == "auto":
        if is_live(verbose):
            return max(1, -(-n_steps // LIVE_UPDATES_PER_EPOCH))
        return n_steps
    return steps_per_execution


class ProgressBar(keras.callbacks.Callback):
    """A fit's progress on ``sys.stdout`` (as found when training begins).

    Parameters
    ----------
    epochs : int
        The number of the last epoch (counting from 1), for "Epoch 3/20".
    steps : int
        Batches per epoch.
    live : bool
        True to redraw one line as batches finish (with ``"\\r"``, no other
        control character, cut to the terminal's width); False to write each
        epoch's line once, when the epoch ends.
    """

    def __init__(self, epochs, steps, live):
        super().__init__()
        self.epochs, self.steps, self.live = epochs, steps, live
        self._stream = None
        self._open = False  # a live line is drawn and not yet ended

    def on_train_begin(self, logs=None):
        self._stream = sys.stdout

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._start = epoch, time.perf_counter()
        if self.live:
            self._draw(0, {})

    def on_train_batch_end(self, batch, logs=None):
        if self.live:
            self._draw(batch + 1, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        self._draw(self.steps, logs or {}, final=True)

    def on_train_end(self, logs=None):
        self.close()

    def close(self):
        """End a live line left open (by an interruption or an error)."""
        if self._open:
            self._write("\n")

    def _draw(self, done, logs, final=False):
        elapsed = time.perf_counter() - self._start
        head = f"Epoch {self._epoch + 1}/{self.epochs}"
        count = f"{done:>{len(str(self.steps))}}/{self.steps}"
        parts = [head, count]
        if self.live:
            filled = _BAR_WIDTH * done // max(self.steps, 1)
            bar = "=" * filled + (">" if filled < _BAR_WIDTH else "")
            parts[1] += f" [{bar:.<{_BAR_WIDTH}}]"
        if final:
            parts.append(f"{elapsed:.0f}s {_per_step(elapsed, self.steps)}")
        elif done:
            parts.append(f"ETA {elapsed / done * (self.steps - done):.0f}s")
        parts += [f"{key}: {_number(value)}" for key, value in logs.items()]
        line = " - ".join(parts)
        if not self.live:
            self._write(line + "\n")
            return
        width = shutil.get_terminal_size().columns - 1
        # Spaces clear what a longer line drawn before left on the screen. A line
        # redrawn must fit the terminal ("\r" returns to the start of its last
        # row only); the epoch's last one is whole, with its validation scores.
        text = line if final else line[:width]
        self._write(f"\r{text:<{width}}" + ("\n" if final else ""))
        self._open = not final

    def _write(self, text):
        self._stream.write(text)
        self._stream.flush()
        self._open = False


def _per_step(seconds, steps):
    per_step = seconds / max(steps, 1)
    if per_step >= 1:
        return f"{per_step:.0f}s/step"
    if per_step >= 1e-3:
        return f"{per_step * 1e3:.0f}ms/step"
    return f"{per_step * 1e6:.0f}us/step"


def _number(value):
    return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.4e}"
