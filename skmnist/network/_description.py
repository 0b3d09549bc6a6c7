"""What a network is: its parameters, its layers' names, its weights' shapes,
and the order of its whole state."""

import dataclasses

__all__ = [
    "INPUT",
    "LOGITS",
    "PROBABILITIES",
    "Network",
    "dropout_layer",
    "hidden_layer",
    "state",
    "state_parts",
]

#: The names of the input, of the last dense layer (its outputs are the logits,
#: from which training takes the cross-entropy exactly) and of the softmax layer.
INPUT, LOGITS, PROBABILITIES = "pixels", "logits", "probabilities"


def hidden_layer(i):
    """The name of hidden layer ``i`` (counted from 1)."""
    return f"hidden_{i}"


def dropout_layer(i):
    """The name of the Dropout layer after hidden layer ``i`` (counted from 1)."""
    return f"dropout_{i}"


@dataclasses.dataclass(frozen=True)
class Network:
    """A multilayer perceptron, as its parameters describe it.

    ``n_features`` inputs -> ``n_hidden_layers`` x Dense(``hidden_size``,
    ``activation``) [-> Dropout(``dropout``)] -> Dense(``n_classes``) (the
    logits) -> softmax. Without hidden layers, ``hidden_size``, ``activation``
    and ``dropout`` change nothing.

    Parameters
    ----------
    n_features, n_classes : int
        Inputs and outputs.
    hidden_size, n_hidden_layers : int
        Units per hidden layer, and their number.
    activation : str
        The hidden layers' activation, a name of :data:`ACTIVATIONS`.
    dropout : float
        The rate of the Dropout layer after each hidden layer; 0 adds none.
    """

    n_features: int
    n_classes: int
    hidden_size: int
    n_hidden_layers: int
    activation: str
    dropout: float

    #: The estimator's parameters that shape the network.
    PARAMETERS = ("hidden_size", "n_hidden_layers", "activation", "dropout")

    @property
    def architecture(self):
        """{parameter: value} of :attr:`PARAMETERS`."""
        return {name: getattr(self, name) for name in self.PARAMETERS}

    def determined(self):
        """The parameters that this network fixes: all with hidden layers, else
        ``n_hidden_layers`` alone (the others then change nothing)."""
        if self.n_hidden_layers == 0:
            return {"n_hidden_layers": 0}
        return self.architecture

    @property
    def hidden_layers(self):
        """Names of the hidden Dense layers, input to output."""
        return [hidden_layer(i) for i in range(1, self.n_hidden_layers + 1)]

    @property
    def dense_layers(self):
        """Names of every Dense layer, input to output: the hidden ones, the logits."""
        return [*self.hidden_layers, LOGITS]

    @property
    def layers(self):
        """Names of every layer, in the graph's order."""
        names = [INPUT]
        for i, name in enumerate(self.hidden_layers, start=1):
            names += [name, dropout_layer(i)] if self.dropout > 0 else [name]
        return [*names, LOGITS, PROBABILITIES]

    def weight_shapes(self):
        """{"<layer>/kernel" or "<layer>/bias": shape} of the weights, in their
        order (the order of a Keras model's ``trainable_variables``)."""
        widths = [self.n_features]
        widths += [self.hidden_size] * self.n_hidden_layers + [self.n_classes]
        shapes = {}
        layers = zip(self.dense_layers, widths[:-1], widths[1:], strict=True)
        for name, n_in, n_out in layers:
            shapes.update({f"{name}/kernel": (n_in, n_out), f"{name}/bias": (n_out,)})
        return shapes


def state_parts(model, optimizer=None):
    """The whole state of a built network, in its one order, as three lists.

    Its weights (in :meth:`Network.weight_shapes`'s order), its other variables
    (the Dropout layers' seed generators), its optimizer's variables. Every
    copy of a state (the backends' sessions, the resume store, a fit's rollback,
    model files) takes it in this order.

    Parameters
    ----------
    model : keras.Model
        A network that ``skmnist.engine._build.build_mlp`` built, compiled with
        its optimizer (read by attribute: this module imports no Keras).
    optimizer : keras.optimizers.Optimizer, default=None
        Its optimizer, built; None for the one ``model`` was compiled with.
    """
    optimizer = model.optimizer if optimizer is None else optimizer
    return (
        list(model.trainable_variables),
        list(model.non_trainable_variables),
        list(optimizer.variables),
    )


def state(model, optimizer=None):
    """:func:`state_parts` of ``model`` (and ``optimizer``) as one list."""
    weights, others, optimizer = state_parts(model, optimizer)
    return weights + others + optimizer
