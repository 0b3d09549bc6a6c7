"""What the commands share: their error, the data and model arguments, and checks
made before any work so that a mistake fails before minutes of training."""

import contextlib
import os
import tempfile

from .._errors import UserError

PROG = "skmnist"

TRUST_WARNING = (
    "Warning: model files ending in .joblib, .pkl or .pickle are pickles, loaded with "
    "joblib: loading one runs code stored in it, so load only files you trust. "
    "Other files are read with skmnist.load_model, which unpickles nothing."
)


class CommandError(UserError):
    """A command line that cannot be carried out, reported as one line on stderr."""


def add_data_options(parser, *, sample):
    """``--sample`` (if `sample`), ``--data-home`` and ``--mirror``."""
    data = parser.add_argument_group("data")
    if sample:
        data.add_argument(
            "--sample",
            action="store_true",
            help="use the small sample of MNIST shipped with skmnist (2,000 "
            "training and 500 test images) instead of the full data set",
        )
    data.add_argument(
        "--data-home",
        metavar="DIR",
        help="folder holding (or to download) mnist.npz. Default: "
        "$SKMNIST_DATA_HOME, else ~/scikit_learn_data/mnist",
    )
    data.add_argument(
        "--mirror",
        metavar="URL",
        help="server to download mnist.npz from before the official URL "
        "(<URL>/mnist.npz, checked against the official SHA-256). "
        "Default: $SKMNIST_MIRROR",
    )


def add_model_argument(parser):
    """The MODEL argument of a command that reads any model file."""
    parser.add_argument(
        "model",
        metavar="MODEL",
        help="model file from 'skmnist train --out' (or joblib.dump / "
        "skmnist.save_model of a fitted skmnist pipeline or MNISTClassifier). "
        "Only load .joblib/.pkl files you trust: they run code when loaded",
    )


def load_data(args, subset):
    """MNIST's `subset` split, or the packaged sample's with ``--sample``."""
    if getattr(args, "sample", False):
        from .. import load_mnist_sample

        return load_mnist_sample(subset=subset, return_X_y=True)
    from .. import fetch_mnist

    return fetch_mnist(
        subset=subset, data_home=args.data_home, mirror=args.mirror, return_X_y=True
    )


def load_model(path, *, light=False):
    """The fitted skmnist model in the file at `path`, taking 0-255 images;
    with `light`, predicting in NumPy where it can (no TensorFlow)."""
    from .._frontend import load_image_model

    return load_image_model(path, allow_pickle=True, light=light)


def check_file_can_be_written(path):
    """Refuse an output file that could not be written after the work is done."""
    from .._frontend import check_write_target

    target, _ = check_write_target(path)  # a folder, FIFO or device is refused
    if os.path.exists(target) and not os.access(target, os.W_OK):
        raise CommandError(f"cannot write the model to {path}: the file is read-only")
    _probe(os.path.dirname(target), f"the model to {path}")


def check_report_dir(folder):
    """Refuse a report folder that could not be written (or matplotlib missing)."""
    from .._frontend import check_report_dir, require_matplotlib

    # Before the folder is made: a missing matplotlib leaves nothing behind.
    try:
        require_matplotlib("--report-dir")
    except ImportError as exc:
        raise CommandError(str(exc)) from None
    check_report_dir(folder)
    target = f"the report to {folder}"
    # Made to learn now whether it can be, with the system's own reason if not,
    # then removed: the report makes it when it writes, so a run that fails
    # before then (no data, a refused option) leaves no empty folder behind.
    made = []
    path = os.path.abspath(folder)
    while not os.path.lexists(path):
        made.append(path)  # innermost first, the order to remove them in
        path = os.path.dirname(path)
    try:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"cannot write {target}: {_reason(exc)}") from None
        _probe(folder, target)
    finally:
        for path in made:
            with contextlib.suppress(OSError):
                os.rmdir(path)


def epochs_text(n):
    """'1 epoch', '2 epochs': what the output says of `n` epochs."""
    return f"{n} epoch" if n == 1 else f"{n} epochs"


def _probe(folder, target):
    """Create and remove a file in `folder`: whether it can be written, whatever
    the reason it cannot (permissions, a read-only file system, ...)."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".skmnist-probe-"):
            pass
    except OSError as exc:
        raise CommandError(f"cannot write {target}: {_reason(exc)}") from None


def _reason(exc):
    return exc.strerror or str(exc)


def one_line(exc):
    """An exception's message on one line, naming the file of an OSError, its
    text from files and file names escaped (see `say`)."""
    from .._frontend import printable

    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        message = f"{exc.filename}: {exc.strerror}"
    else:
        message = str(exc) or type(exc).__name__
    lines = (part.strip() for part in message.splitlines() if part.strip())
    return printable(" ".join(lines))


def say(line, file=None):
    """Print a line that holds text from a file or a file name: escaped, so that
    no label, step name or path can act on the terminal or forge a line."""
    from .._frontend import printable

    print(printable(line), file=file)
