"""scikit-learn's callbacks (``sklearn.callback``, scikit-learn >= 1.9) told of
each epoch of a fit.

scikit-learn reports a fit to its callbacks as a task with subtasks; here each
epoch is a subtask of the fit, so that a ``ProgressBar`` set on a grid search
shows candidates, folds and epochs, and a ``ScoringMonitor`` scores each epoch's
network. The epochs reach scikit-learn through the epoch loop's Keras callbacks
(which see the weights at each epoch's end), as an observer that never makes a
fit unresumable: epochs resumed from a shorter fit's end state are reported as
done, without a network to score (their weights were never kept).
"""

from .._fixes import has_sklearn_callbacks, stable_keras_names
from ..engine._runtime import keras

__all__ = ["EpochTasks", "epoch_tasks"]


def epoch_tasks(estimator, X, y, epochs):
    """The fit's callback context, begun, and its reporter of epochs.

    Returns (None, None) where scikit-learn has no callbacks or none is set:
    then a fit pays nothing for them.
    """
    if not hasattr(estimator, "_init_callback_context"):
        return None, None
    context = estimator._init_callback_context(max_subtasks=epochs)
    context.call_on_fit_task_begin(estimator=estimator, X=X, y=y)
    if not has_sklearn_callbacks(estimator):
        return context, None
    return context, EpochTasks(estimator, context, X, y)


class EpochTasks(keras.callbacks.Callback):
    """A Keras callback that reports each epoch as a subtask of ``context``.

    Parameters
    ----------
    estimator : MNISTClassifier
        The estimator being fitted.
    context : sklearn.callback.CallbackContext
        The fit's root context.
    X, y : array-like
        The data of the fit, as given to it (the callbacks score on them).
    """

    def __init__(self, estimator, context, X, y):
        super().__init__()
        self._estimator, self._context = estimator, context
        self._data = {"X": X, "y": y}
        self._task = None

    def resumed(self, n_epochs):
        """Report `n_epochs` epochs resumed from a kept end state as done."""
        for _ in range(n_epochs):
            task = self._context.subcontext(task_name="epoch")
            task.call_on_fit_task_begin(estimator=self._estimator, **self._data)
            task.call_on_fit_task_end(estimator=self._estimator, **self._data)

    def on_epoch_begin(self, epoch, logs=None):
        self._task = self._context.subcontext(task_name="epoch")
        self._task.call_on_fit_task_begin(estimator=self._estimator, **self._data)

    def on_epoch_end(self, epoch, logs=None):
        stop = self._task.call_on_fit_task_end(
            estimator=self._estimator,
            reconstruction_attributes=self._snapshot,
            **self._data,
        )
        if stop:
            self.model.stop_training = True

    def _snapshot(self):
        """The fitted attributes of an estimator that predicts with this epoch's
        weights (called only by callbacks that ask for one)."""
        with stable_keras_names():
            model = keras.models.clone_model(self.model)
        model.set_weights(self.model.get_weights())
        return {"model_": model}
