"""The Keras graph of a :class:`skmnist.network.Network` (the reference MNIST
multilayer perceptron by default), read back from a model, and its optimizer."""

import json

import numpy as np

from .._fixes import InvalidParameterError, stable_keras_names
from ..network import (
    ACTIVATIONS,
    INPUT,
    LOGITS,
    PROBABILITIES,
    Network,
    dropout_layer,
    hidden_layer,
)
from ._runtime import keras

__all__ = [
    "accepted_activations",
    "build",
    "build_mlp",
    "check_activation",
    "keras_activation_name",
    "logits_model",
    "make_optimizer",
    "network_of",
]


def build_mlp(
    n_features,
    n_classes,
    *,
    hidden_size=512,
    n_hidden_layers=2,
    activation="relu",
    dropout=0.0,
    seed=None,
):
    """Build the (uncompiled) multilayer perceptron of these parameters.

    With the defaults and 784 inputs and 10 classes this is the reference model
    of the Keras MNIST tutorial (669,706 parameters); see :func:`build`.

    Parameters
    ----------
    n_features : int
        Width of the input rows (784 for flattened 28x28 images).
    n_classes : int
        Number of output units, one per class.
    hidden_size : int, default=512
        Units in each hidden layer.
    n_hidden_layers : int, default=2
        Number of hidden layers.
    activation : str, default="relu"
        Activation of the hidden layers, a name of
        :data:`skmnist.network.ACTIVATIONS`.
    dropout : float, default=0.0
        Dropout rate after each hidden layer; 0 adds no Dropout layer.
    seed : int, default=None
        As for :func:`build`.

    Returns
    -------
    model : keras.Model
        The model, not yet compiled.
    """
    network = Network(
        n_features,
        n_classes,
        hidden_size=hidden_size,
        n_hidden_layers=n_hidden_layers,
        activation=activation,
        dropout=dropout,
    )
    return build(network, seed=seed)


@stable_keras_names()
def build(network, *, seed=None):
    """The (uncompiled) Keras model of ``network``, its layers named as it names them.

    The softmax is a layer of its own (``network.PROBABILITIES``) after the last
    Dense layer (``network.LOGITS``), so that training can take the
    cross-entropy from the logits, exactly, on every backend.

    Parameters
    ----------
    network : skmnist.network.Network
    seed : int, default=None
        Seeds each layer's weight initialiser and dropout with its own seed
        derived from this one, so that the network never draws from a global
        random state. None leaves them unseeded.

    Returns
    -------
    model : keras.Model
    """
    n_seeds = 2 * network.n_hidden_layers + 1
    if seed is None:
        seeds = [None] * n_seeds
    else:
        seeds = [int(s) for s in np.random.SeedSequence(seed).generate_state(n_seeds)]
    inputs = keras.Input(shape=(network.n_features,), name=INPUT)
    x = inputs
    for i, name in enumerate(network.hidden_layers):
        x = keras.layers.Dense(
            network.hidden_size,
            activation=network.activation,
            kernel_initializer=keras.initializers.GlorotUniform(seed=seeds[2 * i]),
            name=name,
        )(x)
        if network.dropout > 0:
            x = keras.layers.Dropout(
                network.dropout, seed=seeds[2 * i + 1], name=dropout_layer(i + 1)
            )(x)
    logits = keras.layers.Dense(
        network.n_classes,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seeds[-1]),
        name=LOGITS,
    )(x)
    outputs = keras.layers.Activation("softmax", name=PROBABILITIES)(logits)
    return keras.Model(inputs, outputs, name="mnist_mlp")


