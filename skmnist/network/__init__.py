"""THE description of a network, and its forward pass in NumPy.

What a network is (its widths, depth, activation and dropout), the names of
its layers, the shapes and order of its weights, the order of its whole state
(weights, then the other variables, then the optimizer's) and the NumPy
activations and forward pass live here once. The Keras builder, both backends,
the resume store, the model-file writer and reader and the light predictor all
ask this package; it imports NumPy alone (SciPy's ``erf`` only for a gelu
network's forward pass), never Keras or scikit-learn.
"""

from ._description import (
    INPUT,
    LOGITS,
    PROBABILITIES,
    Network,
    dropout_layer,
    hidden_layer,
    state,
    state_parts,
)
from ._forward import ACTIVATIONS, forward, softmax

__all__ = [
    "ACTIVATIONS",
    "INPUT",
    "LOGITS",
    "PROBABILITIES",
    "Network",
    "dropout_layer",
    "forward",
    "hidden_layer",
    "softmax",
    "state",
    "state_parts",
]
