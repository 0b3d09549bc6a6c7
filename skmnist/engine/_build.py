"""The Keras graph of the reference MNIST multilayer perceptron, and its optimizer."""

import json

import numpy as np

from .._fixes import InvalidParameterError, stable_keras_names
from ._runtime import keras

__all__ = ["build_mlp", "check_activation", "logits_model", "make_optimizer"]


@stable_keras_names()
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
    """Build the (uncompiled) multilayer perceptron.

    ``n_features`` inputs -> ``n_hidden_layers`` x Dense(``hidden_size``,
    ``activation``) [-> Dropout(``dropout``)] -> Dense(``n_classes``) -> softmax.
    With the defaults and 784 inputs and 10 classes this is the reference model
    of the Keras MNIST tutorial (669,706 parameters). The softmax is a layer of
    its own (``"probabilities"``) after the last Dense layer (``"logits"``), so
    that training can take the cross-entropy from the logits, exactly, on every
    backend.

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
        Activation of the hidden layers, any name Keras knows.
    dropout : float, default=0.0
        Dropout rate after each hidden layer; 0 adds no Dropout layer.
    seed : int, default=None
        Seeds each layer's weight initialiser and dropout with its own seed
        derived from this one, so that the network never draws from a global
        random state. None leaves them unseeded.

    Returns
    -------
    model : keras.Model
        The model, not yet compiled.
    """
    n_seeds = 2 * n_hidden_layers + 1
    if seed is None:
        seeds = [None] * n_seeds
    else:
        seeds = [int(s) for s in np.random.SeedSequence(seed).generate_state(n_seeds)]
    inputs = keras.Input(shape=(n_features,), name="pixels")
    x = inputs
    for i in range(n_hidden_layers):
        x = keras.layers.Dense(
            hidden_size,
            activation=activation,
            kernel_initializer=keras.initializers.GlorotUniform(seed=seeds[2 * i]),
            name=f"hidden_{i + 1}",
        )(x)
        if dropout > 0:
            x = keras.layers.Dropout(
                dropout, seed=seeds[2 * i + 1], name=f"dropout_{i + 1}"
            )(x)
    logits = keras.layers.Dense(
        n_classes,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seeds[-1]),
        name="logits",
    )(x)
    outputs = keras.layers.Activation("softmax", name="probabilities")(logits)
    return keras.Model(inputs, outputs, name="mnist_mlp")


def logits_model(model):
    """The sub-network of ``model`` up to its logits, sharing its variables."""
    return keras.Model(model.inputs, model.get_layer("logits").output)


def check_activation(activation):
    """Raise a ValueError naming the parameter unless Keras knows ``activation``."""
    try:
        keras.activations.get(activation)
    except (ValueError, TypeError):
        raise InvalidParameterError(
            f"activation={activation!r} is not a Keras activation; expected a name "
            "such as 'relu', 'tanh', 'sigmoid', 'gelu', 'elu', 'selu', 'swish'."
        ) from None


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
