"""One verdict on a model file: every reader of it reaches the same one.

Each forged file is a real model file with one thing changed and sealed again
(the helpers of tests/test_persistence.py), run through all five readers:
``load_model``, ``load_predictor``, ``skmnist info``, ``skmnist predict`` and
the service's start-up (``skmnist.serve.make_app``). Text that came from a file
reaches the terminal escaped, and ``predict --json`` is strict JSON.
"""

import io
import json
import math
import zipfile

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from test_persistence import _arrays, _members, _npz, _resealed, _seal, _set

from skmnist import (
    ModelFileError,
    load_mnist_sample,
    load_model,
    load_predictor,
    save_model,
)
from skmnist.cli import main
from skmnist.estimator._parameters import (
    OPTIMIZERS,
    PARAMETERS,
    check_parameter,
    extra_scalars,
    optimizer_class,
    optimizer_slots,
)

ESC = "\x1b"


@pytest.fixture(scope="module")
def model_bytes(serve_model_path):
    """The bytes of a small fitted pipeline's file (digits, Adam, 3 epochs)."""
    return serve_model_path.read_bytes()


@pytest.fixture(scope="module")
def digits_npy(tmp_path_factory):
    images, _ = load_mnist_sample(subset="test", return_X_y=True)
    path = tmp_path_factory.mktemp("digits") / "digits.npy"
    np.save(path, images[:3])
    return path


def _readers(path, digits_npy, capsys):
    """{reader: (refused, what it said)} for the five readers of a file."""
    from skmnist.serve import make_app

    verdicts = {}
    for name, read in (("load_model", load_model), ("load_predictor", load_predictor)):
        try:
            read(path)
            verdicts[name] = (False, "")
        except ModelFileError as exc:
            verdicts[name] = (True, str(exc))
    for command in (["info", str(path)], ["predict", str(path), str(digits_npy)]):
        status = main(command)
        err = capsys.readouterr().err
        verdicts[command[0]] = (status == 2, err)
    try:
        make_app(path)
        verdicts["serve"] = (False, "")
    except ModelFileError as exc:
        verdicts["serve"] = (True, str(exc))
    return verdicts


def _all_refuse(data, tmp_path, digits_npy, capsys, match):
    path = tmp_path / "forged.skmnist"
    path.write_bytes(data)
    verdicts = _readers(path, digits_npy, capsys)
    refused = {name: said for name, (no, said) in verdicts.items() if no}
    assert set(refused) == set(verdicts), f"accepted by {set(verdicts) - set(refused)}"
    for name, said in refused.items():
        assert match in said, f"{name} said {said!r}"
        assert ESC not in said


def _params(name, value):
    return _set("classifier", "params", name, value)


def _history(value):
    def edit(manifest):
        history = manifest["classifier"]["fitted"]["history_"]
        history["val_loss"] = [value] + history["val_loss"][1:]

    return edit


def _with_arrays(model_bytes, change):
    arrays = _arrays(model_bytes)
    change(arrays)
    return _resealed(model_bytes, arrays_npz=_npz(arrays))


def _duplicate_npz_member(model_bytes):
    arrays = _arrays(model_bytes)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as npz, pytest.warns(UserWarning, match="Dup"):
        for key, array in arrays.items():
            npz.writestr(f"{key}.npy", _npy_bytes(array))
        npz.writestr(
            "logits/bias.npy", _npy_bytes(np.zeros_like(arrays["logits/bias"]))
        )
    return _resealed(model_bytes, arrays_npz=buffer.getvalue())


def _duplicate_manifest(model_bytes):
    members = _members(model_bytes)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, pytest.warns(UserWarning):
        archive.writestr("manifest.json", members["manifest.json"])
        archive.writestr("arrays.npz", members["arrays.npz"])
        archive.writestr("manifest.json", b"{}")
        archive.comment = b"skmnist-sha256:" + b"0" * 64
    import hashlib

    data = buffer.getvalue()
    return data[:-64] + hashlib.sha256(data[:-64]).hexdigest().encode()


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    return buffer.getvalue()


