"""``python -m skmnist.cli``: the ``skmnist`` command, as ``python -m skmnist``."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
