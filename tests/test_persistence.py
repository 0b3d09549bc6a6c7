"""save_model / load_model: pickle-free, atomic, checked model files (format 2).

Damaged and hostile files are made here from the documented layout (see
docs/user_guide/persistence.rst): a zip of manifest.json and arrays.npz, sealed
with the SHA-256 in the archive's comment.
"""

import errno
import hashlib
import io
import json
import os
import pickle
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import textwrap
import warnings
import zipfile

import _settings
import joblib
import keras
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline

import skmnist.engine._build
import skmnist.estimator._classifier
from skmnist import (
    FlattenScaler,
    MNISTClassifier,
    ModelFileError,
    load_mnist_sample,
    load_model,
    make_mnist_pipeline,
    save_model,
)

# Tiny fits: no validation split unless a test needs one.
FAST = {
    **_settings.FAST,
    "epochs": 1,
    "learning_rate": 0.01,
    "validation_split": 0.0,
}


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


def _public_fitted(estimator):
    return {k for k in vars(estimator) if k.endswith("_") and not k.startswith("_")}


def _assert_same_classifier(loaded, original, X):
    assert type(loaded) is MNISTClassifier
    assert_array_equal(loaded.predict_proba(X), original.predict_proba(X))
    predicted = loaded.predict(X)
    assert_array_equal(predicted, original.predict(X))
    assert predicted.dtype == original.predict(X).dtype
    assert loaded.classes_.dtype == original.classes_.dtype
    assert loaded.classes_.tolist() == original.classes_.tolist()
    for name in ("n_features_in_", "n_classes_", "n_iter_", "history_", "target_type_"):
        assert getattr(loaded, name) == getattr(original, name), name
    # Every public fitted attribute comes back: one added to the classifier
    # must be saved too.
    assert _public_fitted(loaded) == _public_fitted(original)


def _assert_same_state(a, b):
    """Same weights, dropout seeds and optimizer state."""
    state_a = a.model_.variables + a.model_.optimizer.variables
    state_b = b.model_.variables + b.model_.optimizer.variables
    assert len(state_a) == len(state_b)
    for x, y in zip(state_a, state_b, strict=True):
        assert_array_equal(x.numpy(), y.numpy(), err_msg=x.path)


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


# -- the documented layout, for making damaged and hostile files ---------------------