def _set_array(key, value):
    def change(arrays):
        arrays[key] = value(arrays[key])

    return change


def _huge_float64(array):
    array = array.astype(np.float64)
    array.flat[0] = 1e39  # finite in float64, inf in float32
    return array


FORGED = {
    "epochs=0": (lambda b: _resealed(b, _params("epochs", 0)), "'epochs' parameter 0"),
    "learning_rate=-1": (
        lambda b: _resealed(b, _params("learning_rate", -1)),
        "'learning_rate' parameter -1",
    ),
    "unknown key": (
        lambda b: _resealed(b, _params("no_such", 1)),
        "parameters ['no_such'] that MNISTClassifier does not have",
    ),
    "glu activation": (
        lambda b: _resealed(b, _params("activation", "glu")),
        "activation='glu' is not one",
    ),
    "missing state": (
        lambda b: _with_arrays(b, lambda a: a.pop("state/13")),
        "do not fit its optimizer",
    ),
    "misshapen state": (
        lambda b: _with_arrays(b, _set_array("state/3", lambda s: s.T.copy())),
        "'state/3' of shape",
    ),
    "float64 1e39 weights": (
        lambda b: _with_arrays(b, _set_array("hidden_1/kernel", _huge_float64)),
        "'hidden_1/kernel' is float64, not the float32",
    ),
    "float32 inf weights": (
        lambda b: _with_arrays(
            b, _set_array("logits/bias", lambda a: np.full_like(a, np.inf))
        ),
        "'logits/bias' holds NaN or infinite",
    ),
    "uint64 weights": (
        lambda b: _with_arrays(
            b, _set_array("logits/bias", lambda a: np.full(a.shape, 2**63, np.uint64))
        ),
        "'logits/bias' is uint64, not the float32",
    ),
    "duplicate npz member": (_duplicate_npz_member, "['logits/bias.npy'] twice"),
    "duplicate manifest": (_duplicate_manifest, "['manifest.json'] twice"),
    "history 'inf'": (lambda b: _resealed(b, _history("inf")), "history_ holds"),
    "history True": (lambda b: _resealed(b, _history(True)), "history_ holds"),
    "history -5": (lambda b: _resealed(b, _history(-5)), "holds [-5.0], not in"),
    "history accuracy 2": (
        lambda b: _resealed(
            b, _set("classifier", "fitted", "history_", "accuracy", [2, 2, 2])
        ),
        "'accuracy' holds [2.0, 2.0, 2.0]",
    ),
    "manifest key twice": (
        lambda b: _resealed_text(b, '"epochs": 3', '"epochs": 3, "epochs": 0'),
        "names ['epochs'] twice",
    ),
    "callbacks": (
        lambda b: _resealed(b, _params("callbacks", [])),
        "'callbacks' parameter",
    ),
    "early stopping without validation": (
        lambda b: _resealed(
            b,
            lambda m: m["classifier"]["params"].update(
                early_stopping=True, validation_split=0.0
            ),
        ),
        "early_stopping=True needs validation_split > 0",
    ),
    "adafactor": (
        lambda b: _resealed(b, _params("optimizer", "adafactor")),
        "optimizer='adafactor' is not one",
    ),
    "sgd name, adam state": (
        lambda b: _resealed(b, _params("optimizer", "sgd")),
        "do not fit its optimizer",
    ),
    "pipeline parameter": (
        lambda b: _resealed(b, _set("pipeline", "params", "bogus", 1)),
        "its pipeline has parameters ['bogus']",
    ),
    "format version 2.0": (
        lambda b: _resealed(b, _set("format_version", 2.0)),
        "format version 2.0",
    ),
    "unknown manifest entry": (
        lambda b: _resealed(b, _set("weights_url", "http://x")),
        "unknown entries ['weights_url']",
    ),
    "continuous classes": (
        lambda b: _resealed(b, _classes([0.5, *range(1, 10)], "<f8")),
        "are not labels a fit takes",
    ),
    "mixed classes": (
        lambda b: _resealed(b, _classes([0, *map(str, range(1, 10))], "|O")),
        "are not labels a fit takes",
    ),
}


