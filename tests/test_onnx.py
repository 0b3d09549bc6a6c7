"""export_onnx, ``skmnist export`` and skl2onnx's conversion: ONNX graphs that
onnxruntime runs as the light predictor predicts."""

import json
import os
import stat
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import onnxruntime
import pytest
from _settings import SMALL_NETWORK
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from skmnist import (
    FlattenScaler,
    MNISTClassifier,
    export_onnx,
    load_mnist_sample,
    load_predictor,
    make_mnist_pipeline,
    save_model,
)
from skmnist.cli import main
from skmnist.network import ACTIVATIONS

SMALL = {**SMALL_NETWORK, "epochs": 2, "random_state": 0}


@pytest.fixture(scope="module")
def digits():
    X, y = load_mnist_sample(return_X_y=True)
    X_test, _ = load_mnist_sample(subset="test", return_X_y=True)
    return X, y, X_test


@pytest.fixture(scope="module")
def saved(digits, tmp_path_factory):
    """A small pipeline fitted on the sample, and its model file."""
    X, y, _ = digits
    pipe = make_mnist_pipeline(**SMALL).fit(X, y)
    path = tmp_path_factory.mktemp("onnx") / "digits.skmnist"
    save_model(pipe, path)
    return pipe, path


def _run(path, X):
    session = onnxruntime.InferenceSession(os.fspath(path))
    return session.run(None, {"X": np.asarray(X, dtype=np.float32)})


def _assert_as_predictor(onnx_path, model_path, X, X_onnx=None):
    light = load_predictor(model_path)
    label, proba = _run(onnx_path, X if X_onnx is None else X_onnx)
    assert_allclose(proba, light.predict_proba(X), rtol=0, atol=1e-5)
    assert_array_equal(label, light.predict(X))
    return label, proba


def test_a_pipeline_exports_as_one_checked_graph_of_opset_17(saved, digits, tmp_path):
    pipe, path = saved
    X_test = digits[2]
    out = tmp_path / "digits.onnx"
    assert export_onnx(path, out) is None
    model = onnx.load(out)
    onnx.checker.check_model(model, full_check=True)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    assert [i.name for i in model.graph.input] == ["X"]
    assert [o.name for o in model.graph.output] == ["label", "probabilities"]
    ops = {node.op_type for node in model.graph.node}
    assert {"Reshape", "Div", "MatMul", "Add", "Relu", "Softmax", "Gather"} <= ops
    label, proba = _assert_as_predictor(out, path, X_test)
    assert label.dtype == np.int64 and proba.dtype == np.float32
    assert proba.shape == (len(X_test), 10)
    # The estimator in memory gives the same file as its model file.
    export_onnx(pipe, tmp_path / "from_memory.onnx")
    assert (tmp_path / "from_memory.onnx").read_bytes() == out.read_bytes()


def test_a_scale_one_pipeline_divides_nothing(digits, tmp_path):
    X, y, X_test = digits
    pipe = Pipeline([("flatten", FlattenScaler(scale=1.0)), ("mlp", MNISTClassifier())])
    pipe.set_params(**{f"mlp__{k}": v for k, v in SMALL.items()})
    pipe.fit(X / 255.0, y)
    path, out = tmp_path / "unit.skmnist", tmp_path / "unit.onnx"
    save_model(pipe, path)
    export_onnx(pipe, out)
    assert "Div" not in {node.op_type for node in onnx.load(out).graph.node}
    _assert_as_predictor(out, path, X_test / 255.0)


def test_a_bare_classifier_takes_rows_in_0_1(digits, tmp_path):
    X, y, X_test = digits
    rows = X.reshape(len(X), -1) / np.float32(255)
    clf = MNISTClassifier(**SMALL).fit(rows, y)
    path, out = tmp_path / "bare.skmnist", tmp_path / "bare.onnx"
    save_model(clf, path)
    export_onnx(path, out)
    (x,) = onnx.load(out).graph.input
    assert [d.dim_value or d.dim_param for d in x.type.tensor_type.shape.dim] == [
        "N",
        784,
    ]
    _assert_as_predictor(out, path, X_test.reshape(len(X_test), -1) / 255.0)


