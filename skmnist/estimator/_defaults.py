"""MNISTClassifier's parameters and their defaults, importable without Keras.

The one home of the defaults: ``MNISTClassifier.__init__`` takes its default
values from here, and ``skmnist train --help`` shows them without starting
TensorFlow (importing the classifier imports Keras: seconds and hundreds of MB
to print a help text). The defaults are the Keras MNIST tutorial's model.
"""

__all__ = ["DEFAULTS"]

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