def _classes(labels, dtype):
    def edit(manifest):
        fitted = manifest["classifier"]["fitted"]
        fitted["classes_"] = {"array": labels, "dtype": dtype, "shape": [len(labels)]}

    return edit


def _resealed_text(data, old, new):
    members = _members(data)
    text = json.dumps(json.loads(members["manifest.json"]))
    assert old in text
    members["manifest.json"] = text.replace(old, new, 1).encode()
    return _seal(members)


@pytest.mark.parametrize("finding", FORGED)
def test_every_reader_refuses_each_forged_file(
    finding, model_bytes, tmp_path, digits_npy, capsys
):
    forge, match = FORGED[finding]
    _all_refuse(forge(model_bytes), tmp_path, digits_npy, capsys, match)


def test_the_unforged_file_is_read_by_every_reader(
    model_bytes, tmp_path, digits_npy, capsys
):
    path = tmp_path / "model.skmnist"
    path.write_bytes(model_bytes)
    verdicts = _readers(path, digits_npy, capsys)
    assert not any(refused for refused, _ in verdicts.values()), verdicts


_OVERFLOW = (
    "ignore:overflow encountered:RuntimeWarning",
    "ignore:invalid value encountered:RuntimeWarning",
)


def test_a_parameter_missing_from_a_file_takes_its_default_in_every_reader(
    model_bytes, tmp_path, digits_npy, capsys
):
    # A file written before the parameter existed.
    def edit(manifest):
        del manifest["classifier"]["params"]["steps_per_execution"]

    path = tmp_path / "older.skmnist"
    path.write_bytes(_resealed(model_bytes, edit))
    verdicts = _readers(path, digits_npy, capsys)
    assert not any(refused for refused, _ in verdicts.values()), verdicts
    assert load_model(path)[-1].steps_per_execution == "auto"
    assert load_predictor(path).get_params()["steps_per_execution"] == "auto"


@pytest.mark.filterwarnings(*_OVERFLOW)
def test_huge_finite_weights_give_no_nan_answer(
    model_bytes, tmp_path, digits_npy, capsys
):
    # Finite in float32, but the sums overflow: every probability is NaN. The
    # loaders predict NaN as Keras would; the commands and the service refuse.
    def huge(arrays):
        arrays["hidden_1/kernel"] = np.full_like(arrays["hidden_1/kernel"], 3e38)

    path = tmp_path / "huge.skmnist"
    path.write_bytes(_with_arrays(model_bytes, huge))
    assert np.isnan(load_predictor(path).predict_proba(np.load(digits_npy))).any()
    for json_flag in ([], ["--json"]):
        status = main(["predict", *json_flag, str(path), str(digits_npy)])
        out, err = capsys.readouterr()
        assert status == 2 and "nan" not in out.lower()
        assert "not finite" in err
    from skmnist.serve import make_app

    with pytest.raises(ValueError, match="not finite"):
        make_app(path)


@pytest.mark.filterwarnings(*_OVERFLOW)
def test_a_model_of_letter_classes_with_nan_outputs_is_refused_by_serve(
    model_bytes, tmp_path
):
    letters = [chr(ord("a") + i) for i in range(10)]

    def edit(manifest):
        fitted = manifest["classifier"]["fitted"]
        fitted["classes_"] = {"array": letters, "dtype": "<U1", "shape": [10]}

    arrays = _arrays(model_bytes)
    arrays["hidden_1/kernel"] = np.full_like(arrays["hidden_1/kernel"], 3e38)
    path = tmp_path / "letters.skmnist"
    path.write_bytes(_resealed(model_bytes, edit, arrays_npz=_npz(arrays)))
    from skmnist.serve import make_app

    with pytest.raises(ValueError, match="not finite"):
        make_app(path)


