"""save_model / load_model: pickle-free, atomic, checked model files."""

import errno
import hashlib
import io
import json
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile

import joblib
import keras
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

import skmnist._persistence as persistence
from skmnist import (
    FlattenScaler,
    MNISTClassifier,
    load_mnist_sample,
    make_mnist_pipeline,
)
from skmnist._model import build_mlp
from skmnist._persistence import ModelFileError, load_model, save_model

# Tiny fits: no validation split (one traced Keras function less per fit).
FAST = dict(
    hidden_size=16, epochs=1, batch_size=32, learning_rate=0.01, validation_split=0.0
)


def _data(labels, n_per_class=20, n_features=8, seed=0):
    """Separable blobs: n_per_class rows of each label, in a shuffled order."""
    rng = np.random.RandomState(seed)
    labels = np.asarray(labels)
    centers = rng.uniform(0, 1, size=(len(labels), n_features))
    index = np.repeat(np.arange(len(labels)), n_per_class)
    X = centers[index] + rng.normal(scale=0.1, size=(len(index), n_features))
    perm = rng.permutation(len(index))
    return X[perm].astype(np.float32), labels[index][perm]


def _fit(X, y, **params):
    return MNISTClassifier(**{**FAST, "random_state": 0, **params}).fit(X, y)


def _save_load(estimator, tmp_path, name="model.skmnist"):
    path = tmp_path / name
    save_model(estimator, path)
    return load_model(path)


def _assert_same_classifier(loaded, original, X):
    assert type(loaded) is MNISTClassifier
    check_is_fitted(loaded)
    assert_array_equal(loaded.predict_proba(X), original.predict_proba(X))
    predicted = loaded.predict(X)
    assert_array_equal(predicted, original.predict(X))
    assert predicted.dtype == original.predict(X).dtype
    assert loaded.classes_.dtype == original.classes_.dtype
    assert loaded.classes_.tolist() == original.classes_.tolist()
    for name in ("n_features_in_", "n_classes_", "n_iter_", "history_", "target_type_"):
        assert getattr(loaded, name) == getattr(original, name), name

    # Every public fitted attribute comes back (a new one in _classifier.py must
    # be saved too), and the private state scikeras's predict and fit read.
    def fitted_names(estimator):
        return {k for k in vars(estimator) if k.endswith("_") and k[0] != "_"}

    assert fitted_names(loaded) == fitted_names(original)
    assert {"_fit_callbacks", "_predict_callbacks", "_random_state"} <= set(
        vars(loaded)
    )


@pytest.fixture(scope="module")
def str_data():
    return _data(["a", "b", "c"])


@pytest.fixture(scope="module")
def fitted(str_data):
    """A small MNISTClassifier fitted on string labels 'a', 'b', 'c'."""
    return _fit(*str_data, epochs=2, validation_split=0.1)


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    """(path, bytes) of `fitted` saved by save_model."""
    path = tmp_path_factory.mktemp("saved") / "fitted.skmnist"
    save_model(fitted, path)
    return path, path.read_bytes()


@pytest.fixture(scope="module")
def digits():
    X, y = load_mnist_sample(return_X_y=True)
    X_test, y_test = load_mnist_sample(subset="test", return_X_y=True)
    return X, y, X_test, y_test


@pytest.fixture(scope="module")
def fitted_pipeline(digits):
    X, y, _, _ = digits
    return make_mnist_pipeline(hidden_size=16, epochs=1, random_state=0).fit(X, y)


# -- round trips ----------------------------------------------------------------------


def test_classifier_round_trip(fitted, saved, str_data):
    X, y = str_data
    loaded = load_model(saved[0])
    _assert_same_classifier(loaded, fitted, X)
    assert loaded.score(X, y) == fitted.score(X, y)
    assert loaded.get_params() == fitted.get_params()
    assert loaded.feature_encoder_ is not None and loaded.target_encoder_ is not None
    assert persistence._plain(loaded.model_.get_config()) == persistence._plain(
        fitted.model_.get_config()
    )
    for a, b in zip(
        loaded.model_.get_weights(), fitted.model_.get_weights(), strict=True
    ):
        assert_array_equal(a, b)
    # The optimizer state comes back too, so that training can go on.
    assert int(loaded.model_.optimizer.iterations) == int(
        fitted.model_.optimizer.iterations
    )
    assert not hasattr(clone(loaded), "model_")


