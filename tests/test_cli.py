"""Tests of the ``skmnist`` command (skmnist.cli).

One model is trained per module, by a real run of the console script; the other
commands run in-process through ``main`` (faster), except a few real runs that
check what a shell sees: exit status, stdout, stderr.
"""

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import types

import joblib
import numpy as np
import pytest
from _http_server import Reply, ScriptedServer
from PIL import Image

from skmnist import cli, load_mnist_sample
from skmnist.datasets import _fetch

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PREDICTION = re.compile(r"^(?P<name>.+): (?P<label>\d) \(p=(?P<p>[01]\.\d\d)\)$")


def console_script():
    """The ``skmnist`` console script of this Python's installation."""
    name = "skmnist.exe" if os.name == "nt" else "skmnist"
    path = os.path.join(sysconfig.get_path("scripts"), name)
    if not os.path.exists(path):
        path = shutil.which("skmnist")
    if path is None:
        pytest.fail(
            "the skmnist console script is not installed: pip install -e . "
            "(pyproject.toml declares [project.scripts] skmnist)"
        )
    return [path]


def run_main(capsys, *argv):
    """Run ``main`` in-process; return (status, stdout, stderr)."""
    status = cli.main([os.fspath(arg) for arg in argv])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_error_line(status, err, *fragments):
    assert status == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("skmnist: error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def sample_test():
    return load_mnist_sample(subset="test", return_X_y=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``skmnist train --sample --epochs 2 --out m.joblib --report-dir r``, run
    once by the console script (small network, seeded)."""
    folder = tmp_path_factory.mktemp("cli")
    command = [
        *console_script(),
        "train",
        "--sample",
        "--epochs",
        "2",
        "--hidden-size",
        "32",
        "--random-state",
        "0",
        "--out",
        "m.joblib",
        "--report-dir",
        "r",
    ]
    result = subprocess.run(
        command, cwd=folder, capture_output=True, text=True, timeout=600
    )
    return types.SimpleNamespace(
        folder=folder,
        model=folder / "m.joblib",
        report=folder / "r",
        result=result,
    )


@pytest.fixture(scope="module")
def pipe(trained):
    assert trained.result.returncode == 0, trained.result.stderr
    return joblib.load(trained.model)


@pytest.fixture(scope="module")
def metrics(trained):
    assert trained.result.returncode == 0, trained.result.stderr
    return json.loads((trained.report / "metrics.json").read_text())


# -- train -----------------------------------------------------------------------------


def test_train_console_script(trained):
    result = trained.result
    assert result.returncode == 0, result.stderr
    # Keras's progress bars (verbose=1 by default), then the test scores.
    assert "Epoch 1/2" in result.stdout and "Epoch 2/2" in result.stdout
    assert re.search(r"^test accuracy: +0\.\d{4}$", result.stdout, re.M)
    assert re.search(r"^test log loss: +\d+\.\d{4}$", result.stdout, re.M)
    assert "Traceback" not in result.stderr
    # TensorFlow's start-up lines, which no log level hides, are kept out.
    assert "InitializeLog" not in result.stderr
    assert trained.model.is_file()
    assert sorted(p.name for p in trained.report.iterdir()) == [
        "confusion_matrix.png",
        "learning_curves.png",
        "metrics.json",
        "misclassified.png",
    ]


def test_train_writes_the_fitted_pipeline(trained, pipe, metrics, sample_test):
    from sklearn.pipeline import Pipeline

    from skmnist import MNISTClassifier

    assert isinstance(pipe, Pipeline)
    assert isinstance(pipe[-1], MNISTClassifier)
    assert pipe[-1].hidden_size == 32 and pipe[-1].n_iter_ == 2
    X, y = sample_test
    assert pipe.score(X, y) == pytest.approx(metrics["accuracy"])
    printed = re.search(r"^test accuracy: +(\S+)$", trained.result.stdout, re.M)
    assert printed.group(1) == f"{metrics['accuracy']:.4f}"


def test_train_metrics_json(metrics):
    assert metrics["data"] == {"source": "sample", "n_train": 2000, "n_test": 500}
    assert 0 < metrics["accuracy"] <= 1
    assert metrics["log_loss"] > 0
    assert metrics["labels"] == list(range(10))
    assert sorted(metrics["per_class"]) == [str(k) for k in range(10)]
    for scores in metrics["per_class"].values():
        assert set(scores) == {"precision", "recall", "f1", "support"}
    assert sum(s["support"] for s in metrics["per_class"].values()) == 500
    matrix = np.array(metrics["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == 500
    assert np.trace(matrix) / 500 == pytest.approx(metrics["accuracy"])
    assert metrics["fit_time"] > 0
    assert metrics["n_iter"] == 2
    params = metrics["params"]
    assert (params["hidden_size"], params["epochs"], params["batch_size"]) == (
        32,
        2,
        128,
    )
    assert (params["validation_split"], params["random_state"]) == (0.1, 0)
    assert set(metrics["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 2 for values in metrics["history"].values())


def test_train_plots(trained):
    sizes = {}
    for name in ("learning_curves", "confusion_matrix", "misclassified"):
        path = trained.report / f"{name}.png"
        assert path.read_bytes().startswith(PNG_MAGIC)
        with Image.open(path) as image:
            sizes[name] = image.size
    assert sizes["learning_curves"] == (1000, 400)  # two panels side by side


def test_train_pickle_free_model_file(tmp_path, capsys, sample_test):
    # --out without .joblib/.pkl: skmnist.save_model, which predict reads back.
    from skmnist import load_model

    path = tmp_path / "small.skmnist"
    status, out, err = run_main(
        capsys,
        *("train", "--sample", "--epochs", "1", "--hidden-size", "8"),
        *("--verbose", "0", "--random-state", "0", "--out", path),
    )
    assert status == 0, err
    assert f"model:          {path}" in out
    X, _ = sample_test
    np.save(tmp_path / "x.npy", X[:4])
    status, out, err = run_main(capsys, "predict", path, tmp_path / "x.npy")
    assert status == 0, err
    labels = [int(PREDICTION.match(line).group("label")) for line in out.splitlines()]
    assert labels == load_model(path).predict(X[:4]).tolist()


def test_train_fails_fast(tmp_path, capsys):
    # Checked before any data is loaded or TensorFlow imported.
    status, out, err = run_main(
        capsys, "train", "--sample", "--out", tmp_path / "no" / "m.joblib"
    )
    assert_one_error_line(status, err, "does not exist")
    assert out == ""


def test_train_invalid_parameter(capsys):
    status, _, err = run_main(
        capsys, "train", "--sample", "--hidden-size", "0", "--verbose", "0"
    )
    assert_one_error_line(status, err, "hidden_size")


# -- predict ---------------------------------------------------------------------------


def test_predict_images_and_arrays(trained, pipe, tmp_path, capsys, sample_test):
    X, _ = sample_test
    Image.fromarray(255 - X[0]).save(tmp_path / "digit.png")  # dark on white
    np.save(tmp_path / "one.npy", X[1])
    np.save(tmp_path / "stack.npy", X[2:5])
    files = [tmp_path / "digit.png", tmp_path / "one.npy", tmp_path / "stack.npy"]
    status, out, err = run_main(capsys, "predict", trained.model, *files)
    assert status == 0, err
    matches = [PREDICTION.match(line) for line in out.splitlines()]
    assert all(matches), out
    names = [m.group("name") for m in matches]
    assert names == [str(files[0]), str(files[1])] + [
        f"{files[2]}[{i}]" for i in range(3)
    ]
    expected = pipe.predict(X[:5])
    assert [int(m.group("label")) for m in matches] == expected.tolist()
    proba = pipe.predict_proba(X[1:5]).max(axis=1)
    assert [float(m.group("p")) for m in matches[1:]] == pytest.approx(proba, abs=0.006)
    # Forcing the inversion of dark-on-white changes nothing; refusing it
    # leaves no ink.
    status, forced, err = run_main(
        capsys, "predict", "--invert", "yes", trained.model, files[0]
    )
    assert (status, forced) == (0, out.splitlines()[0] + "\n"), err
    status, _, err = run_main(
        capsys, "predict", "--invert", "no", trained.model, files[0]
    )
    assert_one_error_line(status, err, "blank")


def test_predict_console_missing_file(trained):
    # A real run: exactly one line on stderr, no traceback, status 2.
    result = subprocess.run(
        [sys.executable, "-m", "skmnist", "predict", "m.joblib", "missing.png"],
        cwd=trained.folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "skmnist: error: missing.png: No such file or directory"
    ]


def _bad_inputs(folder):
    (folder / "notes.png").write_text("not an image")
    Image.new("L", (40, 40), 255).save(folder / "blank.png")
    np.save(folder / "wide.npy", np.zeros((2, 28, 30), dtype=np.uint8))
    (folder / "folder.png").mkdir()
    return {
        "notes.png": "not an image",
        "blank.png": "blank",
        "wide.npy": "(2, 28, 30)",
        "missing.npy": "No such file",
        "folder.png": "folder.png",
    }


def test_predict_bad_inputs(trained, tmp_path, capsys, sample_test):
    np.save(tmp_path / "good.npy", sample_test[0][:2])
    for name, reason in _bad_inputs(tmp_path).items():
        files = [tmp_path / "good.npy", tmp_path / name]
        status, out, err = run_main(capsys, "predict", trained.model, *files)
        assert_one_error_line(status, err, name, reason)
        assert out == ""  # nothing is predicted before every file is read


def _wrong_models(folder):
    from skmnist import MNISTClassifier, make_mnist_pipeline

    (folder / "text.joblib").write_text("not a pickle")
    joblib.dump({"model": 1}, folder / "dict.joblib")
    joblib.dump(make_mnist_pipeline(), folder / "unfitted.pkl")
    (folder / "text.skmnist").write_text("not a model")
    (folder / "dir.joblib").mkdir()
    rng = np.random.default_rng(0)
    X, y = rng.random((40, 8)), np.arange(40) % 2
    clf = MNISTClassifier(hidden_size=4, epochs=1, random_state=0).fit(X, y)
    joblib.dump(clf, folder / "eight.joblib")
    return {
        "text.joblib": "not a model written with joblib.dump",
        "dict.joblib": "holds a dict, not a fitted skmnist model",
        "unfitted.pkl": "unfitted",
        "text.skmnist": "cannot load skmnist model file",
        "missing.joblib": "no such model file",
        "dir.joblib": "is a folder",
        "eight.joblib": "fitted on 8 features",
    }


def test_wrong_kind_of_model_file(tmp_path, capsys, sample_test):
    np.save(tmp_path / "x.npy", sample_test[0][0])
    for name, reason in _wrong_models(tmp_path).items():
        for command in (
            ["predict", tmp_path / name, tmp_path / "x.npy"],
            ["evaluate", tmp_path / name, "--sample"],
        ):
            status, out, err = run_main(capsys, *command)
            assert_one_error_line(status, err, name, reason)


def test_bare_classifier_model_file(trained, pipe, tmp_path, capsys, sample_test):
    # A fitted MNISTClassifier alone (it takes flat rows in [0, 1]) gets a
    # FlattenScaler in front, and predicts exactly as the pipeline.
    np.save(tmp_path / "x.npy", sample_test[0][:4])
    joblib.dump(pipe[-1], tmp_path / "clf.joblib")
    outputs = []
    for model in (trained.model, tmp_path / "clf.joblib"):
        status, out, err = run_main(capsys, "predict", model, tmp_path / "x.npy")
        assert status == 0, err
        outputs.append(out)
    assert outputs[0] == outputs[1]
    assert len(outputs[0].splitlines()) == 4


# -- evaluate --------------------------------------------------------------------------


def test_evaluate_on_the_sample(trained, metrics, capsys):
    status, out, err = run_main(capsys, "evaluate", trained.model, "--sample")
    assert status == 0, err
    assert re.search(rf"^accuracy: +{metrics['accuracy']:.4f}$", out, re.M)
    assert re.search(rf"^log loss: +{metrics['log_loss']:.4f}$", out, re.M)
    # scikit-learn's classification report: a row per digit, and the averages.
    for label in range(10):
        assert re.search(rf"^ +{label}( +[01]\.\d{{4}}){{3}} +\d+$", out, re.M)
    assert "macro avg" in out and "weighted avg" in out


# -- fetch -----------------------------------------------------------------------------


@pytest.fixture
def data_home():
    home = os.environ.get("SKMNIST_DATA_HOME")
    if not home:
        pytest.fail(
            "SKMNIST_DATA_HOME is not set: the fetch tests need it to point at a "
            "folder holding mnist.npz (CI uses ../shared/data)."
        )
    return home


def test_fetch_prints_the_data_folder(data_home, capsys, monkeypatch):
    monkeypatch.delenv("SKMNIST_MIRROR", raising=False)
    for argv in (["fetch"], ["fetch", "--data-home", data_home]):
        status, out, err = run_main(capsys, *argv)
        assert status == 0, err
        assert out.splitlines() == [
            f"MNIST (60000 training and 10000 test images) is in {data_home}"
        ]


@pytest.fixture
def synthetic_npz():
    """mnist.npz with MNIST's shapes and types (blank images), as bytes."""
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        x_train=np.zeros((60000, 28, 28), np.uint8),
        y_train=np.arange(60000, dtype=np.uint8) % 10,
        x_test=np.zeros((10000, 28, 28), np.uint8),
        y_test=np.arange(10000, dtype=np.uint8) % 10,
    )
    return buffer.getvalue()


def test_fetch_downloads_from_a_mirror(tmp_path, capsys, monkeypatch, synthetic_npz):
    folder = tmp_path / "cache"
    with ScriptedServer() as server:
        monkeypatch.delenv("SKMNIST_MIRROR", raising=False)
        monkeypatch.setattr(_fetch, "MNIST_URL", server.url("/official/mnist.npz"))
        monkeypatch.setattr(
            _fetch, "MNIST_SHA256", hashlib.sha256(synthetic_npz).hexdigest()
        )
        server.script("/mirror/mnist.npz", Reply(body=synthetic_npz))
        status, out, err = run_main(
            capsys, "fetch", "--data-home", folder, "--mirror", server.url("/mirror")
        )
        assert status == 0, err
        assert server.requests == ["/mirror/mnist.npz"]
    assert out.splitlines() == [
        f"Downloading MNIST into {folder} ...",
        f"MNIST (60000 training and 10000 test images) is in {folder}",
    ]
    assert (folder / "mnist.npz").read_bytes() == synthetic_npz


def test_fetch_failure_is_one_line(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "cache"
    with ScriptedServer() as server:  # every path answers 404
        monkeypatch.delenv("SKMNIST_MIRROR", raising=False)
        monkeypatch.setattr(_fetch, "MNIST_URL", server.url("/official/mnist.npz"))
        status, _, err = run_main(capsys, "fetch", "--data-home", folder)
    assert_one_error_line(status, err, str(folder), "404")
    assert not (folder / "mnist.npz").exists()


def test_missing_data_is_one_line(tmp_path, capsys, monkeypatch, trained):
    monkeypatch.delenv("SKMNIST_MIRROR", raising=False)
    (tmp_path / "mnist.npz").write_text("not an archive")
    status, _, err = run_main(
        capsys, "evaluate", trained.model, "--data-home", tmp_path
    )
    assert_one_error_line(status, err, "mnist.npz", "not an .npz")


# -- help, usage, and what importing costs ---------------------------------------------


@pytest.mark.parametrize("command", ["fetch", "train", "evaluate", "predict"])
def test_help_of_each_command(capsys, command):
    status, out, _ = run_main(capsys, command, "--help")
    assert status == 0
    assert out.startswith(f"usage: skmnist {command}")
    if command in ("evaluate", "predict"):
        assert "trust" in out  # pickles run code when loaded


def test_usage_errors_and_version(capsys):
    status, _, err = run_main(capsys)
    assert status == 2 and "required: COMMAND" in err
    status, _, err = run_main(capsys, "train", "--epochs", "many")
    assert status == 2 and "invalid int value" in err
    status, out, _ = run_main(capsys, "--version")
    assert status == 0 and re.fullmatch(r"skmnist \d+\.\d+\.\d+.*\n", out)


def test_environment_is_restored(capsys, monkeypatch, data_home):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    assert run_main(capsys, "fetch", "--data-home", data_home)[0] == 0
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ


def test_console_script_help():
    result = subprocess.run(
        [*console_script(), "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: skmnist")
    for command in ("fetch", "train", "evaluate", "predict"):
        assert command in result.stdout


def test_importing_the_cli_is_cheap():
    script = (
        "import sys, skmnist.cli, skmnist.__main__; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'matplotlib', 'PIL') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
