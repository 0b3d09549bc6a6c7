"""The examples' data, switched from outside them: ``SKMNIST_EXAMPLE_SIZE``.

Each script in ``examples/`` is written as a user would write it: the full MNIST
from :func:`skmnist.fetch_mnist`, downloaded if need be, and the network or grid
it shows. Where they run without a user (the docs build, ``docs/conf.py``; the
tests, ``tests/test_examples.py``) the data comes from here instead, by
``SKMNIST_EXAMPLE_SIZE``, applied before each example runs:

``full`` (or unset)
    Nothing changes: what ``python examples/NAME.py`` does.
``docs`` (the docs build)
    The full MNIST when it is on disk already (``SKMNIST_DATA_HOME``, as CI sets
    it, or the cache); otherwise, as ``small``: the build downloads nothing.
``small`` (the tests)
    ``skmnist.fetch_mnist`` gives the sample shipped with skmnist (2,000 training
    and 500 test digits), and says so on standard output, "(the packaged
    sample)", so that the output of a run on it is never taken for MNIST's.

Run an example on the sample yourself with
``SKMNIST_EXAMPLE_SIZE=small python docs/sphinxext/example_size.py examples/NAME.py``.
"""

import os
import runpy
import sys

SIZES = ("full", "docs", "small")

_ORIGINAL = {}


def apply(size=None):
    """Make ``skmnist.fetch_mnist`` give the data `size` calls for.

    Parameters
    ----------
    size : {"full", "docs", "small"}, default=None
        The examples' size; if None, ``SKMNIST_EXAMPLE_SIZE``, else "full".

    Returns
    -------
    data : {"MNIST", "the packaged sample"}
        Where the examples' data now comes from.
    """
    import skmnist
    from skmnist.datasets import MNISTFetchError

    size = size or os.environ.get("SKMNIST_EXAMPLE_SIZE") or "full"
    if size not in SIZES:
        raise ValueError(f"SKMNIST_EXAMPLE_SIZE={size!r} is not one of {SIZES}")
    fetch_mnist = _ORIGINAL.setdefault("fetch_mnist", skmnist.fetch_mnist)
    skmnist.fetch_mnist = fetch_mnist  # undo an earlier apply
    if size == "docs":
        try:
            fetch_mnist(subset="test", download_if_missing=False)
            return "MNIST"
        except MNISTFetchError:
            size = "small"
    if size == "full":
        return "MNIST"
    skmnist.fetch_mnist = _sample_instead
    return "the packaged sample"


def _sample_instead(subset="train", *, return_X_y=False, **ignored):
    """fetch_mnist's stand-in: the packaged sample's `subset`, said aloud."""
    from skmnist import load_mnist_sample

    data = load_mnist_sample(subset=subset, return_X_y=return_X_y)
    n = len(data[1] if return_X_y else data.target)
    print(
        f"fetch_mnist(subset={subset!r}): {n:,} digits of the sample shipped "
        "with skmnist instead of MNIST (the packaged sample)"
    )
    return data


def reset(gallery_conf, fname, when=None):
    """sphinx-gallery's ``reset_modules`` hook: the size before each example, and
    skmnist's own fetch_mnist back after it (the API pages document that one)."""
    apply("full" if when == "after" else None)


if __name__ == "__main__":
    # python example_size.py SCRIPT [ARGS...]: run SCRIPT at SKMNIST_EXAMPLE_SIZE,
    # as `python SCRIPT ARGS` would (as __main__, its folder first on sys.path).
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    apply()
    runpy.run_path(script, run_name="__main__")
