"""The family of errors a user can fix.

Every exception that skmnist raises for a user's mistake (a bad file, a bad
option, data that is not MNIST, a training that diverged) derives from
:class:`UserError` as well as from the built-in class it always had
(``ValueError``, ``OSError``), so ``except ValueError`` keeps working. The
command line prints these as one line; anything else escaping it is a bug and
keeps its traceback. This module imports nothing: every room may use it.
"""

__all__ = ["MissingExtra", "TrainingInterrupted", "UnsupportedBackend", "UserError"]


class UserError(Exception):
    """Marker base class: the message alone tells the user what to fix."""


class MissingExtra(UserError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


class UnsupportedBackend(UserError, RuntimeError):
    """Keras is set to a backend that skmnist does not train on."""


class TrainingInterrupted(UserWarning):
    """A fit stopped by ``KeyboardInterrupt`` (Ctrl+C) after its first epoch.

    Warned, not raised: the estimator keeps the weights reached and the
    finished epochs, as scikit-learn's ``MLPClassifier`` does. A program that
    must not go on with a partial model (``skmnist train``) turns it into an
    error with a warnings filter. ``n_epochs`` of the fit's ``epochs`` finished,
    counting any resumed from an earlier fit.
    """

    def __init__(self, message, n_epochs=None, epochs=None):
        super().__init__(message)
        self.n_epochs = n_epochs
        self.epochs = epochs


# The Keras backends that skmnist trains and predicts on.
BACKENDS = ("tensorflow", "jax")


def unsupported_backend(backend):
    """The error for a Keras backend outside `BACKENDS`, naming the fix."""
    return UnsupportedBackend(
        f"skmnist runs on Keras's 'tensorflow' and 'jax' backends, but "
        f"KERAS_BACKEND is {backend!r}: set KERAS_BACKEND=tensorflow or "
        "KERAS_BACKEND=jax (or unset it) before the first import of Keras."
    )
