"""skmnist.network: the one description of a network, and its NumPy forward pass.

The Keras builder, the model files and the light predictor all follow it: a
network reads back as what it was built from, its weights and whole state come
in one order, and every activation that fit accepts predicts the same in Keras
and in NumPy.
"""

import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.utils._param_validation import InvalidParameterError

from skmnist import (
    MNISTClassifier,
    load_mnist_sample,
    load_model,
    load_predictor,
    make_mnist_pipeline,
    save_model,
)
from skmnist.engine._build import accepted_activations, build, network_of
from skmnist.network import ACTIVATIONS, Network, state, state_parts

NETWORKS = [
    Network(5, 3, hidden_size=4, n_hidden_layers=2, activation="relu", dropout=0.0),
    Network(7, 2, hidden_size=6, n_hidden_layers=3, activation="tanh", dropout=0.25),
    Network(4, 10, hidden_size=9, n_hidden_layers=1, activation="gelu", dropout=0.5),
]


@pytest.mark.parametrize("network", NETWORKS, ids=repr)
def test_a_built_network_reads_back_as_its_description(network):
    model = build(network, seed=0)
    assert network_of(model) == network
    assert [layer.name for layer in model.layers] == network.layers
    shapes = network.weight_shapes()
    paths = [variable.path for variable in model.trainable_variables]
    assert paths == list(shapes)
    assert [tuple(v.shape) for v in model.trainable_variables] == list(shapes.values())


def test_without_hidden_layers_only_their_number_is_fixed():
    built = Network(5, 3, hidden_size=64, n_hidden_layers=0, activation="tanh",
                    dropout=0.5)  # fmt: skip
    network = network_of(build(built, seed=0))
    assert network.n_hidden_layers == 0 and network.determined() == {
        "n_hidden_layers": 0
    }
    assert network.weight_shapes() == {"logits/kernel": (5, 3), "logits/bias": (3,)}
    assert network.weight_shapes() == built.weight_shapes()


def test_the_whole_state_is_weights_then_seeds_then_optimizer():
    X, y = np.random.RandomState(0).rand(40, 6).astype(np.float32), np.arange(40) % 2
    clf = MNISTClassifier(hidden_size=4, dropout=0.2, epochs=1, random_state=0)
    model = clf.fit(X, y).model_
    weights, seeds, optimizer = state_parts(model)
    assert [v.path for v in weights] == list(network_of(model).weight_shapes())
    assert len(seeds) == 2 and all("seed_generator" in v.path for v in seeds)
    assert optimizer == list(model.optimizer.variables) and optimizer
    assert state(model) == weights + seeds + optimizer


def test_the_description_imports_neither_keras_nor_scikit_learn():
    code = (
        "import sys, numpy as np\n"
        "from skmnist.network import Network, forward\n"
        "n = Network(3, 2, hidden_size=4, n_hidden_layers=1, activation='relu',"
        " dropout=0.0)\n"
        "w = [np.ones(s, np.float32) for s in n.weight_shapes().values()]\n"
        "forward(np.ones((2, 3), np.float32), w[0::2], w[1::2], n.activation)\n"
        "bad = {'keras', 'tensorflow', 'jax', 'sklearn', 'scipy'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the activations: one list, that of the NumPy forward pass ----------------------


def test_the_accepted_activations_are_the_numpy_ones_keras_knows():
    import keras

    accepted = accepted_activations()
    assert set(accepted) <= set(ACTIVATIONS) and "relu" in accepted
    for name in accepted:
        keras.activations.get(name)  # raises if Keras did not know it
    assert {"glu", "threshold", "sparsemax"}.isdisjoint(accepted)


class _Unreadable:
    """Data that fails the test if anything reads it."""

    def __array__(self, *args, **kwargs):
        raise AssertionError("the data was read")

    def __len__(self):
        raise AssertionError("the data was read")


@pytest.mark.parametrize("activation", ["glu", "threshold", "sparsemax", "relux"])
def test_activations_without_a_numpy_form_are_refused_before_the_data(activation):
    clf = MNISTClassifier(activation=activation)
    with pytest.raises(InvalidParameterError) as info:
        clf.fit(_Unreadable(), _Unreadable())
    message = str(info.value)
    assert f"activation={activation!r}" in message
    expected = message.partition("expected one of")[2]
    assert "'relu'" in expected and "'gelu'" in expected and "'glu'" not in expected


@pytest.fixture(scope="module")
def rows():
    X, y = load_mnist_sample(return_X_y=True)
    return X[:200], y[:200]


@pytest.mark.parametrize("activation", accepted_activations())
def test_every_accepted_activation_predicts_alike_in_keras_and_numpy(
    activation, rows, tmp_path
):
    X, y = rows
    pipe = make_mnist_pipeline(
        hidden_size=8, epochs=1, dropout=0.2, activation=activation, random_state=0
    )
    path = tmp_path / "model.skmnist"
    save_model(pipe.fit(X, y), path)
    full, light = load_model(path), load_predictor(path)
    assert full[-1].get_params()["activation"] == activation
    proba = full.predict_proba(X)
    assert_allclose(light.predict_proba(X), proba, rtol=0, atol=1e-5)
    assert_allclose(pipe.predict_proba(X), proba, rtol=0, atol=1e-6)