# -- text from files is data ----------------------------------------------------------


def _hostile_text(model_bytes):
    label = f"{ESC}[2J{ESC}]0;pwned\x07x\nfake.png: 7 (p=1.00)"

    def edit(manifest):
        fitted = manifest["classifier"]["fitted"]
        labels = [label] + [str(i) for i in range(1, 10)]
        fitted["classes_"] = {"array": labels, "dtype": "<U40", "shape": [10]}
        manifest["pipeline"]["steps"] = [f"flat{ESC}[31m", "clf\r"]
        manifest["versions"]["skmnist"] = f"9{ESC}[0m\x9b"

    return _resealed(model_bytes, edit)


def test_info_and_predict_print_no_raw_control_character_from_a_file(
    model_bytes, tmp_path, digits_npy, capsys
):
    path = tmp_path / f"evil{ESC}[1m.skmnist"
    path.write_bytes(_hostile_text(model_bytes))
    predict = ["predict", "--top-k", "10", str(path), str(digits_npy)]
    for args in (["info", str(path)], predict):
        assert main(args) == 0
        out, err = capsys.readouterr()
        for text in (out, err):
            assert ESC not in text and "\r" not in text and "\x07" not in text
            assert "\x9b" not in text
        assert "\\x1b[2J\\x1b]0;pwned\\x07x\\nfake.png" in out
        # One line per input: a label cannot forge a line of its own.
        if args[0] == "predict":
            assert len(out.splitlines()) == 3


def test_errors_about_a_file_of_a_hostile_name_are_escaped(
    model_bytes, tmp_path, digits_npy, capsys
):
    damaged = tmp_path / f"bad{ESC}]0;x\x07.skmnist"
    damaged.write_bytes(model_bytes[:-1])
    missing = tmp_path / f"gone{ESC}[2J.npy"
    for args in (
        ["info", str(damaged)],
        ["predict", str(damaged), str(digits_npy)],
        ["info", str(tmp_path / f"none{ESC}[2J.skmnist")],
        ["predict", str(tmp_path / "x.skmnist").replace("x", "y"), str(missing)],
    ):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.startswith("skmnist: error: ") and ESC not in err
    path = tmp_path / "model.skmnist"
    path.write_bytes(model_bytes)
    assert main(["predict", str(path), str(digits_npy), str(missing)]) == 1
    out, err = capsys.readouterr()
    assert "gone\\x1b[2J.npy" in err and ESC not in err + out