@pytest.mark.parametrize(
    "labels",
    [
        np.array([3, 5, 7]),
        np.array([False, True]),
        np.array(["no", "yes"], dtype=object),
    ],
    ids=["int", "bool", "object-str-binary"],
)
def test_label_types_round_trip(labels, tmp_path):
    X, y = _data(labels, n_per_class=15)
    clf = _fit(X, y)
    loaded = _save_load(clf, tmp_path)
    _assert_same_classifier(loaded, clf, X)
    assert loaded.target_encoder_._target_type == clf.target_encoder_._target_type
    assert loaded.score(X, y) == clf.score(X, y)


def test_dataframe_feature_names_round_trip(tmp_path):
    X, y = _data([0, 1, 2], n_features=16)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(16)])
    clf = _fit(frame, y)
    loaded = _save_load(clf, tmp_path, "clf.skmnist")
    assert_array_equal(loaded.feature_names_in_, clf.feature_names_in_)
    assert loaded.feature_names_in_.dtype == object
    assert_array_equal(loaded.predict_proba(frame), clf.predict_proba(frame))
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(frame.rename(columns={"f0": "other"}))

    # A pipeline whose FlattenScaler saw named pixel columns (images of 4 x 4).
    pixels = pd.DataFrame(
        np.rint(X * 100).clip(0, 255), columns=[f"pixel{i + 1}" for i in range(16)]
    )
    pipe = make_mnist_pipeline(**FAST, random_state=0).fit(pixels, y)
    loaded = _save_load(pipe, tmp_path, "pipe.skmnist")
    scaler = loaded.named_steps["flatten"]
    assert scaler.image_shape_ == (4, 4) and scaler.n_features_in_ == 16
    assert_array_equal(loaded.feature_names_in_, pipe.feature_names_in_)
    assert_array_equal(loaded.predict_proba(pixels), pipe.predict_proba(pixels))


def test_pipeline_of_raw_images_round_trip(fitted_pipeline, digits, tmp_path):
    _, _, X_test, y_test = digits
    path = tmp_path / "digits"  # any name will do
    save_model(fitted_pipeline, path)
    loaded = load_model(path)
    assert isinstance(loaded, Pipeline)
    assert list(loaded.named_steps) == ["flatten", "mlp"]
    assert type(loaded.named_steps["flatten"]) is FlattenScaler
    assert loaded.get_params(deep=True).keys() == fitted_pipeline.get_params().keys()
    original_scaler = fitted_pipeline.named_steps["flatten"]
    scaler = loaded.named_steps["flatten"]
    assert scaler.get_params() == original_scaler.get_params()
    assert scaler.image_shape_ == original_scaler.image_shape_ == (28, 28)
    assert scaler.n_features_in_ == 784
    assert not hasattr(scaler, "feature_names_in_")
    _assert_same_classifier(
        loaded.named_steps["mlp"],
        fitted_pipeline.named_steps["mlp"],
        scaler.transform(X_test),
    )
    assert_array_equal(
        loaded.predict_proba(X_test), fitted_pipeline.predict_proba(X_test)
    )
    assert loaded.score(X_test, y_test) == fitted_pipeline.score(X_test, y_test)