def network_of(model):
    """The :class:`~skmnist.network.Network` of a model that :func:`build` built.

    Read from the model itself, so that it stays true when an estimator's
    parameters change after its fit (the network keeps its shape until the
    next fit). Without hidden layers, their width, activation and dropout are
    0, ``"linear"`` and 0: they change nothing.
    """
    names = {layer.name for layer in model.layers}
    n_hidden = 0
    while hidden_layer(n_hidden + 1) in names:
        n_hidden += 1
    first = model.get_layer(hidden_layer(1)) if n_hidden else None
    rate = 0.0
    if n_hidden and dropout_layer(1) in names:
        rate = float(model.get_layer(dropout_layer(1)).rate)
    network = Network(
        n_features=int(model.input_shape[-1]),
        n_classes=int(model.get_layer(LOGITS).units),
        hidden_size=int(first.units) if first else 0,
        n_hidden_layers=n_hidden,
        activation=first.get_config()["activation"] if first else "linear",
        dropout=rate,
    )
    if [layer.name for layer in model.layers] != network.layers:
        raise ValueError(f"{model.name!r} is not a network that skmnist built")
    return network


def logits_model(model):
    """The sub-network of ``model`` up to its logits, sharing its variables."""
    return keras.Model(model.inputs, model.get_layer(LOGITS).output)


def accepted_activations():
    """The activations that fit accepts: those of the NumPy forward pass
    (:data:`skmnist.network.ACTIVATIONS`) that this Keras knows too."""
    return [name for name in ACTIVATIONS if keras_activation_name(name) is not None]


def keras_activation_name(activation):
    """The name a Keras layer's config gives ``activation`` ("swish" is
    "silu"), or None when Keras does not know it."""
    try:
        return keras.activations.serialize(keras.activations.get(activation))
    except (ValueError, TypeError):
        return None


def check_activation(activation):
    """Raise an InvalidParameterError naming ``activation`` and the accepted
    names unless both Keras and the NumPy forward pass compute it."""
    accepted = accepted_activations()
    if not (isinstance(activation, str) and activation in accepted):
        raise InvalidParameterError(
            f"activation={activation!r} is not an activation that skmnist trains "
            "and predicts with (in Keras and in NumPy alike); expected one of "
            f"{', '.join(map(repr, accepted))}."
        )


@stable_keras_names()
def make_optimizer(optimizer, learning_rate):
    """Return a fresh Keras optimizer.

    Parameters
    ----------
    optimizer : str or keras.optimizers.Optimizer
        A Keras optimizer name such as ``"adam"`` or ``"sgd"``, built with
        ``learning_rate``; or an optimizer instance, copied from its config (its own
        learning rate is kept) so that fits never share optimizer state.
    learning_rate : real number
        Learning rate for an optimizer given by name: any real number type.

    Returns
    -------
    optimizer : keras.optimizers.Optimizer

    Raises
    ------
    ValueError
        If the name is not a Keras optimizer, or the instance cannot be copied
        from its config.
    """
    if isinstance(optimizer, keras.optimizers.Optimizer):
        try:
            return optimizer.__class__.from_config(optimizer.get_config())
        except Exception as exc:
            raise InvalidParameterError(
                f"optimizer={optimizer!r} cannot be rebuilt from its config "
                f"({type(exc).__name__}: {exc}); pass an optimizer whose "
                "get_config() round-trips, or an optimizer name such as 'adam'."
            ) from None
    try:
        cls = type(keras.optimizers.get(optimizer))
    except ValueError:
        raise InvalidParameterError(
            f"optimizer={optimizer!r} is not a Keras optimizer name; expected one of "
            "'adam', 'adamw', 'sgd', 'rmsprop', 'nadam', 'adagrad', ... or a "
            "keras.optimizers.Optimizer instance."
        ) from None
    # Keras takes a Python float (or a schedule), not an int or a NumPy scalar.
    return cls(learning_rate=float(learning_rate))


def optimizer_key(optimizer):
    """A hashable description of everything in ``optimizer`` that is compiled in.

    Its class itself, not its name: a class defined again under the same name
    (a notebook cell run again) may update otherwise. A float learning rate
    lives in an optimizer variable, so it is left out: fits that differ only in
    it share one compiled training step.
    """
    config = dict(optimizer.get_config())
    config.pop("name", None)
    if isinstance(config.get("learning_rate"), float):
        config.pop("learning_rate")
    return type(optimizer), json.dumps(config, sort_keys=True, default=repr)
