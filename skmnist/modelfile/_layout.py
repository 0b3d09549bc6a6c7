"""The arrays a model file must hold, derived from its parameters alone.

The weights, in the network's order (:meth:`skmnist.network.Network.weight_shapes`),
and the rest of the network's state in its one order
(:func:`skmnist.network.state_parts`): a Dropout layer's seed state per hidden layer
when ``dropout > 0``, then the optimizer's iteration count and learning rate,
its per-weight variables (:func:`skmnist.estimator._parameters.optimizer_slots`)
and any trailing scalars. Checked in NumPy, so that ``load_predictor`` and
``skmnist info`` refuse what ``load_model`` refuses without building a network.
"""

import numpy as np

from ..estimator._parameters import extra_scalars, optimizer_slots
from ..network import Network
from ._checks import require

__all__ = ["check_layout", "state_key"]

_FLOAT32 = np.dtype(np.float32)


def state_key(i):
    """The key of the array of the ``i``-th variable of a network's state after
    its weights."""
    return f"state/{i}"


def state_layout(weights, dropout, n_hidden_layers, optimizer, keras_version=None):
    """[(shape, dtype kinds)] of the state arrays "state/0", "state/1", ...

    `optimizer` is ``(class name, config)``; `weights` the weight shapes in order;
    `keras_version` the version of the Keras that wrote the state.
    """
    seeds = [((2,), "iu")] * (n_hidden_layers if dropout > 0 else 0)
    layout = seeds + [((), "iu"), ((), "f")]  # iteration count, learning rate
    before, after = extra_scalars(optimizer[0], keras_version)
    layout += [((), "f")] * before
    for group in optimizer_slots(*optimizer):
        layout += [(shape, "f") for shape in weights for _ in range(group)]
    layout += [((), "f")] * after
    return layout


def check_layout(arrays, n_features, n_classes, params, optimizer, keras_version=None):
    """The weights and the state of `arrays` ({key: ndarray}, stored order)
    checked against the network and optimizer that `params` describe.

    Returns
    -------
    weights, state : list of ndarray
        In build_mlp's order and in the state's order.
    """
    hidden_size, n_layers = params["hidden_size"], params["n_hidden_layers"]
    found = [(k, v.shape) for k, v in arrays.items() if not k.startswith("state/")]
    expected = {}  # not made for a count of layers that the weights do not have
    if len(found) == 2 * (n_layers + 1):
        architecture = {name: params[name] for name in Network.PARAMETERS}
        expected = Network(n_features, n_classes, **architecture).weight_shapes()
    require(
        list(expected.items()) == found,
        f"its weights, of shapes {[s for _, s in found]!r:.200}, are not those "
        f"of n_features_in_={n_features}, {n_classes} classes, hidden_size="
        f"{hidden_size} and n_hidden_layers={n_layers}",
    )
    weights = [arrays[key] for key in expected]
    for key, array in zip(expected, weights, strict=True):
        require(
            array.dtype == _FLOAT32,
            f"its array {key!r} is {array.dtype}, not the float32 that save_model "
            "writes and the network computes in",
        )
    layout = state_layout(
        list(expected.values()), params["dropout"], n_layers, optimizer, keras_version
    )
    keys = [state_key(i) for i in range(len(layout))]
    n_state = sum(key.startswith("state/") for key in arrays)
    ok = n_state == len(layout) and all(key in arrays for key in keys)
    n_arrays, name = len(arrays), f"{optimizer[0]}"
    require(
        ok,
        f"its {n_arrays} arrays do not fit its optimizer: a network of these "
        f"weights trained with {name} keeps {len(expected) + len(layout)}",
    )
    for key, (shape, kinds) in zip(keys, layout, strict=True):
        array = arrays[key]
        ok = array.shape == shape and array.dtype.kind in kinds
        ok = ok and (kinds != "f" or array.dtype == _FLOAT32)
        kind = "float32" if kinds == "f" else "integer"
        require(
            ok,
            f"its array {key!r} of shape {array.shape} does not fit its network "
            f"and optimizer: expected shape {shape}, {kind}, not {array.dtype}",
        )
    return weights, [arrays[key] for key in keys]