def _members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _seal(members, compression=zipfile.ZIP_STORED):
    """A zip of `members` sealed as save_model seals its files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)
        archive.comment = b"skmnist-sha256:" + b"0" * 64
    data = buffer.getvalue()
    return data[:-64] + hashlib.sha256(data[:-64]).hexdigest().encode()


def _npz(arrays, **kwargs):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays, **kwargs)
    return buffer.getvalue()


def _resealed(data, edit=None, **replaced):
    """`data` with its manifest edited and members replaced, validly sealed."""
    members = _members(data)
    manifest = json.loads(members["manifest.json"])
    if edit is not None:
        edit(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    for name, blob in replaced.items():
        members[name.replace("_", ".")] = blob
    return _seal(members)


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def edit(manifest):
        node = manifest
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return edit


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


# -- round trips ----------------------------------------------------------------------


def test_classifier_round_trip(fitted, saved, str_data):
    X, y = str_data
    loaded = load_model(saved[0])
    _assert_same_classifier(loaded, fitted, X)
    _assert_same_state(loaded, fitted)
    assert loaded.score(X, y) == fitted.score(X, y)
    assert loaded.get_params() == fitted.get_params()
    assert not hasattr(clone(loaded), "model_")


@pytest.mark.parametrize(
    "labels",
    [
        np.array([3, 5, 7]),
        np.array([0, 1, 255], dtype=np.uint8),
        np.array([-1.0, 2.0]),
        np.array([False, True]),
        np.array(["no", "yes"], dtype=object),
    ],
    ids=["int", "uint8", "float", "bool", "object-str"],
)
def test_label_types_round_trip(labels, tmp_path):
    X, y = _data(labels, n_per_class=15)
    clf = _fit(X, y)
    loaded = _save_load(clf, tmp_path)
    _assert_same_classifier(loaded, clf, X)
    assert [type(v) for v in loaded.classes_] == [type(v) for v in clf.classes_]
    assert loaded.score(X, y) == clf.score(X, y)


def test_feature_names_round_trip(tmp_path):
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
    assert type(loaded) is Pipeline and list(loaded.named_steps) == ["flatten", "mlp"]
    original = fitted_pipeline.named_steps["flatten"]
    scaler = loaded.named_steps["flatten"]
    assert type(scaler) is FlattenScaler
    assert scaler.scale == original.scale == "auto"
    assert np.dtype(scaler.dtype) == np.dtype(original.dtype)  # stored by name
    assert _public_fitted(scaler) == _public_fitted(original)
    for name in _public_fitted(original):
        assert getattr(scaler, name) == getattr(original, name), name
        assert type(getattr(scaler, name)) is type(getattr(original, name)), name
    _assert_same_classifier(
        loaded.named_steps["mlp"],
        fitted_pipeline.named_steps["mlp"],
        scaler.transform(X_test),
    )
    assert_array_equal(
        loaded.predict_proba(X_test), fitted_pipeline.predict_proba(X_test)
    )
    assert loaded.score(X_test, y_test) == fitted_pipeline.score(X_test, y_test)


def test_pipeline_of_prescaled_images_keeps_its_convention(digits, tmp_path):
    # FlattenScaler(scale="auto") learns that these images are already in [0, 1];
    # the loaded one keeps that, and refuses 0-255 images as the original does.
    X, y, X_test, _ = digits
    pipe = make_pipeline(FlattenScaler(), MNISTClassifier(**FAST, random_state=0))
    pipe.fit(X[:200] / 255.0, y[:200])
    loaded = _save_load(pipe, tmp_path)
    assert [name for name, _ in loaded.steps] == ["flattenscaler", "mnistclassifier"]
    assert loaded.named_steps["flattenscaler"].scale_ == 1.0
    assert_array_equal(
        loaded.predict_proba(X_test / 255.0), pipe.predict_proba(X_test / 255.0)
    )
    for model in (pipe, loaded):
        with pytest.raises(ValueError, match="already scaled to"):
            model.predict(X_test)


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


@pytest.mark.slow
def test_fresh_process_loads_and_predicts_identically(
    fitted_pipeline, digits, tmp_path
):
    _, _, X_test, _ = digits
    save_model(fitted_pipeline, tmp_path / "digits.skmnist")
    np.save(tmp_path / "X.npy", X_test)
    args = [str(tmp_path / n) for n in ("digits.skmnist", "X.npy", "p.npy", "y.npy")]
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_AND_PREDICT, *args],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
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


@pytest.mark.parametrize(
    "params",
    [dict(dropout=0.25), dict(optimizer=keras.optimizers.SGD(0.05, momentum=0.5))],
    ids=["adam-dropout", "sgd-momentum"],
)
def test_training_continues_as_the_original_would(str_data, tmp_path, params):
    X, y = str_data
    original = _fit(X, y, epochs=2, validation_split=0.1, **params)
    loaded = _save_load(original, tmp_path)
    # warm_start: the same next epoch, weights, dropout seeds and optimizer state.
    for clf in (original, loaded):
        clf.set_params(warm_start=True, epochs=1).fit(X, y)
    _assert_same_state(loaded, original)
    assert loaded.history_ == original.history_
    for clf in (original, loaded):
        clf.partial_fit(X, y)
    _assert_same_state(loaded, original)
    assert loaded.history_ == original.history_
    assert_array_equal(loaded.predict_proba(X), original.predict_proba(X))


def test_hyperparameters_round_trip(str_data, tmp_path):
    X, y = str_data
    labels = np.array([2, 4, 6])[np.searchsorted(["a", "b", "c"], y)]
    clf = _fit(
        X,
        labels,
        epochs=3,
        validation_split=0.1,
        n_hidden_layers=1,
        activation="tanh",
        early_stopping=True,
        patience=1,
        optimizer=keras.optimizers.RMSprop(learning_rate=0.002, rho=0.8),
        class_weight={np.int64(2): 1.0, 4: 2.0, 6: 0.5},
        jit_compile=False,
        steps_per_execution=2,
    )
    assert hasattr(clf, "best_epoch_")
    loaded = _save_load(clf, tmp_path)
    _assert_same_classifier(loaded, clf, X)
    assert loaded.best_epoch_ == clf.best_epoch_
    params, original = loaded.get_params(), clf.get_params()
    optimizer = params.pop("optimizer")
    assert type(optimizer) is keras.optimizers.RMSprop
    assert optimizer.get_config() == original.pop("optimizer").get_config()
    assert params == original
    assert [type(k) for k in loaded.class_weight] == [int, int, int]


def test_network_without_hidden_layers_round_trips(str_data, tmp_path):
    X, y = str_data
    clf = _fit(X, y, n_hidden_layers=0)
    _assert_same_classifier(_save_load(clf, tmp_path), clf, X)


def test_best_estimator_of_a_grid_search_round_trips(digits, tmp_path):
    X, y, X_test, _ = digits
    search = GridSearchCV(
        make_mnist_pipeline(epochs=1, batch_size=64, random_state=0),
        {"mlp__hidden_size": [8, 16]},
        cv=2,
    ).fit(X[:300], y[:300])
    with pytest.raises(
        TypeError,
        match="a GridSearchCV.*best_estimator_|best_estimator_.*a GridSearchCV",
    ):
        save_model(search, tmp_path / "search.skmnist")
    loaded = _save_load(search.best_estimator_, tmp_path)
    assert (
        loaded.get_params()["mlp__hidden_size"]
        == search.best_params_["mlp__hidden_size"]
    )
    assert_array_equal(
        loaded.predict_proba(X_test), search.best_estimator_.predict_proba(X_test)
    )


def test_parameters_that_are_not_data_are_left_out_with_a_warning(str_data, tmp_path):
    X, y = str_data
    history = keras.callbacks.History()
    clf = _fit(X, y, callbacks=[history], random_state=np.random.RandomState(3))
    with pytest.warns(UserWarning) as record:
        loaded = _save_load(clf, tmp_path)
    messages = " ".join(str(w.message) for w in record)
    assert "does not store callbacks=" in messages
    assert "does not store random_state=RandomState" in messages
    assert all(w.filename == __file__ for w in record)  # pointing at the caller
    assert loaded.callbacks is None and loaded.random_state is None
    # The estimator saved is left as it was.
    assert clf.callbacks == [history]
    assert isinstance(clf.random_state, np.random.RandomState)
    assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))

    pipe = make_mnist_pipeline(**FAST).fit(*load_mnist_sample(return_X_y=True))
    pipe.set_params(memory=str(tmp_path / "cache"))
    with pytest.warns(UserWarning, match="does not store memory="):
        assert _save_load(pipe, tmp_path, "pipe.skmnist").memory is None


class _CustomAdam(keras.optimizers.Adam):
    pass


@pytest.mark.parametrize(
    "optimizer, match",
    [
        (_CustomAdam(), "not .*_CustomAdam"),
        (
            keras.optimizers.SGD(
                keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)
            ),
            "built-in Keras optimizer with a config of numbers",
        ),
        (keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD()), "built-in"),
    ],
    ids=["subclass", "schedule", "wrapper"],
)
def test_optimizers_that_are_not_data_are_refused(
    fitted, tmp_path, monkeypatch, optimizer, match
):
    monkeypatch.setattr(fitted, "optimizer", optimizer)
    with pytest.raises(TypeError, match=match) as info:
        save_model(fitted, tmp_path / "model.skmnist")
    assert "optimizer='adam'" in str(info.value)  # names the fix
    assert list(tmp_path.iterdir()) == []


def test_object_parameters_are_refused_before_writing(fitted, tmp_path, monkeypatch):
    monkeypatch.setattr(fitted, "class_weight", {"a": object()})
    with pytest.raises(TypeError, match="cannot store <object object .*not data"):
        save_model(fitted, tmp_path / "model.skmnist")
    assert list(tmp_path.iterdir()) == []


def test_a_history_no_fit_records_is_refused_before_writing(
    fitted, tmp_path, monkeypatch
):
    # A fit refuses a loss that is not finite: a file never holds one, and
    # save_model writes no file that load_model would refuse.
    history = {**fitted.history_, "loss": [float("nan"), np.float32(0.5)]}
    monkeypatch.setattr(fitted, "history_", history)
    with pytest.raises(ValueError, match="load_model would refuse .* history_"):
        save_model(fitted, tmp_path / "model.skmnist")
    assert list(tmp_path.iterdir()) == []


def test_unfitted_and_unsupported_estimators_are_refused(fitted, str_data, tmp_path):
    path = tmp_path / "model.skmnist"
    for unfitted in (MNISTClassifier(), make_mnist_pipeline()):
        with pytest.raises(NotFittedError):
            save_model(unfitted, path)
    X, y = str_data

    class MyClassifier(MNISTClassifier):
        pass

    unsupported = [
        LogisticRegression().fit(X, y),
        MNISTClassifier,
        MyClassifier(),
        Pipeline(
            [("flatten", FlattenScaler()), ("mlp", fitted), ("x", FlattenScaler())]
        ),
        Pipeline([("mlp", fitted)]),
        Pipeline([("flatten", LogisticRegression()), ("mlp", fitted)]),
    ]
    for estimator in unsupported:
        with pytest.raises(TypeError, match="save_model saves .* joblib.dump"):
            save_model(estimator, path)
    assert list(tmp_path.iterdir()) == []


def test_file_is_the_documented_zip_of_json_and_npz(fitted, saved, tmp_path):
    path, data = saved
    assert data[-64:] == hashlib.sha256(data[:-64]).hexdigest().encode()
    assert data[-79:-64] == b"skmnist-sha256:"
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["manifest.json", "arrays.npz"]
        assert {i.compress_type for i in infos} == {zipfile.ZIP_STORED}
        manifest = json.loads(archive.read("manifest.json"))
        arrays = np.load(io.BytesIO(archive.read("arrays.npz")), allow_pickle=False)
    assert manifest["format"] == "skmnist-model" and manifest["format_version"] == 2
    assert set(manifest["versions"]) == {"skmnist", "keras", "scikit-learn", "numpy"}
    assert manifest["estimator"] == "MNISTClassifier"
    classifier = manifest["classifier"]
    assert classifier["params"]["hidden_size"] == 16
    assert classifier["fitted"]["classes_"] == {
        "array": ["a", "b", "c"],
        "dtype": "<U1",
        "shape": [3],
    }
    optimizer = fitted.model_.optimizer.variables
    assert arrays.files == [
        "hidden_1/kernel",
        "hidden_1/bias",
        "hidden_2/kernel",
        "hidden_2/bias",
        "logits/kernel",
        "logits/bias",
        *(f"state/{i}" for i in range(len(optimizer))),
    ]
    for variable, key in zip(
        fitted.model_.trainable_variables, arrays.files[:6], strict=True
    ):
        assert_array_equal(arrays[key], variable.numpy())
    for i, variable in enumerate(optimizer):  # Adam's iterations, rate, moments
        assert_array_equal(arrays[f"state/{i}"], variable.numpy())
    # The same model always gives the same bytes.
    save_model(fitted, tmp_path / "again.skmnist")
    assert (tmp_path / "again.skmnist").read_bytes() == data


# -- writing atomically -----------------------------------------------------------


def test_save_never_replaces_a_special_file(fitted, tmp_path):
    import socket

    fifo, sock = tmp_path / "pipe.skmnist", tmp_path / "sock.skmnist"
    os.mkfifo(fifo)
    server = socket.socket(socket.AF_UNIX)
    server.bind(os.fspath(sock))
    server.close()
    for path, kind in [(fifo, "named pipe"), (sock, "socket")]:
        with pytest.raises(OSError, match=f"is a {kind}") as info:
            save_model(fitted, path)
        assert info.value.filename == os.fspath(path)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and stat.S_ISSOCK(os.stat(sock).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == [fifo.name, sock.name]
    with pytest.raises(OSError, match="the file name is empty"):
        save_model(fitted, "")


def test_resave_keeps_the_files_mode_and_its_link(fitted, str_data, tmp_path):
    X, _ = str_data
    path = tmp_path / "model.skmnist"
    save_model(fitted, path)
    os.chmod(path, 0o600)
    link = tmp_path / "link.skmnist"
    link.symlink_to(path)
    save_model(fitted, link)
    assert link.is_symlink() and os.readlink(link) == os.fspath(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert_array_equal(load_model(link).predict_proba(X), fitted.predict_proba(X))
    assert sorted(p.name for p in tmp_path.iterdir()) == [link.name, path.name]


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
    with pytest.raises(IsADirectoryError, match="is a folder, not a regular file"):
        save_model(fitted, tmp_path)
    missing = tmp_path / "missing" / "model.skmnist"
    with pytest.raises(FileNotFoundError, match="missing does not exist") as info:
        save_model(fitted, missing)
    assert info.value.filename == str(missing)  # not the temporary file's name


def _enospc_midway(real_write):
    def write(fd, data):
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    return write


def _raise(exc):
    def fail(*args, **kwargs):
        raise exc

    return fail


@pytest.mark.parametrize(
    "name, make_failure, error",
    [
        # A full disk while writing, or while flushing to it.
        ("write", _enospc_midway, OSError),
        ("fsync", lambda _: _raise(OSError(errno.ENOSPC, "No space")), OSError),
        # A crash between the complete write and the rename.
        ("replace", lambda _: _raise(KeyboardInterrupt()), KeyboardInterrupt),
    ],
    ids=["ENOSPC-write", "ENOSPC-fsync", "crash-before-rename"],
)
@pytest.mark.parametrize("existing", [True, False], ids=["replacing", "new"])
def test_failed_save_leaves_the_previous_file_and_no_temporary_file(
    fitted, tmp_path, monkeypatch, name, make_failure, error, existing
):
    path = tmp_path / "model.skmnist"
    if existing:
        path.write_bytes(b"the previous model")
    monkeypatch.setattr(os, name, make_failure(getattr(os, name)))
    with pytest.raises(error):
        save_model(fitted, path)
    monkeypatch.undo()
    if existing:
        assert [p.name for p in tmp_path.iterdir()] == ["model.skmnist"]
        assert path.read_bytes() == b"the previous model"
    else:
        assert list(tmp_path.iterdir()) == []


_KILLED_SAVE = textwrap.dedent(
    """
    import os, signal, sys
    from skmnist import load_model, save_model
    model = load_model(sys.argv[1])
    os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)
    save_model(model, sys.argv[2])
    """
)


@pytest.mark.slow
def test_killed_save_leaves_the_previous_file(fitted, saved, str_data, tmp_path):
    path = tmp_path / "model.skmnist"
    path.write_bytes(b"the previous model")
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_SAVE, str(saved[0]), str(path)],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
    assert path.read_bytes() == b"the previous model"
    # The killed process's temporary file stays, hidden, named after the model.
    (left,) = (p.name for p in tmp_path.iterdir() if p != path)
    assert left.startswith(".model.skmnist.") and left.endswith(".tmp")
    save_model(fitted, path)
    X, _ = str_data
    assert_array_equal(load_model(path).predict_proba(X), fitted.predict_proba(X))


# -- damaged, foreign and hostile files ---------------------------------------------


def test_flipped_bytes_anywhere_are_a_clear_error(saved, tmp_path):
    _, data = saved
    n = len(data)
    offsets = {0, 1, 10, 30, n // 2, n - 80, n - 70, n - 1}
    offsets |= set(range(0, n, n // 45))
    assert len(offsets) >= 50
    for offset in sorted(offsets):
        damaged = bytearray(data)
        damaged[offset] ^= 0xFF
        _load_error(_write(tmp_path, bytes(damaged)))


def test_truncated_and_empty_files_are_a_clear_error(saved, tmp_path):
    _, data = saved
    for size in (1, 4, 100, len(data) // 2, len(data) - 64, len(data) - 1):
        _load_error(_write(tmp_path, data[:size]), "truncated")
    _load_error(_write(tmp_path, b""), "empty")


def test_foreign_files_are_a_clear_error(fitted, tmp_path):
    _load_error(
        _write(tmp_path, b"digits, not a model\n", "notes.txt"), "not a file made by"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    _load_error(_write(tmp_path, buffer.getvalue(), "some.zip"), "not a file made by")
    fitted.model_.save(tmp_path / "net.keras")
    _load_error(tmp_path / "net.keras", "not a file made by")
    np.savez(tmp_path / "arrays.npz", a=np.zeros(3))
    _load_error(tmp_path / "arrays.npz", "not a file made by")
    # A sealed zip of other members.
    _load_error(_write(tmp_path, _seal({"readme.txt": b"hi"})), "manifest.json")


@pytest.mark.parametrize("compress", [0, 3], ids=["plain", "zlib"])
def test_joblib_and_pickle_files_are_refused_naming_joblib_load(tmp_path, compress):
    joblib.dump({"a": 1}, tmp_path / "model.joblib", compress=compress)
    error = _load_error(tmp_path / "model.joblib", "pickle or joblib file")
    assert "joblib.load only if you trust" in str(error)
    assert "run code" in str(error)


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


def test_load_unpickles_nothing_and_needs_no_temporary_folder(
    saved, str_data, fitted, monkeypatch, tmp_path
):
    def refuse(*args, **kwargs):
        raise AssertionError("load_model unpickled something")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    real_np_load = np.load

    def np_load(*args, allow_pickle=False, **kwargs):
        assert allow_pickle is False
        return real_np_load(*args, allow_pickle=False, **kwargs)

    monkeypatch.setattr(np, "load", np_load)
    # A full or read-only temporary folder is no obstacle: none is used.
    monkeypatch.setenv("TMPDIR", str(tmp_path / "no-such-folder"))
    monkeypatch.setattr(tempfile, "tempdir", None)
    full = _raise(OSError(errno.ENOSPC, "No space left on device"))
    for name in ("mkstemp", "mkdtemp", "TemporaryDirectory", "NamedTemporaryFile"):
        monkeypatch.setattr(tempfile, name, full)
    monkeypatch.setattr(tempfile, "TemporaryFile", full)
    X, _ = str_data
    assert_array_equal(load_model(saved[0]).predict_proba(X), fitted.predict_proba(X))


def test_unreadable_files_raise_the_os_error_they_are(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.skmnist")
    with pytest.raises(IsADirectoryError):
        load_model(tmp_path)


def test_model_file_error_pickles():
    error = pickle.loads(pickle.dumps(ModelFileError("m.skmnist", "it is broken")))
    assert isinstance(error, ModelFileError) and isinstance(error, ValueError)
    assert (error.path, error.problem) == ("m.skmnist", "it is broken")
    assert str(error) == "cannot load skmnist model file 'm.skmnist': it is broken"


def test_format_versions_other_than_2_are_refused(saved, tmp_path):
    future = _resealed(saved[1], _set("format_version", 3))
    error = _load_error(_write(tmp_path, future), "format version 3")
    assert "upgrade skmnist" in str(error)
    # Format 1 held the network as a .keras archive and the version elsewhere.
    old = {
        "format": "skmnist-model",
        "format_version": 1,
        "skmnist_version": "0.1.0",
        "estimator": {},
    }
    v1 = _seal({"manifest.json": json.dumps(old).encode(), "model.keras": b"PK"})
    error = _load_error(_write(tmp_path, v1), "format version 1, and this skmnist")
    assert "fit the model again and save it" in str(error)


@pytest.mark.parametrize(
    "edit, match",
    [
        (_set("format", "other-format"), "not that of a 'skmnist-model' file"),
        (
            _set("format_version", "2"),
            "format version '2', and this skmnist reads only 2",
        ),
        (_set("estimator", "SVC"), "estimator of the kind 'SVC'"),
        (_set("classifier", "params", "hidden_size", -1), "'hidden_size' parameter"),
        (_set("classifier", "params", "dropout", 1.5), "'dropout' parameter"),
        (_set("classifier", "params", "activation", "relux"), "activation='relux'"),
        (_set("classifier", "params", "optimizer", "adamm"), "optimizer='adamm'"),
        (_set("classifier", "params", "learning_rate", float("nan")), "learning_rate"),
        (_set("classifier", "params", "no_such", 1), "no_such"),
        (_set("classifier", "params", "callbacks", ["rm -rf"]), "callbacks"),
        (
            _set(
                "classifier", "params", "optimizer", {"class": "system", "config": {}}
            ),
            "not a built-in one",
        ),
        (
            _set(
                "classifier",
                "params",
                "optimizer",
                {"class": "SGD", "config": {"learning_rate": {"class_name": "x"}}},
            ),
            "not a built-in one",
        ),
        (_set("classifier", "params", "optimizer", "sgd"), "do not fit its optimizer"),
        (_set("classifier", "params", "hidden_size", 32), "hidden_size=32"),
        (_set("classifier", "params", "n_hidden_layers", 1), "n_hidden_layers=1"),
        (_set("classifier", "fitted", "model_", 1), "its classifier has .*'model_'"),
        (
            _set("classifier", "fitted", "classes_", "array", ["c", "b", "a"]),
            "not sorted",
        ),
        (
            _set("classifier", "fitted", "classes_", "array", ["a", "b", "cc"]),
            "do not fit the dtype",
        ),
        (
            _set("classifier", "fitted", "classes_", "dtype", "<U100000000"),
            "array of dtype",
        ),
        (_set("classifier", "fitted", "classes_", "dtype", "<M8[s]"), "array of dtype"),
        (
            _set("classifier", "params", "class_weight", [["z", 1.0]]),
            r"class_weight has keys \['z'\] that are not classes",
        ),
        (
            _set("classifier", "params", "class_weight", [["a", -1.0]]),
            "class_weight values must be finite numbers >= 0",
        ),
        (_set("classifier", "fitted", "n_features_in_", 9), "n_features_in_=9"),
        (_set("classifier", "fitted", "n_features_in_", 0), "n_features_in_ are wrong"),
        (_set("classifier", "fitted", "feature_names_in_", ["x"]), "feature_names_in_"),
        (
            _set("classifier", "fitted", "history_", "loss", ["oops"]),
            r"history_ holds \['oops'\], not a list of finite numbers",
        ),
    ],
)
def test_inconsistent_manifests_are_a_clear_error(saved, tmp_path, edit, match):
    _load_error(_write(tmp_path, _resealed(saved[1], edit)), match)


@pytest.mark.parametrize(
    "edit, match",
    [
        (_set("pipeline", "steps", ["a", "a"]), "are not valid"),
        (_set("pipeline", "steps", ["a__b", "c"]), "are not valid"),
        (_set("pipeline", "params", "memory", "/tmp/cache"), "memory"),
        (_set("pipeline", "params", "bogus", 1), "bogus"),
        (_set("scaler", "params", "scale", -1), "'scale' parameter"),
        (_set("scaler", "params", "scale", True), "'scale' parameter"),
        (_set("scaler", "params", "dtype", "int8"), "'dtype' 'int8' is not"),
        (_set("scaler", "params", "bogus", 1), r"parameters \['bogus'\]"),
        (_set("scaler", "fitted", "_private", 1), "attribute '_private'"),
        (_set("scaler", "fitted", "image_shape_", {"tuple": [28, 27]}), "image_shape_"),
        (_set("scaler", "fitted", "n_features_in_", 10), "image_shape_"),
    ],
)
def test_inconsistent_pipeline_manifests_are_a_clear_error(
    fitted_pipeline, tmp_path, edit, match
):
    save_model(fitted_pipeline, tmp_path / "pipe.skmnist")
    data = (tmp_path / "pipe.skmnist").read_bytes()
    _load_error(_write(tmp_path, _resealed(data, edit)), match)


@pytest.mark.parametrize(
    "name, value",
    [("n_hidden_layers", 20000), ("hidden_size", 400000), ("n_features_in_", 10**9)],
)
def test_resealed_giant_networks_are_refused_without_building_one(
    saved, tmp_path, monkeypatch, str_data, name, value
):
    section = "fitted" if name.endswith("_") else "params"
    path = _write(
        tmp_path, _resealed(saved[1], _set("classifier", section, name, value))
    )

    def no_network(*args, **kwargs):
        raise AssertionError("load_model built a network")

    for module in (skmnist.estimator._classifier, skmnist.engine._build):
        monkeypatch.setattr(module, "build_mlp", no_network)
    _load_error(path, f"{name}={value}")
    # The builder patched is the one loading uses.
    with pytest.raises(AssertionError, match="built a network"):
        load_model(saved[0])


def _arrays(data):
    blob = _members(data)["arrays.npz"]
    return dict(np.load(io.BytesIO(blob), allow_pickle=False))


def test_arrays_that_disagree_with_their_headers_or_the_network_are_refused(
    saved, tmp_path
):
    data = saved[1]
    arrays = _arrays(data)

    def refused(match, arrays):
        _load_error(_write(tmp_path, _resealed(data, arrays_npz=arrays)), match)

    # A header that claims more than the member holds: nothing is allocated.
    npy = io.BytesIO()
    header = {"descr": "<f4", "fortran_order": False, "shape": (900_000_000,)}
    np.lib.format.write_array_header_1_0(npy, header)
    npy.write(arrays["logits/bias"].tobytes())
    members = {f"{key}.npy": _npy(array) for key, array in arrays.items()}
    members["logits/bias.npy"] = npy.getvalue()
    refused("numeric .npy of its size", _zip(members))
    # The same header, with the zip's directory claiming the member is that large
    # too: refused on the total, which no file of this size can hold.
    forged = bytearray(_zip(members))
    entry = forged.find(b"logits/bias.npy", forged.find(b"PK\x01\x02")) - 46
    header_size = len(npy.getvalue()) - arrays["logits/bias"].nbytes
    n_bytes = header_size + 4 * 900_000_000  # the data the header claims
    struct.pack_into("<II", forged, entry + 20, n_bytes, n_bytes)
    refused(r"its arrays claim 36\d{8} bytes, over its size", bytes(forged))
    # Compressed, or pickled objects.
    refused("numeric .npy of its size", _npz_compressed(arrays))
    objects = {**arrays, "logits/bias": np.array([None, 1, 2], dtype=object)}
    refused("numeric .npy of its size", _npz_with_pickles(objects))
    # Weights of other shapes than the parameters give, or fewer of them.
    bigger = {**arrays, "logits/bias": np.zeros(4, np.float32)}
    refused(r"\(4,\).* are not those of n_features_in_=8", _npz(bigger))
    fewer = {k: v for k, v in arrays.items() if not k.startswith("hidden_2")}
    refused("n_hidden_layers=2", _npz(fewer))
    # Optimizer state that is not that of the network and optimizer built.
    state = [k for k in arrays if k.startswith("state/")]
    refused("do not fit its optimizer", _npz({**arrays, "state/99": np.zeros(1)}))
    del arrays[state[-1]]
    refused("do not fit its optimizer", _npz(arrays))
    arrays[state[-1]] = np.zeros(3, np.float32)
    arrays["state/0"] = np.zeros(2, np.int64)
    refused("shape \\(2,\\) does not fit", _npz(arrays))


def _npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _zip(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)
    return buffer.getvalue()


def _npz_compressed(arrays):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _npz_with_pickles(arrays):
    return _zip({f"{key}.npy": _npy(array) for key, array in arrays.items()})


def test_missing_or_compressed_members_are_refused(saved, tmp_path):
    members = _members(saved[1])
    missing = _seal({k: v for k, v in members.items() if k != "arrays.npz"})
    _load_error(_write(tmp_path, missing), "arrays.npz")
    deflated = _seal(members, zipfile.ZIP_DEFLATED)
    _load_error(_write(tmp_path, deflated), "compressed")


def test_warnings_are_not_raised_by_a_plain_round_trip(fitted, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        _save_load(fitted, tmp_path)


# -- fitted attributes checked as a fit makes them, by both loaders -------------------


def _refused_by_both_loaders(path, match):
    from skmnist import load_predictor

    _load_error(path, match)
    with pytest.raises(ModelFileError, match=match):
        load_predictor(path)


def _pop(*keys):
    def edit(manifest):
        node = manifest
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]

    return edit


def _encode_names(names):
    return {"array": names, "dtype": "<i8", "shape": [len(names)]}


def test_resealed_files_with_nan_weights_or_state_are_refused(saved, tmp_path):
    arrays = _arrays(saved[1])
    for key in ("hidden_1/kernel", "logits/bias", "state/2"):
        tampered = {k: v.copy() for k, v in arrays.items()}
        assert tampered[key].dtype.kind == "f"
        tampered[key].flat[0] = np.nan if key != "logits/bias" else np.inf
        path = _write(tmp_path, _resealed(saved[1], arrays_npz=_npz(tampered)))
        _refused_by_both_loaders(path, f"its array '{key}' holds NaN or infinite")


@pytest.mark.parametrize(
    "edit, match",
    [
        (_set("classifier", "fitted", "n_iter_", "x"), "n_iter_ 'x' is not"),
        (_set("classifier", "fitted", "n_iter_", 5), "n_iter_ 5 is not its history"),
        (_set("classifier", "fitted", "best_epoch_", 99), "best_epoch_ 99 is not"),
        (_set("classifier", "fitted", "best_epoch_", True), "best_epoch_ True"),
        (
            _set("classifier", "fitted", "feature_names_in_", _encode_names([1] * 8)),
            "feature_names_in_ are not 8 strings",
        ),
        (_pop("classifier", "fitted", "classes_"), "no fitted attribute 'classes_'"),
        (_pop("classifier", "fitted", "n_iter_"), "only one of history_ and n_iter_"),
        (_set("classifier", "fitted", "history_", "loss", [1.0]), "n_iter_ 2 is not"),
    ],
)
def test_fitted_attributes_no_fit_makes_are_refused(saved, tmp_path, edit, match):
    _refused_by_both_loaders(_write(tmp_path, _resealed(saved[1], edit)), match)


@pytest.mark.parametrize(
    "edit, match",
    [
        (_set("scaler", "fitted", "scale_", "255"), "scale_ '255' is not one"),
        (_set("scaler", "fitted", "scale_", 0.0), "scale_ 0.0 is not one"),
        (_set("scaler", "fitted", "scale_", -255.0), "scale_ -255.0 is not one"),
        (_set("scaler", "fitted", "scale_", float("nan")), "scale_ nan is not one"),
        (_set("scaler", "fitted", "scale_", 100.0), "expected 1.0 or 255.0"),
        (_pop("scaler", "fitted", "scale_"), "no fitted attribute 'scale_'"),
        (_pop("scaler", "fitted", "image_shape_"), "no fitted attribute 'image_"),
    ],
)
def test_scaler_attributes_no_fit_makes_are_refused(
    fitted_pipeline, tmp_path, edit, match
):
    save_model(fitted_pipeline, tmp_path / "pipe.skmnist")
    data = (tmp_path / "pipe.skmnist").read_bytes()
    _refused_by_both_loaders(_write(tmp_path, _resealed(data, edit)), match)


def test_a_given_scale_must_be_the_scale_learned(digits, tmp_path):
    X, y, _, _ = digits
    pipe = make_mnist_pipeline(hidden_size=8, epochs=1, random_state=0)
    pipe.set_params(flatten__scale=65535).fit(X.astype(np.uint16) * 257, y)
    save_model(pipe, tmp_path / "pipe.skmnist")
    assert load_model(tmp_path / "pipe.skmnist")[0].scale_ == 65535.0
    data = (tmp_path / "pipe.skmnist").read_bytes()
    edit = _set("scaler", "fitted", "scale_", 255.0)
    path = _write(tmp_path, _resealed(data, edit))
    _refused_by_both_loaders(path, "FlattenScaler\\(scale=65535\\) learns: expected")