def test_predict_json_is_strict_json_with_the_labels_as_data(
    model_bytes, tmp_path, digits_npy, capsys
):
    path = tmp_path / "evil.skmnist"
    path.write_bytes(_hostile_text(model_bytes))
    assert main(["predict", "--json", str(path), str(digits_npy)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3

    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    answers = [json.loads(line, parse_constant=refuse) for line in lines]
    labels = {answer["label"] for answer in answers}
    assert labels <= set(load_predictor(path).classes_.tolist())
    assert all(math.isfinite(p) for a in answers for p in a["probabilities"].values())


# -- the constraints' table is the classifier's ---------------------------------------

PROBES = [
    0, 1, -1, 2, 3, 2**32, 2**32 - 1, 0.0, 0.5, 1.0, 1.5, -0.5, 1e-3, 10.0,
    True, False, np.bool_(True), np.int64(3), np.float32(1e-3), None, "auto",
    "epoch", "balanced", "relu", "adam", "", {}, {"a": 1.0}, [], float("nan"),
    float("inf"),
]  # fmt: skip


@pytest.mark.parametrize("name", PARAMETERS)
def test_the_table_accepts_what_the_classifier_accepts(name):
    from sklearn.utils._param_validation import validate_parameter_constraints

    from skmnist import MNISTClassifier
    from skmnist.estimator._parameters import DEFAULTS

    assert set(PARAMETERS) == set(MNISTClassifier().get_params()) == set(DEFAULTS)
    constraints = MNISTClassifier._parameter_constraints
    for value in PROBES:
        try:
            validate_parameter_constraints(
                {name: constraints[name]}, {name: value}, "MNISTClassifier"
            )
            if isinstance(value, bool):  # which scikit-learn takes for 1 and 0
                MNISTClassifier(**{name: value})._check_params()
            classifier = True
        except ValueError:
            classifier = False
        try:
            check_parameter(name, value)
            table = True
        except ValueError:
            table = False
        assert table == classifier, f"{name}={value!r}: table {table}"


def _optimizer_configs():
    yield from ((name, {}) for name in OPTIMIZERS)
    yield "Adam", {"amsgrad": True}
    yield "AdamW", {"amsgrad": True}
    yield "SGD", {"momentum": 0.9}
    yield "RMSprop", {"momentum": 0.5}
    yield "RMSprop", {"momentum": 0.5, "centered": True}


@pytest.mark.parametrize("name, config", list(_optimizer_configs()))
def test_the_optimizer_table_is_the_state_keras_keeps(name, config):
    import keras

    shapes = [(3, 2), (2,), (2, 4), (4,)]
    variables = [keras.Variable(np.zeros(s, np.float32)) for s in shapes]
    optimizer = getattr(keras.optimizers, name)(**config)
    optimizer.build(variables)
    before, after = extra_scalars(name, keras.__version__)
    expected = [(), ()] + [()] * before
    for group in optimizer_slots(name, config):
        expected += [s for s in shapes for _ in range(group)]
    expected += [()] * after
    assert [tuple(v.shape) for v in optimizer.variables] == expected
    short = OPTIMIZERS[name]
    if short is not None:
        assert type(keras.optimizers.get(short)) is type(optimizer)
        assert optimizer_class(short.upper()) == name


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop", "nadam", "adagrad"])
def test_models_of_each_optimizer_round_trip_through_the_reader(
    optimizer, blobs, tmp_path
):
    from skmnist import MNISTClassifier

    X, y = blobs
    params = dict(hidden_size=4, epochs=1, validation_split=0.0, random_state=0)
    clf = MNISTClassifier(optimizer=optimizer, dropout=0.2, **params).fit(X, y)
    save_model(clf, tmp_path / "m.skmnist")
    loaded = load_model(tmp_path / "m.skmnist")
    assert_array_equal(loaded.predict(X), clf.predict(X))
    light = load_predictor(tmp_path / "m.skmnist")
    assert_array_equal(light.predict(X), clf.predict(X))


def test_save_refuses_a_model_whose_file_the_reader_would_refuse(blobs, tmp_path):
    from skmnist import MNISTClassifier

    X, y = blobs
    clf = MNISTClassifier(hidden_size=4, epochs=1, optimizer="adafactor").fit(X, y)
    with pytest.raises(ValueError, match="load_model would refuse.*'adafactor'"):
        save_model(clf, tmp_path / "m.skmnist")
    assert list(tmp_path.iterdir()) == []


def test_a_scale_set_after_fit_is_refused_at_save_leaving_no_file(tmp_path):
    """FlattenScaler learned scale_=255; scale=1.0 set afterwards would make a
    file that no reader loads: save_model refuses it and writes nothing."""
    from skmnist import load_mnist_sample, make_mnist_pipeline

    X, y = load_mnist_sample(return_X_y=True)
    pipe = make_mnist_pipeline(hidden_size=8, epochs=1, random_state=0)
    pipe.fit(X[:300], y[:300]).set_params(flatten__scale=1.0)
    with pytest.raises(ValueError, match="load_model would refuse.*scale_ 255.0"):
        save_model(pipe, tmp_path / "m.skmnist")
    assert list(tmp_path.iterdir()) == []
