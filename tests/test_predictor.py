"""load_predictor: a saved model predicting in NumPy, as the full estimator does."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from _settings import FAST
from numpy.testing import assert_allclose, assert_array_equal
from test_backends import _python

from skmnist import (
    MNISTClassifier,
    MNISTPredictor,
    load_mnist_sample,
    load_model,
    load_predictor,
    make_mnist_pipeline,
    save_model,
)
from skmnist.cli import main

SMALL = {**FAST, "epochs": 2, "learning_rate": 0.01}


def _blobs(labels, n_features=8, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.uniform(-2, 2, size=(len(labels), n_features))
    index = np.repeat(np.arange(len(labels)), 30)
    X = centers[index] + rng.normal(scale=0.7, size=(len(index), n_features))
    return X.astype(np.float32), np.asarray(labels)[index]


def _both(estimator, tmp_path):
    path = tmp_path / "model.skmnist"
    save_model(estimator, path)
    return load_model(path), load_predictor(path)


def _assert_same_predictions(full, light, X):
    assert_allclose(light.predict_proba(X), full.predict_proba(X), rtol=0, atol=1e-5)
    assert_array_equal(light.predict(X), full.predict(X))
    assert light.predict(X).dtype == full.predict(X).dtype


@pytest.fixture(scope="module")
def digits():
    X, y = load_mnist_sample(return_X_y=True)
    X_test, _ = load_mnist_sample(subset="test", return_X_y=True)
    return X, y, X_test


@pytest.fixture(scope="module")
def small_pair(digits, tmp_path_factory):
    """A small pipeline, as load_model and as load_predictor read it."""
    X, y, _ = digits
    pipe = make_mnist_pipeline(hidden_size=8, epochs=1, random_state=0).fit(X, y)
    return _both(pipe, tmp_path_factory.mktemp("small"))


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_pipeline_predicts_as_the_full_estimator(digits, tmp_path, dropout):
    X, y, X_test = digits
    pipe = make_mnist_pipeline(hidden_size=32, epochs=2, dropout=dropout).fit(X, y)
    full, light = _both(pipe, tmp_path)
    assert isinstance(light, MNISTPredictor)
    _assert_same_predictions(full, light, X_test)
    assert_array_equal(light.classes_, full.classes_)
    assert light.n_features_in_ == 784
    assert light.history_ == full[-1].history_
    assert light.n_iter_ == full[-1].n_iter_ == 2
    assert light.get_params() == full[-1].get_params()
    assert (
        light.saved_estimator_ == "Pipeline(flatten=FlattenScaler, mlp=MNISTClassifier)"
    )
    assert light.scaler_.scale_ == 255.0
    assert [c.shape for c in light.coefs_] == [(784, 32), (32, 32), (32, 10)]


def test_pipeline_keeps_its_input_convention_and_checks_input(digits, tmp_path):
    X, y, X_test = digits
    pipe = make_mnist_pipeline(hidden_size=16, epochs=1, random_state=0)
    pipe.set_params(flatten__scale=1.0).fit(X / 255.0, y)
    full, light = _both(pipe, tmp_path)
    _assert_same_predictions(full, light, X_test / 255.0)
    # The scaler refuses what the full pipeline refuses, with its message.
    with pytest.raises(ValueError, match="Values above scale=1"):
        light.predict(X_test)


@pytest.mark.parametrize("labels", [["a", "b", "c"], [3, 8], [10, 11, 12, 13]])
def test_bare_classifier_with_its_labels(labels, tmp_path):
    X, y = _blobs(labels)
    clf = MNISTClassifier(**SMALL, random_state=0).fit(X, y)
    full, light = _both(clf, tmp_path)
    _assert_same_predictions(full, light, X)
    assert light.saved_estimator_ == "MNISTClassifier" and light.scaler_ is None
    assert light.classes_.tolist() == list(labels)
    with pytest.raises(ValueError, match="X has 7 features, but MNISTClassifier"):
        light.predict(X[:, :7])
    with pytest.raises(ValueError, match="NaN"):
        light.predict(np.full((1, 8), np.nan))


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda X: X.astype(str), "contains strings.*FlattenScaler takes finite"),
        (lambda X: X[:, :20], r"images of shape \(20, 28\), but FlattenScaler"),
        (lambda X: X[0], r"looks like one image.*X\[np.newaxis\]"),
        (lambda X: X[:, 0, 0], "got a 1D array of shape"),
        (lambda X: X.reshape(5, -1)[:, 1:], "783 features, but FlattenScaler"),
        (lambda X: np.stack([X] * 3, axis=-1), "single-channel images"),
        (lambda X: X.astype(np.int16) - 1, "Negative values .* FlattenScaler"),
        (lambda X: X / 255.0, "fitted on pixel values from 0 to 255"),
        (lambda X: np.where(X > 0, np.inf, 0.0), "Input X contains infinity"),
        (lambda X: X[:0], "0 sample"),
    ],
    ids=["strings", "image-shape", "one-2d-image", "1d", "783-features", "rgb"]
    + ["negative", "other-convention", "infinity", "no-sample"],
)
def test_pipeline_refuses_bad_input_as_the_full_pipeline(
    small_pair, digits, bad, match
):
    full, light = small_pair
    X_bad = bad(digits[2][:5])
    with pytest.raises(ValueError, match=match):
        full.predict(X_bad)
    with pytest.raises(ValueError, match=match):
        light.predict(X_bad)


def test_masks_and_the_scaler_as_plain_data(small_pair, digits):
    full, light = small_pair
    masks = digits[2][:20] > 127
    _assert_same_predictions(full, light, masks)
    assert_array_equal(light.scaler_.transform(masks), full[0].transform(masks))
    assert light.scaler_.image_shape_ == full[0].image_shape_ == (28, 28)
    assert light.scaler_.get_params() == {"dtype": "float32", "scale": "auto"}


def test_early_stopping_attributes_and_feature_names(tmp_path):
    import pandas as pd

    X, y = _blobs([0, 1])
    X = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)])
    clf = MNISTClassifier(**SMALL, early_stopping=True, patience=1, random_state=0)
    full, light = _both(clf.fit(X, y), tmp_path)
    assert light.best_epoch_ == full.best_epoch_
    assert light.feature_names_in_.tolist() == full.feature_names_in_.tolist()
    _assert_same_predictions(full, light, X)
    with pytest.raises(ValueError, match="feature names should match"):
        light.predict(X.rename(columns={"f0": "g"}))


def test_chunks_do_not_change_the_answers(digits, tmp_path):
    X, y, _ = digits
    pipe = make_mnist_pipeline(hidden_size=8, n_hidden_layers=1, epochs=1).fit(X, y)
    full, light = _both(pipe, tmp_path)
    many = np.concatenate([X] * 5)  # 10,000 rows: more than one chunk
    _assert_same_predictions(full, light, many)
    # BLAS rounds a product of another size differently, by a float32 ulp or so.
    first = light.predict_proba(many[:3])
    assert_allclose(first, light.predict_proba(many)[:3], rtol=0, atol=1e-6)


@pytest.mark.parametrize("activation", ["relu", "gelu", "selu"])
def test_activations_quick(activation, tmp_path):
    X, y = _blobs([0, 1, 2])
    clf = MNISTClassifier(**SMALL, activation=activation, random_state=0)
    full, light = _both(clf.fit(X, y), tmp_path)
    _assert_same_predictions(full, light, X)


def test_a_predictor_cannot_be_fitted_but_reads_as_a_model(digits, tmp_path):
    X, y, _ = digits
    pipe = make_mnist_pipeline(hidden_size=8, epochs=1).fit(X, y)
    _, light = _both(pipe, tmp_path)
    assert not hasattr(light, "fit")
    assert "MNISTPredictor of a Pipeline" in repr(light)


_TRAIN_ON = textwrap.dedent(
    """
    import sys
    import keras
    import numpy as np
    from skmnist import MNISTClassifier, load_mnist_sample, load_model
    from skmnist import make_mnist_pipeline, save_model

    assert keras.backend.backend() == sys.argv[1]
    X, y = load_mnist_sample(return_X_y=True)
    X_test, _ = load_mnist_sample(subset="test", return_X_y=True)
    pipe = make_mnist_pipeline(hidden_size=32, epochs=2, dropout=0.2, random_state=0)
    save_model(pipe.fit(X, y), sys.argv[2] + ".pipe.skmnist")
    rows = (X.reshape(len(X), -1) / 255.0).astype(np.float32)
    clf = MNISTClassifier(hidden_size=16, epochs=2, activation="gelu", random_state=0)
    save_model(clf.fit(rows, y.astype(str)), sys.argv[2] + ".clf.skmnist")
    pipe = load_model(sys.argv[2] + ".pipe.skmnist")
    clf = load_model(sys.argv[2] + ".clf.skmnist")
    flat = (X_test.reshape(len(X_test), -1) / 255.0).astype(np.float32)
    np.savez(
        sys.argv[2] + ".npz",
        pipe=pipe.predict_proba(X_test),
        clf=clf.predict_proba(flat),
        clf_labels=clf.predict(flat),
    )
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_models_trained_on_each_backend(backend, tmp_path):
    stem = str(tmp_path / "model")
    _python(_TRAIN_ON, backend, backend, stem)
    X_test, _ = load_mnist_sample(subset="test", return_X_y=True)
    flat = (X_test.reshape(len(X_test), -1) / 255.0).astype(np.float32)
    with np.load(stem + ".npz") as full:
        pipe = load_predictor(stem + ".pipe.skmnist")
        assert_allclose(pipe.predict_proba(X_test), full["pipe"], rtol=0, atol=1e-5)
        assert_array_equal(pipe.predict_proba(X_test).argmax(1), full["pipe"].argmax(1))
        clf = load_predictor(stem + ".clf.skmnist")
        assert_allclose(clf.predict_proba(flat), full["clf"], rtol=0, atol=1e-5)
        assert_array_equal(clf.predict(flat), full["clf_labels"])


