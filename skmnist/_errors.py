"""The family of errors a user can fix.

Every exception that skmnist raises for a user's mistake (a bad file, a bad
option, data that is not MNIST, a training that diverged) derives from
:class:`UserError` as well as from the built-in class it always had
(``ValueError``, ``OSError``), so ``except ValueError`` keeps working. The
command line prints these as one line; anything else escaping it is a bug and
keeps its traceback. This module imports nothing: every room may use it.
"""

__all__ = ["UserError"]


class UserError(Exception):
    """Marker base class: the message alone tells the user what to fix."""
