"""Plain JSON values: the one conversion of NumPy's and Python's values into
what ``json.dumps`` writes as standard JSON.

Used by :func:`~skmnist.evaluate_model`'s metrics, ``skmnist predict --json``
and the service's replies. This module needs NumPy only.
"""

import math

__all__ = ["plain"]


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