@pytest.mark.slow
@pytest.mark.realdata
def test_same_labels_on_the_10000_mnist_test_images(mnist_train, mnist_test, tmp_path):
    X, y = mnist_train.data[:20000], mnist_train.target[:20000]
    pipe = make_mnist_pipeline(hidden_size=128, epochs=2, random_state=0).fit(X, y)
    full, light = _both(pipe, tmp_path)
    assert len(mnist_test.data) == 10_000
    _assert_same_predictions(full, light, mnist_test.data)


# What the light path must not import: the deep-learning runtime, and
# scikit-learn with the SciPy and pandas that it loads (a second of start-up).
_HEAVY = ("tensorflow", "keras", "jax", "scikeras", "sklearn", "scipy", "pandas")


def _imported_by_command(command, cwd):
    """The modules a command of the console script imports, from -X importtime."""
    done = subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    return done.stdout, imported


def test_light_path_imports_no_deep_learning_runtime_nor_sklearn(
    serve_model_path, tmp_path, skmnist_command
):
    from PIL import Image

    X_test, _ = load_mnist_sample(subset="test", return_X_y=True)
    np.save(tmp_path / "digits.npy", X_test[:20])
    Image.fromarray(255 - X_test[0]).resize((112, 112)).save(tmp_path / "digit.png")
    code = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        import skmnist
        predictor = skmnist.load_predictor({str(serve_model_path)!r})
        predictor.predict(np.load({str(tmp_path / "digits.npy")!r}))
        predictor.predict_proba(np.load({str(tmp_path / "digits.npy")!r}))
        from skmnist.serve import make_app
        make_app({str(serve_model_path)!r})  # the service, its model loaded
        print(" ".join(sys.modules))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = {name.split(".")[0] for name in done.stdout.split()}
    assert "skmnist" in loaded and not set(_HEAVY) & loaded
    # The console script on an MNIST array and on a picture: Python lists
    # every module it imports.
    for file, lines in (("digits.npy", 20), ("digit.png", 1)):
        command = [*skmnist_command, "predict", str(serve_model_path), file]
        out, imported = _imported_by_command(command, tmp_path)
        assert out.count(file) == lines
        assert "skmnist.modelfile._predictor" in imported
        assert not {name for name in imported if name.split(".")[0] in _HEAVY}


