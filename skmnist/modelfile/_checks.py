"""The checks of a model file's parameters and history, in plain Python.

Part of the one reader (:mod:`skmnist.modelfile._reader`): the classifier's
parameters as MNISTClassifier checks them (its constraints' table,
:mod:`skmnist.estimator._parameters`), the optimizer a file may name, the
class weights against the classes, and the history a fit records.
"""

import math

import numpy as np

from ..estimator._parameters import (
    DEFAULTS,
    OPTIMIZERS,
    PARAMETERS,
    check_parameter,
    optimizer_class,
)
from ..network import ACTIVATIONS

__all__ = ["check_history", "check_params", "is_real", "require"]


def check_params(params, classes):
    """The classifier's parameters (in place: the missing ones get their
    defaults) checked as MNISTClassifier checks them
    (its constraints, a file's optimizer, the class weights against the
    classes), in plain Python; returns the optimizer's (class name, config)."""
    unknown = sorted(set(params) - set(PARAMETERS))
    problem = f"its classifier has parameters {unknown!r:.100} that MNISTClassifier"
    require(not unknown, f"{problem} does not have")
    # A file written before a parameter existed: its default, as
    # MNISTClassifier(**params) gives it (in place: every reader sees it).
    for name in PARAMETERS.keys() - params.keys():
        params[name] = DEFAULTS[name]
    for name in PARAMETERS:
        if name != "optimizer":
            check_parameter(name, params[name])
    require(
        params["callbacks"] is None,
        "its 'callbacks' parameter is not None: files hold no callbacks",
    )
    activation = params["activation"]
    require(
        activation in ACTIVATIONS,
        f"activation={activation!r:.50} is not one of the activations skmnist "
        f"computes ({', '.join(sorted(ACTIVATIONS))})",
    )
    ok = not (params["early_stopping"] and params["validation_split"] == 0)
    require(ok, "early_stopping=True needs validation_split > 0")
    optimizer = _optimizer(params["optimizer"])
    class_weight = params["class_weight"]
    if isinstance(class_weight, dict):
        labels = set(classes.tolist())
        unknown = [key for key in class_weight if key not in labels]
        require(
            not unknown,
            f"class_weight has keys {unknown!r:.100} that are not classes of y",
        )
        bad = {k: v for k, v in class_weight.items() if not is_real(v) or v < 0}
        require(
            not bad, f"class_weight values must be finite numbers >= 0: {bad!r:.100}"
        )
    return optimizer


def _optimizer(optimizer):
    """(Keras class name, config) of a file's optimizer: a name, or a built-in
    optimizer's class and config of plain numbers, strings and None."""
    if isinstance(optimizer, str):
        cls = optimizer_class(optimizer)
        require(
            cls is not None,
            f"optimizer={optimizer!r:.50} is not one whose state skmnist files "
            f"keep: {', '.join(name for name in OPTIMIZERS.values() if name)}",
        )
        return cls, {}
    ok = isinstance(optimizer, dict) and set(optimizer) == {"class", "config"}
    ok = ok and isinstance(optimizer["class"], str) and optimizer["class"] in OPTIMIZERS
    config = optimizer.get("config") if ok else None
    ok = ok and isinstance(config, dict)
    values = config.values() if ok else []
    ok = ok and all(
        v is None or isinstance(v, (str, bool)) or is_real(v) for v in values
    )
    rate = config.get("learning_rate", 1.0) if ok else None
    ok = ok and is_real(rate) and rate > 0
    require(ok, f"its optimizer {optimizer!r:.100} is not a built-in one")
    return optimizer["class"], config


def is_real(value):
    """Whether `value` is a real finite number (not a bool, not a string)."""
    real = isinstance(value, (int, float, np.integer, np.floating))
    return real and not isinstance(value, bool) and math.isfinite(value)


def check_history(key, values):
    """One metric's values as a fit records them: a list of finite real
    numbers (a loss >= 0, an accuracy within [0, 1]), as floats."""
    ok = isinstance(values, list) and all(is_real(x) for x in values)
    require(ok, f"its history_ holds {values!r:.50}, not a list of finite numbers")
    values = [float(x) for x in values]
    if key.endswith("loss"):
        low, high = 0.0, math.inf
    else:
        low, high = (0.0, 1.0) if key.endswith("accuracy") else (-math.inf, math.inf)
    bad = [x for x in values if not low <= x <= high]
    require(
        not bad, f"its history_'s {key!r:.50} holds {bad[:3]!r}, not in [{low}, {high}]"
    )
    return values


def require(condition, problem):
    """Raise a ValueError of `problem` unless `condition` (see file_errors)."""
    if not condition:
        raise ValueError(problem)
