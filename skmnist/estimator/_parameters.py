"""MNISTClassifier's parameters in plain Python: their defaults, and what each
accepts; the one table that the classifier, ``skmnist train --help`` and the
model-file reader follow.

``MNISTClassifier.__init__`` takes its default values from :data:`DEFAULTS`;
``skmnist train --help`` shows them without starting TensorFlow (importing the
classifier imports Keras: seconds and hundreds of MB to print a help text); a
model file that lacks a parameter takes its default. The defaults are the Keras
MNIST tutorial's model.

scikit-learn's declarative constraints (``Interval``, ``StrOptions``) need
scikit-learn, and the light predictor (``skmnist predict``, ``load_predictor``)
must not import it: this module imports nothing but :mod:`numbers` and
:mod:`math`, and the test of the table checks every entry of :data:`PARAMETERS`
against ``MNISTClassifier._parameter_constraints``, value by value, so that the
two cannot drift apart. Which optimizers a model file may name, and the state
each keeps per weight, is here too: a file's optimizer state is checked against
it without Keras.
"""

import math
from numbers import Integral, Real

__all__ = [
    "DEFAULTS",
    "OPTIMIZERS",
    "PARAMETERS",
    "check_parameter",
    "extra_scalars",
    "optimizer_slots",
]


class Interval:
    """Numbers of a type in a range, as scikit-learn's ``Interval`` says it."""

    def __init__(self, kind, left, right, closed):
        self.kind, self.left, self.right, self.closed = kind, left, right, closed

    def accepts(self, value):
        # A count or a rate given as True or False is a mistake, though Python
        # (and scikit-learn's Interval) takes True for 1: refused, with NumPy's
        # bool (recognised by name, without importing NumPy).
        if isinstance(value, bool) or _is_numpy_bool(value):
            return False
        if not isinstance(value, self.kind):
            return False
        if not isinstance(value, Integral) and math.isnan(value):
            return False
        left = -math.inf if self.left is None else self.left
        right = math.inf if self.right is None else self.right
        low_ok = value >= left if self.closed in ("left", "both") else value > left
        high_ok = value <= right if self.closed in ("right", "both") else value < right
        return low_ok and high_ok

    def __str__(self):
        kind = "an int" if self.kind is Integral else "a float"
        left = "[" if self.closed in ("left", "both") else "("
        right = "]" if self.closed in ("right", "both") else ")"
        low = "-inf" if self.left is None else self.left
        high = "inf" if self.right is None else self.right
        return f"{kind} in the range {left}{low}, {high}{right}"


class Options:
    """One of a few strings."""

    def __init__(self, *options):
        self.options = options

    def accepts(self, value):
        return isinstance(value, str) and value in self.options

    def __str__(self):
        return "one of " + ", ".join(map(repr, self.options))


class Kind:
    """Instances of Python types (``bool`` alone, as scikit-learn's "boolean",
    also takes NumPy's bool, whose type name is checked without importing NumPy)."""

    def __init__(self, name, *kinds):
        self.name, self.kinds = name, kinds

    def accepts(self, value):
        if value is None:
            return None in self.kinds
        kinds = tuple(k for k in self.kinds if k is not None)
        if bool in kinds and _is_numpy_bool(value):
            return True
        return isinstance(value, kinds)

    def __str__(self):
        return self.name


def _is_numpy_bool(value):
    return type(value).__module__ == "numpy" and "bool" in type(value).__name__


BOOLEAN = Kind("a bool", bool)
NONE = Kind("None", None)
_COUNT = Interval(Integral, 1, None, "left")

# Parameter name -> its default: the reference model of the Keras tutorial.
DEFAULTS = {
    "hidden_size": 512,
    "n_hidden_layers": 2,
    "activation": "relu",
    "dropout": 0.0,
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "epochs": 20,
    "batch_size": 128,
    "validation_split": 0.1,
    "early_stopping": False,
    "patience": 5,
    "shuffle": True,
    "class_weight": None,
    "callbacks": None,
    "warm_start": False,
    "random_state": None,
    "verbose": 0,
    "jit_compile": "auto",
    "steps_per_execution": "auto",
}

