"""The library's internal API for its own front ends: the command line and the service.

:mod:`skmnist.cli` and :mod:`skmnist.serve` compose public names of skmnist and
these, which a user of the library does not need: how a model file is opened for
0-255 images, what an array of 0-255 images means (whatever its source), how a
target is checked before anything is computed, what counts as a user's mistake.
Each is defined in its room and only gathered here, so that the front ends import
one documented module instead of the rooms' private ones. It sits above
``modelfile/`` and ``report/`` and below ``cli/`` and ``serve/``. Importing it
imports no TensorFlow, Keras or scikit-learn (the light ``predict`` path goes
through it): what needs them is imported when called.
"""

from ._errors import TrainingInterrupted, UserError
from ._files import check_write_target, write_atomically
from ._json import plain, printable
from .images._arrays import InputError, mnist_images
from .modelfile._image_model import (
    NotAnImageModel,
    as_image_model,
    check_model_path,
    check_model_source,
    is_pickle,
    load_image_model,
)
from .modelfile._reader import read_model_file

__all__ = [
    "InputError",
    "NotAnImageModel",
    "TrainingInterrupted",
    "UserError",
    "as_image_model",
    "check_model_path",
    "check_model_source",
    "check_params",
    "check_report_dir",
    "check_write_target",
    "is_pickle",
    "is_users_mistake",
    "load_image_model",
    "mnist_images",
    "plain",
    "printable",
    "read_model_file",
    "require_matplotlib",
    "write_atomically",
]


def is_users_mistake(exc):
    """Whether `exc` reports something the user can fix, in its message alone.

    skmnist's user errors, an ``OSError`` (a file or folder the user named, which
    its message names), and scikit-learn's error for a refused parameter value.
    Anything else is a bug, to be shown with its traceback.
    """
    if isinstance(exc, (UserError, OSError)):
        return True
    from ._fixes import InvalidParameterError

    return isinstance(exc, InvalidParameterError)


def check_params(estimator):
    """Check an unfitted MNISTClassifier's parameters, as its ``fit`` would first,
    so that a command refuses a bad option before it loads any data."""
    estimator._check_params()


def check_report_dir(folder):
    """Refuse a report folder that ``evaluate_model`` could not write."""
    from .report._evaluation import check_report_dir

    check_report_dir(folder)


def require_matplotlib(what):
    """Raise the missing extra's error, naming `what` needs it, without matplotlib."""
    from .report._plotting import _check_matplotlib

    _check_matplotlib(what)