_LOAD_AND_PREDICT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from skmnist import load_model
    model = load_model(sys.argv[1])
    X = np.load(sys.argv[2], allow_pickle=False)
    np.save(sys.argv[3], model.predict_proba(X), allow_pickle=False)
    np.save(sys.argv[4], model.predict(X), allow_pickle=False)
    """
)


def test_fresh_process_loads_and_predicts_identically(
    fitted_pipeline, digits, tmp_path
):
    _, _, X_test, _ = digits
    save_model(fitted_pipeline, tmp_path / "digits.skmnist")
    np.save(tmp_path / "X.npy", X_test)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    args = [str(tmp_path / n) for n in ("digits.skmnist", "X.npy", "p.npy", "y.npy")]
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_AND_PREDICT, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    proba = np.load(tmp_path / "p.npy", allow_pickle=False)
    assert_array_equal(proba, fitted_pipeline.predict_proba(X_test))
    assert_array_equal(
        np.load(tmp_path / "y.npy", allow_pickle=False), fitted_pipeline.predict(X_test)
    )


def test_training_continues_after_load(str_data, tmp_path):
    X, y = str_data
    original = _fit(X, y, validation_split=0.1)
    loaded = _save_load(original, tmp_path)
    # warm_start: the same next epoch as the original's (weights and Adam state).
    for clf in (original, loaded):
        clf.set_params(warm_start=True, epochs=1).fit(X, y)
    assert_array_equal(loaded.predict_proba(X), original.predict_proba(X))
    assert loaded.history_ == original.history_
    # partial_fit appends one epoch to the history.
    n_epochs = len(loaded.history_["loss"])
    loaded.partial_fit(X, y)
    assert len(loaded.history_["loss"]) == n_epochs + 1
    assert loaded.predict(X).dtype == y.dtype


def test_hyperparameters_round_trip(str_data, tmp_path):
    X, y = str_data
    clf = _fit(
        X,
        y,
        epochs=2,
        validation_split=0.1,
        n_hidden_layers=1,
        activation="tanh",
        dropout=0.25,
        early_stopping=True,
        patience=1,
        optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.5),
        class_weight={"a": 1.0, "b": 2.0, "c": 0.5},
        random_state=np.random.RandomState(3),
    )
    assert hasattr(clf, "best_epoch_")
    loaded = _save_load(clf, tmp_path)
    _assert_same_classifier(loaded, clf, X)
    assert loaded.best_epoch_ == clf.best_epoch_
    params, original = loaded.get_params(), clf.get_params()
    optimizer = params.pop("optimizer")
    assert type(optimizer) is keras.optimizers.SGD
    assert optimizer.get_config() == original.pop("optimizer").get_config()
    random_state = params.pop("random_state")
    for a, b in zip(
        random_state.get_state(), original.pop("random_state").get_state(), strict=True
    ):
        assert_array_equal(a, b)
    assert params == original
    assert loaded.class_weight == {"a": 1.0, "b": 2.0, "c": 0.5}
    # The restored optimizer is a working one.
    loaded.set_params(warm_start=True, epochs=1).fit(X, y)


def test_parameter_encoding_is_exact_json():
    values = {
        "none": None,
        "bool": True,
        "int": 3,
        "np_int": np.int64(4),
        "float": 2.5,
        "np_float": np.float32(0.5),
        "str": "relu",
        "list": [1, "a", None],
        "tuple": (1, (2, 3)),
        "dict": {0: 1.0, "x": [2], True: None},
        "type": np.float64,
        "dtype": np.dtype(">i4"),
    }
    text = json.dumps(persistence._encode_params(values, "test"), allow_nan=False)
    decoded = persistence._decode_params(json.loads(text), "test")
    assert decoded == values
    assert type(decoded["tuple"]) is tuple and type(decoded["tuple"][1]) is tuple
    assert decoded["type"] is np.float64 and decoded["dtype"] == np.dtype(">i4")
    assert [type(k) for k in decoded["dict"]] == [int, str, bool]


@pytest.mark.parametrize(
    "classes",
    [
        np.array([-1.0, 2.0]),
        np.array([0.5, 1.5], dtype=np.float32),
        np.array([0, 1, 255], dtype=np.uint8),
        np.array([-(2**62), 2**62], dtype=">i8"),
        np.array(["", "é", "digit seven"]),
        np.array(["x", 1, 2.5, True], dtype=object),
    ],
)
def test_label_encoding_is_exact(classes):
    spec = json.loads(json.dumps(persistence._encode_labels(classes)))
    decoded = persistence._decode_labels(spec)
    assert decoded.dtype == classes.dtype
    assert decoded.tolist() == classes.tolist()
    assert [type(v) for v in decoded.tolist()] == [type(v) for v in classes.tolist()]


def test_label_types_that_are_not_data_are_refused():
    with pytest.raises(TypeError, match="class labels"):
        persistence._encode_labels(np.array(["2020-01-01"], dtype="datetime64[D]"))
    with pytest.raises(TypeError, match="class labels"):
        persistence._encode_labels(np.array([None, (1, 2)], dtype=object))


class _CustomAdam(keras.optimizers.Adam):
    pass


@pytest.mark.parametrize(
    "name, value, error, match",
    [
        ("callbacks", [keras.callbacks.History()], ValueError, "callbacks"),
        ("optimizer", _CustomAdam(), TypeError, "not a built-in Keras optimizer"),
        ("class_weight", {"a": object()}, TypeError, r"class_weight\['a'\]"),
        ("learning_rate", float("nan"), ValueError, "learning_rate"),
    ],
)
def test_hyperparameters_that_are_not_data_are_refused(
    fitted, tmp_path, monkeypatch, name, value, error, match
):
    monkeypatch.setattr(fitted, name, value)
    with pytest.raises(error, match=match):
        save_model(fitted, tmp_path / "model.skmnist")
    assert list(tmp_path.iterdir()) == []


def test_unfitted_and_unsupported_estimators_are_refused(fitted, str_data, tmp_path):
    path = tmp_path / "model.skmnist"
    for unfitted in (MNISTClassifier(), make_mnist_pipeline()):
        with pytest.raises(NotFittedError):
            save_model(unfitted, path)
    X, y = str_data
    scaler = FlattenScaler(scale=10.0)

    class MyClassifier(MNISTClassifier):
        pass

    unsupported = [
        LogisticRegression().fit(X, y),
        MNISTClassifier,
        MyClassifier(),
        Pipeline([("flatten", scaler), ("mlp", fitted), ("extra", FlattenScaler())]),
        Pipeline([("scale", scaler), ("mlp", fitted)]),
        Pipeline([("mlp", fitted)]),
        Pipeline([("flatten", LogisticRegression()), ("mlp", fitted)]),
    ]
    for estimator in unsupported:
        with pytest.raises(TypeError, match="save_model saves"):
            save_model(estimator, path)
    assert list(tmp_path.iterdir()) == []


# -- writing atomically -----------------------------------------------------------


def test_save_replaces_an_existing_file(fitted, str_data, tmp_path):
    X, _ = str_data
    path = tmp_path / "model.skmnist"
    path.write_bytes(b"an older model")
    save_model(fitted, str(path))
    assert [p.name for p in tmp_path.iterdir()] == ["model.skmnist"]
    assert_array_equal(load_model(str(path)).predict_proba(X), fitted.predict_proba(X))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(IsADirectoryError):
        save_model(fitted, tmp_path)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        save_model(fitted, tmp_path / "missing" / "model.skmnist")


def _fail_midway(f, data):
    f.write(bytes(data[: len(data) // 2]))
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("failing_step", ["write", "fsync", "replace"])
@pytest.mark.parametrize("existing", [True, False])
def test_failed_save_leaves_no_partial_file(
    fitted, tmp_path, monkeypatch, failing_step, existing
):
    path = tmp_path / "model.skmnist"
    if existing:
        path.write_bytes(b"the previous model")

    def fail(*args, **kwargs):
        raise OSError(errno.EIO, f"simulated {failing_step} failure")

    if failing_step == "write":
        monkeypatch.setattr(persistence, "_write_all", _fail_midway)
    else:
        monkeypatch.setattr(os, failing_step, fail)
    with pytest.raises(OSError, match="No space|simulated"):
        save_model(fitted, path)
    monkeypatch.undo()
    if existing:
        assert [p.name for p in tmp_path.iterdir()] == ["model.skmnist"]
        assert path.read_bytes() == b"the previous model"
    else:
        assert list(tmp_path.iterdir()) == []


# -- damaged and foreign files ------------------------------------------------------


def _write(tmp_path, data, name="model.skmnist"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _load_error(path, match=None):
    with pytest.raises(ModelFileError, match=match) as info:
        load_model(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)
    return info.value


def test_flipped_bytes_anywhere_are_a_clear_error(saved, tmp_path):
    _, data = saved
    n = len(data)
    offsets = {0, 1, 10, 30, 40, n // 4, n // 2, 3 * n // 4, n - 100, n - 70, n - 1}
    offsets |= set(range(0, n, max(1, n // 40)))
    for offset in sorted(offsets):
        damaged = bytearray(data)
        damaged[offset] ^= 0xFF
        _load_error(_write(tmp_path, bytes(damaged)))


def test_truncated_and_empty_files_are_a_clear_error(saved, tmp_path):
    _, data = saved
    for size in (1, 4, 100, len(data) // 2, len(data) - 64, len(data) - 1):
        _load_error(_write(tmp_path, data[:size]), "truncated|not a zip")
    _load_error(_write(tmp_path, b""), "empty")


def test_foreign_files_are_a_clear_error(fitted, tmp_path):
    _load_error(_write(tmp_path, b"digits, not a model\n", "notes.txt"), "not a zip")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    _load_error(_write(tmp_path, buffer.getvalue(), "some.zip"), "checksum")
    # A plain .keras model.
    keras_path = tmp_path / "net.keras"
    fitted.model_.save(keras_path)
    _load_error(keras_path, "keras.saving.load_model")
    # joblib files: refused, never unpickled.
    joblib.dump({"a": 1}, tmp_path / "plain.joblib")
    _load_error(tmp_path / "plain.joblib", "pickle")
    joblib.dump({"a": 1}, tmp_path / "packed.joblib", compress=3)
    _load_error(tmp_path / "packed.joblib", "pickle")


class _Trap:
    """Unpickling this creates a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (self.marker, "w")