def test_string_labels_come_out_as_strings(digits, tmp_path):
    X, y, X_test = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six",
                      "seven", "eight", "nine"])  # fmt: skip
    pipe = make_mnist_pipeline(**SMALL).fit(X, names[y])
    path, out = tmp_path / "names.skmnist", tmp_path / "names.onnx"
    save_model(pipe, path)
    export_onnx(path, out)
    label, _ = _assert_as_predictor(out, path, X_test)
    assert set(label.tolist()) <= set(names.tolist())


# The quick tier exports three kinds of node (a max, a tanh, an erf); the slow
# tier every activation the predictor computes.
QUICK_ACTIVATIONS = {"relu", "tanh", "gelu"}


@pytest.mark.parametrize(
    "activation",
    [
        a if a in QUICK_ACTIVATIONS else pytest.param(a, marks=pytest.mark.slow)
        for a in sorted(ACTIVATIONS)
    ],
)
def test_every_activation_of_the_predictor_exports(activation, digits, tmp_path):
    X, y, X_test = digits
    params = {**SMALL, "hidden_size": 8, "epochs": 1, "activation": activation}
    pipe = make_mnist_pipeline(**params).fit(X[:300], y[:300])
    path, out = tmp_path / "model.skmnist", tmp_path / "model.onnx"
    save_model(pipe, path)
    export_onnx(path, out)
    _assert_as_predictor(out, path, X_test)


def test_an_activation_without_onnx_form_is_refused_by_name(
    saved, tmp_path, monkeypatch
):
    import skmnist.export._graph

    # Every activation a model file may name has a NumPy form (the reader
    # refuses others); the ONNX table is made to lack the model's own.
    monkeypatch.delitem(skmnist.export._graph._ONNX_ACTIVATIONS, "relu")
    out = tmp_path / "model.onnx"
    with pytest.raises(ValueError, match=r"activation='relu'.*cannot write as ONNX"):
        export_onnx(saved[1], out)
    assert not out.exists()