def test_commands_answer_as_before(serve_model_path, tmp_path, capsys):
    # skmnist predict's lines are those of the full estimator.
    X_test, _ = load_mnist_sample(subset="test", return_X_y=True)
    np.save(tmp_path / "d.npy", X_test[:30])
    assert main(["predict", str(serve_model_path), str(tmp_path / "d.npy")]) == 0
    lines = capsys.readouterr().out.splitlines()
    full = load_model(serve_model_path)
    proba = full.predict_proba(X_test[:30])
    expected = [
        f"{tmp_path / 'd.npy'}[{i}]: {k} (p={row[k]:.2f})"
        for i, (row, k) in enumerate(zip(proba, proba.argmax(1), strict=True))
    ]
    assert lines == expected


def test_service_describes_the_model_as_before(serve_model_path):
    from skmnist.modelfile._image_model import as_image_model
    from skmnist.serve._estimator import describe, load_estimator

    model, source = load_estimator(serve_model_path)
    assert isinstance(model.estimator, MNISTPredictor)
    light = describe(model, source)
    full = describe(as_image_model(load_model(serve_model_path)), source)
    assert light == full


@pytest.mark.slow
def test_benchmark_runs_and_reports_both_paths(tmp_path):
    script = os.path.join(os.path.dirname(__file__), "..", "benchmarks")
    done = subprocess.run(
        [sys.executable, os.path.join(script, "predict_light.py"), "--small"]
        + ["--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "predict_light_small.json").read_text())
    summary = report["summary"]
    assert summary["outputs_identical"] is True
    for kind in ("light", "full"):
        assert summary[kind]["png_peak_rss_mb"] > 0
        assert summary[kind]["serve_first_answer_s"] > 0
    assert report["machine"]["cpu_model"]
    assert "| measurement | light (NumPy) | full (TensorFlow) |" in done.stdout
