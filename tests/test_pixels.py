"""One reading of arrays of images, whatever their source.

The same odd array goes through every path that reads one: the full model (a
pipeline and a bare classifier), the light predictor of its saved file, a
``.npy`` file as ``skmnist predict`` reads it, the service's JSON, and the
images that the command line and the service give a model. The full model and
the light predictor agree on every input (same probabilities, same warnings,
same error class and message); every reader of 0-255 images reads the same
ink, or refuses with the same message.
"""

import json
import os
import warnings

import numpy as np
import pytest

from skmnist import (
    MNISTClassifier,
    cli,
    load_digit_image,
    load_mnist_sample,
    load_predictor,
    make_mnist_pipeline,
    save_model,
)
from skmnist.modelfile._image_model import as_image_model
from skmnist.serve._inputs import BadRequest, images_from_body

_X, _Y = load_mnist_sample(return_X_y=True)
_DIGITS = _X[:3].astype(np.float64)  # 0-255 pixel values, as floats

# Odd arrays of images, in MNIST's (n, 28, 28) layout.
ODD = {
    "float-in-0-1": _DIGITS / 255,
    "numeric-strings": _DIGITS.astype(int).astype(str),
    "0-255-floats": _DIGITS,
    "float64-1e39": np.where(_DIGITS > 0, 1e39, 0.0),
    "nan": np.where(_DIGITS > 0, np.nan, 0.0),
    "bool": _DIGITS > 127,
    "object-numbers": _DIGITS.astype(object),
    "object-strings": _DIGITS.astype(int).astype(str).astype(object),
    "negative": _DIGITS - 1,
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """(full, light) pairs: a pipeline, and a bare classifier of [0, 1] rows."""
    folder = tmp_path_factory.mktemp("pixels")
    X, y = _X[:300], _Y[:300]
    small = dict(hidden_size=16, epochs=1, random_state=0)
    pipe = make_mnist_pipeline(**small).fit(X, y)
    bare = MNISTClassifier(**small).fit(X.reshape(300, -1) / 255.0, y)
    pairs = {}
    for name, model in (("pipeline", pipe), ("bare", bare)):
        path = folder / f"{name}.skmnist"
        save_model(model, path)
        pairs[name] = (model, load_predictor(path), path)
    return pairs


def _outcome(call, X):
    """What a call gives: its output or its error, and the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = ("ok", np.asarray(call(X)))
        except Exception as exc:
            result = ("error", type(exc), str(exc))
    said = [(w.category, str(w.message)) for w in caught]
    return result, said


def _assert_same(one, other):
    (result, said), (result_other, said_other) = one, other
    assert said == said_other
    assert result[0] == result_other[0], (result, result_other)
    if result[0] == "ok":
        np.testing.assert_allclose(result[1], result_other[1], atol=1e-5)
    else:
        assert result[1:] == result_other[1:]


@pytest.mark.parametrize("name", ODD)
@pytest.mark.parametrize("kind", ["pipeline", "bare"])
def test_full_model_and_light_predictor_agree(models, kind, name):
    full, light, _ = models[kind]
    X = ODD[name]
    if kind == "bare":
        X = X.reshape(len(X), -1)  # rows, as a bare classifier takes them
    full_outcome = _outcome(full.predict_proba, X)
    _assert_same(full_outcome, _outcome(light.predict_proba, X))
    (result, said) = full_outcome
    if name in ("numeric-strings", "object-strings", "nan", "float64-1e39"):
        assert result[0] == "error" and issubclass(result[1], ValueError)
    if kind == "bare" and name in ("0-255-floats", "object-numbers"):
        assert [w[0] for w in said] == [UserWarning]  # unscaled rows: both warn
        assert "divide pixel values by 255" in said[0][1]


def _from_npy(tmp_path, array):
    path = tmp_path / "digits.npy"
    np.save(path, array)
    return load_digit_image(path), os.fspath(path)


def _from_json(array):
    body = json.dumps({"images": array.tolist()}).encode()
    return images_from_body(
        body, "application/json", max_pixels=10**6, max_images=100
    ), '"images"'


def _images_outcome(read):
    """(images, None) or (None, message with the source's name taken out)."""
    try:
        images, _ = read()
    except (ValueError, BadRequest) as exc:
        return None, str(exc)
    return images, None


@pytest.mark.parametrize("name", ODD)
def test_every_reader_of_0_255_images_reads_the_same_ink(models, tmp_path, name):
    array = ODD[name]
    readers = {"model": lambda: (as_image_model(models["bare"][0]).to_input(array), "")}
    if name != "nan":  # JSON has no NaN (see below)
        readers["json"] = lambda: _from_json(array)
    if array.dtype != object:  # a .npy holds no objects without pickling
        readers["npy"] = lambda: _from_npy(tmp_path, array)
    where = {"json": '"images"', "model": "the images", "npy": "digits.npy"}
    outcomes = {}
    for source, read in readers.items():
        images, message = _images_outcome(read)
        if message is not None:
            # The same message, but for what it calls the array.
            head, _, rest = message.partition(where[source])
            assert head in ("", os.fspath(tmp_path) + os.sep), message
            outcomes[source] = ("refused", rest)
        elif source == "model":
            outcomes[source] = ("read", np.rint(images * 255).astype(np.uint8))
        else:
            outcomes[source] = ("read", images.reshape(len(images), 784))
    first, *others = outcomes.values()
    for other in others:
        assert first[0] == other[0], outcomes
        if first[0] == "read":
            np.testing.assert_array_equal(first[1], other[1])
        else:
            assert first[1] == other[1]
    expected = {
        "float-in-0-1": "looks scaled to [0, 1]",
        "numeric-strings": "contains strings",
        "float64-1e39": "values from 0 to 1e+39",
        "nan": "contains NaN",
        "object-strings": "contains strings",
        "negative": "values from -1 to",
    }
    if name in expected:
        assert first[0] == "refused" and expected[name] in first[1]
    else:
        assert first[0] == "read"
    if name == "bool":  # a mask: True is full ink
        np.testing.assert_array_equal(first[1], np.where(array, 255, 0).reshape(3, -1))


def test_nan_in_the_services_json_is_refused_as_json(models):
    # JSON has no NaN: the service refuses the token before reading the array.
    with pytest.raises(BadRequest, match="NaN"):
        _from_json(ODD["nan"])


def test_cli_predict_refuses_a_npy_of_images_scaled_to_0_1(models, tmp_path, capsys):
    path = tmp_path / "scaled.npy"
    np.save(path, ODD["float-in-0-1"])
    status = cli.main(["predict", os.fspath(models["pipeline"][2]), os.fspath(path)])
    out, err = capsys.readouterr()
    assert status == 1 and out == ""
    assert "scaled.npy holds floats all within [0, 1]" in err
    assert "multiply it by 255" in err