def test_malicious_pickle_is_never_run(tmp_path):
    marker = tmp_path / "ran"
    path = _write(tmp_path, pickle.dumps(_Trap(str(marker))), "evil.skmnist")
    _load_error(path, "pickle")
    assert not marker.exists()


def test_load_never_unpickles(saved, str_data, fitted, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("load_model unpickled something")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(np, "load", refuse)
    X, _ = str_data
    assert_array_equal(load_model(saved[0]).predict_proba(X), fitted.predict_proba(X))


def _members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        members = {
            name: archive.read(name)
            for name in archive.namelist()
            if name != "manifest.json"
        }
    return manifest, members


def _repack(data, edit_manifest=None, members=None, rehash=True):
    """A validly sealed file with an edited manifest and/or replaced members."""
    manifest, old_members = _members(data)
    members = {**old_members, **(members or {})}
    if edit_manifest is not None:
        edit_manifest(manifest)
    if rehash:
        manifest["members"] = {
            name: {"sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob)}
            for name, blob in members.items()
        }
    return persistence._pack(manifest, members)


def _keras_bytes(model, tmp_path):
    path = tmp_path / "member.keras"
    if not model.compiled:
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.save(path)
    return path.read_bytes()


def test_file_format_is_plain_zip_and_json(saved):
    path, data = saved
    assert data[-64:] == hashlib.sha256(data[:-64]).hexdigest().encode()
    assert data[-79:-64] == b"skmnist-sha256:"
    manifest, members = _members(data)
    assert manifest["format"] == "skmnist-model"
    assert manifest["format_version"] == 1
    assert manifest["skmnist_version"] == __import__("skmnist").__version__
    assert set(members) == {"model.keras"}
    entry = manifest["members"]["model.keras"]
    assert entry == {
        "sha256": hashlib.sha256(members["model.keras"]).hexdigest(),
        "size": len(members["model.keras"]),
    }
    spec = manifest["estimator"]
    assert spec["class"] == "skmnist.MNISTClassifier"
    assert spec["params"]["hidden_size"] == 16
    assert spec["fitted"]["classes"] == {"dtype": "<U1", "values": ["a", "b", "c"]}
    # The member is a Keras .keras file that Keras itself loads.
    assert zipfile.ZipFile(io.BytesIO(members["model.keras"])).namelist()
    # A sealed repack of unchanged content loads.
    assert load_model(_write(path.parent.parent, _repack(data))) is not None


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def edit(manifest):
        node = manifest
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return edit


@pytest.mark.parametrize(
    "edit, match",
    [
        (_set("format", "other-format"), "format is 'other-format'"),
        (_set("format_version", 2), "newer skmnist"),
        (_set("format_version", "1"), "format version '1' is not valid"),
        (_set("estimator", "x"), "no valid 'estimator'"),
        (_set("estimator", "class", "sklearn.svm.SVC"), "unsupported estimator"),
        (_set("estimator", "params", "hidden_size", 32), "not the network of its"),
        (_set("estimator", "params", "activation", "tanh"), "not the network of its"),
        (_set("estimator", "params", "n_hidden_layers", 1), "not the network of its"),
        (_set("estimator", "params", "hidden_size", -1), "hidden_size"),
        (_set("estimator", "params", "no_such_param", 1), "no_such_param"),
        (_set("estimator", "params", "optimizer", "sgd"), "SGD"),
        (
            _set("estimator", "fitted", "classes", "values", ["a", "b", "c", "d"]),
            "not the network of its",
        ),
        (
            _set("estimator", "fitted", "classes", "values", ["c", "b", "a"]),
            "sorted and unique",
        ),
        (
            _set("estimator", "fitted", "classes", "values", ["a", "b", "cc"]),
            "do not fit the dtype",
        ),
        (_set("estimator", "fitted", "classes", "dtype", "<M8[s]"), "not supported"),
        (_set("estimator", "fitted", "n_features_in", 9), "not the network of its"),
        (_set("estimator", "fitted", "feature_names_in", ["x"]), "feature_names_in"),
        (_set("estimator", "fitted", "history", "loss", ["oops"]), "number"),
        (_set("estimator", "keras_model", "elsewhere.keras"), "lacks the Keras model"),
        (
            _set("estimator", "params", "random_state", {"__kind__": "pickle"}),
            "unknown kind",
        ),
    ],
)
def test_inconsistent_descriptions_are_a_clear_error(saved, tmp_path, edit, match):
    _load_error(_write(tmp_path, _repack(saved[1], edit)), match)


def test_members_that_disagree_with_the_manifest_are_refused(saved, tmp_path):
    data = saved[1]
    _, members = _members(data)
    other = _keras_bytes(build_mlp(8, 3, hidden_size=16), tmp_path)
    # A member replaced without updating its SHA-256.
    _load_error(
        _write(tmp_path, _repack(data, members={"model.keras": other}, rehash=False)),
        "does not match the size and SHA-256",
    )
    # A member the manifest does not list.
    _load_error(
        _write(tmp_path, _repack(data, _set("members", {}), rehash=False)),
        "manifest lists",
    )
    _load_error(
        _write(tmp_path, _repack(data, members={"extra.bin": b"x"}, rehash=False)),
        "manifest lists",
    )


@pytest.mark.filterwarnings("ignore:Skipping:UserWarning")
def test_networks_that_are_not_skmnist_s_are_refused(saved, tmp_path):
    data = saved[1]

    def refused(model, match):
        member = _keras_bytes(model, tmp_path)
        path = _write(tmp_path, _repack(data, members={"model.keras": member}))
        _load_error(path, match)

    # Weights whose shapes disagree with the hyperparameters (hidden_size=16).
    refused(build_mlp(8, 3, hidden_size=8), "not the network of its")
    # Another kind of Keras model.
    sequential = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(3, activation="softmax")]
    )
    refused(sequential, "not a functional model")
    inputs = keras.Input((8,), name="pixels")
    x = keras.layers.BatchNormalization()(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="probabilities")(x)
    refused(keras.Model(inputs, outputs, name="mnist_mlp"), "BatchNormalization")
    # A .keras archive that is not one.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", "{}")
    path = _write(tmp_path, _repack(data, members={"model.keras": buffer.getvalue()}))
    _load_error(path, "not those of a Keras model")
    path = _write(tmp_path, _repack(data, members={"model.keras": b"garbage"}))
    _load_error(path, "unreadable")


