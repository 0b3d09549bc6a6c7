"""The ``skmnist`` command's entry point: its parser, one subcommand per module,
and what becomes of an error."""

import argparse
import contextlib
import sys
import warnings

from .. import __version__
from .._frontend import is_users_mistake
from . import evaluate, export, fetch, info, predict, serve, train
from ._common import PROG, one_line

__all__ = ["build_parser", "main"]

# Each command's module: add_parser(commands) registers it, run(args) carries it
# out. A new command is a module here and one entry in this tuple.
COMMANDS = (fetch, train, evaluate, predict, serve, info, export)


def main(argv=None):
    """Run the ``skmnist`` command.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments, without the program name; if None, ``sys.argv[1:]``.

    Returns
    -------
    status : int
        The exit status: 0 on success, 1 when ``predict`` could not read some
        of its inputs (it answers the others), 2 for a usage error or a failure the
        user can fix (reported as one line ``skmnist: error: ...`` on stderr),
        130 when interrupted.

    Raises
    ------
    Exception
        Anything but a failure the user can fix, which is reported in one line:
        a usage error, an option's value the classifier refuses (scikit-learn's
        ``InvalidParameterError``), an ``OSError`` (``MNISTFetchError`` is
        one), or an error of a class skmnist defines to tell users what went
        wrong (``ModelFileError``, ``MNISTFormatError``, a training that
        diverged, ...). Anything else, a plain ``ValueError`` included, is a
        bug and raised with its traceback, except a ValueError about a user's
        own file (a digit picture, a pickled model).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        with _tidy_warnings():
            status = args.run(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not is_users_mistake(exc):
            raise
        sys.stdout.flush()
        print(f"{PROG}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    return status or 0  # predict: 1 when some inputs failed


class _Parser(argparse.ArgumentParser):
    """A parser whose usage errors are one line, as every error of the command."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser():
    """The argument parser of the ``skmnist`` command, with its subcommands."""
    parser = _Parser(
        prog=PROG,
        description=(
            "The classic Keras MNIST multilayer perceptron as a scikit-learn "
            "estimator: fetch MNIST, train the model, evaluate it, and read "
            "digits from images."
        ),
        epilog=f"Run '{PROG} COMMAND --help' for the options of each command.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    commands = parser.add_subparsers(
        title="commands",
        dest="command",
        required=True,
        metavar="COMMAND",
        parser_class=_Parser,
    )
    for command in COMMANDS:
        command.add_parser(commands).set_defaults(run=command.run)
    return parser


@contextlib.contextmanager
def _tidy_warnings():
    """Show warnings as ``skmnist: warning: ...`` lines, then restore the hook."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{PROG}: warning: {one_line(message)}", file=file or sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield
