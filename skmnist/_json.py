"""Plain JSON values: the conversions of NumPy's and Python's values into
what ``json.dumps`` writes: :func:`plain` for what is shown (metrics, ``skmnist
predict --json``, the service's replies), :func:`exact` for what is read back
(model files); and :func:`printable`, the one escape of text from files and
file names for a terminal. This module needs NumPy only.
"""

import math

import numpy as np

__all__ = ["exact", "plain", "printable"]


def plain(value):
    """`value` as JSON can hold it.

    NumPy scalars become Python's, arrays, tuples and lists become lists, a
    dict's keys become strings, a float that is not finite (NaN, inf) becomes
    None (standard JSON has no NaN), and anything else without a JSON form
    its ``repr``.
    """
    if hasattr(value, "tolist") and hasattr(value, "ndim"):
        value = value.tolist()  # a NumPy scalar or array, as Python values
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    return repr(value)


def exact(value):
    """``json.dumps``'s `default` for data read back as it was (model files): a
    NumPy scalar as Python's, a NumPy scalar type or dtype as its name, and a
    TypeError for anything else. Unlike :func:`plain`, it writes no repr and
    changes no value (a NaN stays NaN, JSON's extension that Python reads)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, type) and issubclass(value, np.generic):
        value = np.dtype(value)
    if isinstance(value, np.dtype):
        return value.name  # dtype parameters take names too
    raise TypeError(f"save_model cannot store {value!r:.100}: it is not data")


def printable(text):
    """`text` with every character a terminal would act on escaped.

    Text that came from a model file (labels, step names, versions) or a file
    name is data: printed raw, an escape sequence could recolour or clear the
    terminal, retitle its window, or a newline forge a line of output. Control
    and format characters, line and paragraph separators and spaces other than
    " " (what :meth:`str.isprintable` refuses) are written as Python writes
    them in a string literal (``\\x1b``, ``\\n``, ``\\u202e``).
    """
    text = str(text)
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
        for c in text
    )