def _edit_keras(member, edit_config=None, weights=None):
    """The .keras member with its config.json edited and/or other weights."""
    source = zipfile.ZipFile(io.BytesIO(member))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in source.namelist():
            blob = source.read(name)
            if name == "config.json" and edit_config is not None:
                config = json.loads(blob)
                edit_config(config)
                blob = json.dumps(config)
            if name == "model.weights.h5" and weights is not None:
                blob = weights
            archive.writestr(name, blob)
    return buffer.getvalue()


@pytest.mark.filterwarnings("ignore:Skipping:UserWarning")
def test_weights_that_disagree_with_the_config_are_refused(saved, tmp_path):
    data = saved[1]
    _, members = _members(data)
    member = members["model.keras"]
    smaller = _keras_bytes(build_mlp(8, 3, hidden_size=8), tmp_path)
    with zipfile.ZipFile(io.BytesIO(smaller)) as archive:
        weights = archive.read("model.weights.h5")
    edited = _edit_keras(member, weights=weights)
    path = _write(tmp_path, _repack(data, members={"model.keras": edited}))
    _load_error(path, "cannot be loaded safely")

    def foreign_module(config):
        config["config"]["layers"][1]["module"] = "os"

    edited = _edit_keras(member, edit_config=foreign_module)
    path = _write(tmp_path, _repack(data, members={"model.keras": edited}))
    _load_error(path, "module 'os'")