_ONNXRUNTIME_ALONE = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import onnxruntime
    session = onnxruntime.InferenceSession(sys.argv[1])
    label, proba = session.run(None, {"X": np.load(sys.argv[2]).astype(np.float32)})
    loaded = sorted(m for m in ("skmnist", "tensorflow", "keras", "sklearn")
                    if m in sys.modules)
    print(json.dumps({"labels": label.tolist(), "loaded": loaded}))
    """
)


@pytest.mark.slow
def test_onnxruntime_and_numpy_alone_predict_from_the_file(saved, digits, tmp_path):
    out, images = tmp_path / "digits.onnx", tmp_path / "digits.npy"
    export_onnx(saved[1], out)
    np.save(images, digits[2][:100])
    done = subprocess.run(
        [sys.executable, "-c", _ONNXRUNTIME_ALONE, str(out), str(images)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["loaded"] == []
    expected = load_predictor(saved[1]).predict(digits[2][:100])
    assert result["labels"] == expected.tolist()


_EXPORT_WITHOUT_TENSORFLOW = textwrap.dedent(
    """
    import sys, time
    from skmnist import export_onnx
    start = time.perf_counter()
    export_onnx(sys.argv[1], sys.argv[2])
    took = time.perf_counter() - start
    print(sorted(m for m in ("tensorflow", "keras", "jax") if m in sys.modules))
    print(f"{took:.3f}", file=sys.stderr)
    """
)


@pytest.mark.slow
def test_exporting_a_model_file_imports_no_tensorflow(saved, tmp_path):
    out = tmp_path / "digits.onnx"
    done = subprocess.run(
        [sys.executable, "-c", _EXPORT_WITHOUT_TENSORFLOW, str(saved[1]), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]"
    assert out.stat().st_size > 0


def test_the_export_command_writes_the_file_atomically(saved, digits, tmp_path):
    out = tmp_path / "digits.onnx"
    out.write_bytes(b"old")
    os.chmod(out, 0o640)
    assert main(["export", str(saved[1]), str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640  # replaced as a regular file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits.onnx"]
    _assert_as_predictor(out, saved[1], digits[2])


def test_the_export_command_refuses_a_folder_a_fifo_and_a_pickle(
    saved, tmp_path, capsys
):
    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    for target in (tmp_path, fifo):
        assert main(["export", str(saved[1]), str(target)]) == 2
        assert "not a regular file" in capsys.readouterr().err
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    pickle = tmp_path / "model.joblib"
    pickle.write_bytes(b"\x80\x04.")
    assert main(["export", str(pickle), str(tmp_path / "m.onnx")]) == 2
    assert "is a pickle" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_export_never_writes_over_the_model_it_exports(saved, tmp_path, capsys):
    model = tmp_path / "model.skmnist"
    model.write_bytes(saved[1].read_bytes())
    link = tmp_path / "link.onnx"
    link.symlink_to(model)
    before = model.read_bytes()
    for target in (model, link):
        assert main(["export", str(model), str(target)]) == 2
        assert "is the model file being exported" in capsys.readouterr().err
        with pytest.raises(OSError, match="is the model file being exported"):
            export_onnx(model, target)
    assert model.read_bytes() == before and link.is_symlink()


def test_export_onnx_points_other_pipelines_to_skl2onnx(digits, tmp_path):
    X, y, _ = digits
    pipe = Pipeline([("scale", MinMaxScaler()), ("mlp", MNISTClassifier(**SMALL))])
    pipe.fit(X.reshape(len(X), -1), y)
    with pytest.raises(TypeError, match="skl2onnx.to_onnx"):
        export_onnx(pipe, tmp_path / "other.onnx")


def _skl2onnx_run(estimator, X):
    from skl2onnx import to_onnx

    model = to_onnx(estimator, X[:1])
    session = onnxruntime.InferenceSession(model.SerializeToString())
    assert [o.name for o in session.get_outputs()] == ["label", "probabilities"]
    return session.run(None, {"X": X})


def test_skl2onnx_converts_the_mnist_pipeline(saved, digits):
    pipe, X_test = saved[0], digits[2]
    label, proba = _skl2onnx_run(pipe, X_test)  # uint8 images, as skl2onnx types them
    assert_allclose(proba, pipe.predict_proba(X_test), rtol=0, atol=1e-5)
    assert_array_equal(label, pipe.predict(X_test))


def test_skl2onnx_refuses_an_opset_below_17_by_name(saved, digits):
    from skl2onnx import to_onnx

    with pytest.raises(ValueError, match="opset 17 or later, not target_opset=15"):
        to_onnx(saved[0], digits[2][:1], target_opset=15)


def test_skl2onnx_converts_scikit_learn_steps_around_the_classifier(digits):
    X, y, _ = digits
    rows = X.reshape(len(X), -1).astype(np.float32)
    names = np.array(list("abcdefghij"))
    pipe = Pipeline([("scale", MinMaxScaler()), ("mlp", MNISTClassifier(**SMALL))])
    pipe.fit(rows, names[y])
    # Rows the scaler saw in fit: within [0, 1] after it, as the classifier wants.
    label, proba = _skl2onnx_run(pipe, rows[:500])
    assert label.dtype == object
    assert_allclose(proba, pipe.predict_proba(rows[:500]), rtol=0, atol=1e-5)
    assert_array_equal(label, pipe.predict(rows[:500]))


@pytest.mark.slow
def test_skl2onnx_converts_after_importing_skmnist_first():
    code = textwrap.dedent(
        """
        import skmnist
        from skmnist import load_mnist_sample, make_mnist_pipeline
        import sys
        assert "skl2onnx" not in sys.modules and "onnx" not in sys.modules
        X, y = load_mnist_sample(return_X_y=True)
        pipe = make_mnist_pipeline(hidden_size=8, epochs=1).fit(X[:200], y[:200])
        import skl2onnx
        model = skl2onnx.to_onnx(pipe, X[:1])
        print([o.name for o in model.graph.output])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "['label', 'probabilities']"


@pytest.mark.slow
@pytest.mark.realdata
def test_the_reference_model_on_the_real_test_set(mnist_test, tmp_path, capsys):
    X, y = load_mnist_sample(return_X_y=True)
    X_test = mnist_test.data
    assert len(X_test) == 10_000
    pipe = make_mnist_pipeline(hidden_size=512, epochs=2, random_state=0).fit(X, y)
    model, out = tmp_path / "model.skmnist", tmp_path / "model.onnx"
    save_model(pipe, model)
    assert main(["export", str(model), str(out)]) == 0
    label, _ = _assert_as_predictor(out, model, X_test)
    # What skmnist predict answers for the same digits, as JSON lines.
    np.save(tmp_path / "digits.npy", X_test[:1000])
    capsys.readouterr()
    assert main(["predict", str(model), str(tmp_path / "digits.npy"), "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    predicted = [json.loads(line)["label"] for line in lines]
    assert predicted == label[:1000].tolist()
