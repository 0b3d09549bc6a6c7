"""The ``skmnist`` command: fetch MNIST, train, evaluate and predict from a shell.

::

    skmnist fetch [--data-home DIR] [--mirror URL]
    skmnist train [--sample] [--hidden-size N] [--epochs N] ... \\
                  [--out MODEL] [--report-dir DIR]
    skmnist evaluate MODEL [--sample] [--data-home DIR] [--report-dir DIR]
    skmnist predict MODEL FILE [FILE ...] [--json] [--top-k K]
    skmnist serve MODEL [--host ADDR] [--port N] [--allow-host NAME] [--access-log]
    skmnist info MODEL

``python -m skmnist`` is the same command. It only composes public names of the
library (:func:`~skmnist.fetch_mnist`, :func:`~skmnist.load_mnist_sample`,
:func:`~skmnist.make_mnist_pipeline`, :func:`~skmnist.evaluate_model`,
:func:`~skmnist.load_digit_image`, :func:`~skmnist.save_model`, joblib) and the
internal API the library keeps for its front ends, :mod:`skmnist._frontend`. One
module per command (``fetch``, ``train``, ...) holds its parser and its run;
``_main`` registers them and turns errors into exit statuses.

Failures the user can fix print one line, ``skmnist: error: ...``, on stderr and
exit with status 2; anything else is a bug, raised with its traceback (see
:func:`main`). Importing this module, ``skmnist --help`` and ``skmnist fetch``
start neither TensorFlow nor matplotlib.
"""

from ._main import build_parser, main

__all__ = ["build_parser", "main"]