def _lambda_network(marker):
    inputs = keras.Input((8,), name="pixels")
    x = keras.layers.Lambda(lambda t: (open(marker, "w").close(), t)[1])(inputs)
    x = keras.layers.Dense(16, activation="relu", name="hidden_1")(x)
    x = keras.layers.Dense(16, activation="relu", name="hidden_2")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="mnist_mlp")


@pytest.mark.parametrize("our_check", [True, False], ids=["skmnist", "keras-safe-mode"])
def test_lambda_layers_are_refused_and_never_run(
    saved, tmp_path, monkeypatch, our_check
):
    marker = tmp_path / "ran"
    member = _keras_bytes(_lambda_network(str(marker)), tmp_path)
    marker.unlink()  # building the network called the lambda once
    path = _write(tmp_path, _repack(saved[1], members={"model.keras": member}))
    match = "refused: it holds a Lambda"
    if not our_check:
        # Without skmnist's own checks of the config, Keras's safe mode refuses it.
        monkeypatch.setattr(persistence, "_check_keras_objects", lambda config: None)
        monkeypatch.setattr(
            persistence, "_MLP_LAYERS", {"InputLayer", "Dense", "Lambda"}
        )
        match = "cannot be loaded safely: .*Lambda"
    _load_error(path, match)
    assert not marker.exists()


def test_save_after_a_joblib_round_trip(tmp_path):
    # scikeras's pickling registers keras's Functional class as ">Functional";
    # models saved afterwards in the same process must still load.
    import io

    import joblib

    from skmnist import load_mnist_sample, make_mnist_pipeline

    X, y = load_mnist_sample(return_X_y=True)
    pipe = make_mnist_pipeline(hidden_size=16, epochs=1, random_state=0)
    pipe.fit(X[:300], y[:300])
    buffer = io.BytesIO()
    joblib.dump(pipe, buffer)
    buffer.seek(0)
    reloaded = joblib.load(buffer)
    save_model(reloaded, tmp_path / "m.skmnist")
    loaded = load_model(tmp_path / "m.skmnist")
    np.testing.assert_array_equal(
        loaded.predict_proba(X[:50]), pipe.predict_proba(X[:50])
    )
