"""The Keras graph of the reference MNIST multilayer perceptron."""

import keras
import numpy as np

__all__ = ["build_mlp", "make_optimizer"]


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
    ``activation``) [-> Dropout(``dropout``)] -> Dense(``n_classes``, softmax).
    With the defaults and 784 inputs and 10 classes this is the reference model
    of the Keras MNIST tutorial (669,706 parameters).

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
        derived from this one, so that the network never draws from Python's
        shared ``random`` module, which other threads (a Dask worker's event
        loop, say) may draw from at the same time. None leaves them unseeded.

    Returns
    -------
    model : keras.Model
        The model, not yet compiled.
    """
    if seed is None:
        seeds = [None] * (2 * n_hidden_layers + 1)
    else:
        seeds = [
            int(s)
            for s in np.random.SeedSequence(seed).generate_state(
                2 * n_hidden_layers + 1
            )
        ]
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
    outputs = keras.layers.Dense(
        n_classes,
        activation="softmax",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seeds[-1]),
        name="probabilities",
    )(x)
    return keras.Model(inputs, outputs, name="mnist_mlp")


def make_optimizer(optimizer, learning_rate):
    """Return a fresh Keras optimizer.

    Parameters
    ----------
    optimizer : str or keras.optimizers.Optimizer
        A Keras optimizer name such as ``"adam"`` or ``"sgd"``, built with
        ``learning_rate``; or an optimizer instance, copied from its config (its own
        learning rate is kept) so that fits never share optimizer state.
    learning_rate : float
        Learning rate for an optimizer given by name.

    Returns
    -------
    optimizer : keras.optimizers.Optimizer
    """
    if isinstance(optimizer, keras.optimizers.Optimizer):
        return optimizer.__class__.from_config(optimizer.get_config())
    try:
        cls = type(keras.optimizers.get(optimizer))
    except ValueError:
        raise ValueError(
            f"optimizer={optimizer!r} is not a Keras optimizer name; expected one of "
            "'adam', 'adamw', 'sgd', 'rmsprop', 'nadam', 'adagrad', ... or a "
            "keras.optimizers.Optimizer instance."
        ) from None
    return cls(learning_rate=learning_rate)