# Parameter name -> what it accepts (any of the rules). An optimizer instance
# and a RandomState (``random_state``) need Keras or NumPy to recognise: the
# classifier checks those; a model file holds neither.
PARAMETERS = {
    "hidden_size": (_COUNT,),
    "n_hidden_layers": (Interval(Integral, 0, None, "left"),),
    "activation": (Kind("a str", str),),
    "dropout": (Interval(Real, 0, 1, "left"),),
    "optimizer": (Kind("a str", str),),
    "learning_rate": (Interval(Real, 0, None, "neither"),),
    "epochs": (_COUNT,),
    "batch_size": (_COUNT,),
    "validation_split": (Interval(Real, 0, 1, "left"),),
    "early_stopping": (BOOLEAN,),
    "patience": (Interval(Integral, 0, None, "left"),),
    "shuffle": (BOOLEAN,),
    "class_weight": (Kind("a dict", dict), Options("balanced"), NONE),
    "callbacks": (Kind("a list", list), NONE),
    "warm_start": (BOOLEAN,),
    "random_state": (Interval(Integral, 0, 2**32 - 1, "both"), NONE),
    "verbose": (Interval(Integral, 0, None, "left"), BOOLEAN),
    "jit_compile": (BOOLEAN, Options("auto")),
    "steps_per_execution": (_COUNT, Options("auto", "epoch")),
}


def check_parameter(name, value):
    """Raise a ValueError naming the parameter unless the table accepts `value`."""
    rules = PARAMETERS[name]
    if not any(rule.accepts(value) for rule in rules):
        expected = " or ".join(map(str, rules))
        raise ValueError(f"its {name!r} parameter {value!r:.50} is not {expected}")


# Keras's built-in optimizers whose state a model file can hold, by class name:
# (the name that keras.optimizers.get takes, or None, and the optimizer
# variables it adds per weight, as groups built in turn: a group of two names
# makes two variables per weight, interleaved). Every optimizer first keeps
# its iteration count (int64) and learning rate (float32); Nadam then one
# scalar more. Others (Adafactor's factored state, Muon's per-shape state, a
# wrapped LossScaleOptimizer) cannot be checked without Keras: save_model
# refuses them. tests/test_model_file.py checks this against Keras itself.
OPTIMIZERS = {
    "Adam": "adam",
    "AdamW": "adamw",
    "Adamax": "adamax",
    "Nadam": "nadam",
    "Lamb": None,
    "Adagrad": "adagrad",
    "Adadelta": "adadelta",
    "Ftrl": "ftrl",
    "Lion": "lion",
    "RMSprop": "rmsprop",
    "SGD": "sgd",
}


def extra_scalars(class_name, keras_version=None):
    """(before its per-weight slots, after them): the scalars of its own that
    optimizer `class_name` keeps, in the order of the Keras that wrote them.

    Nadam's running product of its momentum schedule: made before the slots up
    to Keras 3.9, after them from Keras 3.10 on (``keras/src/optimizers/
    nadam.py``). `keras_version` is the writer's (a model file records it);
    None for the newest order.
    """
    if class_name != "Nadam":
        return 0, 0
    try:
        major_minor = tuple(int(part) for part in keras_version.split(".")[:2])
    except (AttributeError, ValueError):
        return 0, 1
    return (1, 0) if major_minor < (3, 10) else (0, 1)


def optimizer_slots(class_name, config):
    """The groups of per-weight variables that optimizer `class_name` with
    `config` (its keyword arguments, defaults where absent) keeps, in order."""
    if class_name in ("Adam", "AdamW"):
        return [2] + ([1] if config.get("amsgrad", False) else [])
    if class_name in ("Adamax", "Nadam", "Lamb", "Adadelta", "Ftrl"):
        return [2]
    if class_name in ("Adagrad", "Lion"):
        return [1]
    if class_name == "RMSprop":
        momentum = config.get("momentum", 0.0) > 0
        return [1] + ([1] if momentum else []) + ([1] if config.get("centered") else [])
    if class_name == "SGD":
        return [1] if config.get("momentum", 0.0) != 0 else []
    raise KeyError(class_name)


def optimizer_class(name):
    """The class name of an optimizer given by name, as keras.optimizers.get
    reads it (case-insensitively), or None."""
    found = [cls for cls, short in OPTIMIZERS.items() if short == str(name).lower()]
    return found[0] if found else None
