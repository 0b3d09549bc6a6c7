"""Tests of the ``skmnist`` command (skmnist.cli).

One model is trained per module, in-process through ``main``; the other
commands run in-process too, except a few real runs of the console script that
check what a shell sees: exit status, stdout, stderr, tracebacks.
"""

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import types

import joblib
import numpy as np
import pytest
from _http_server import Reply, ScriptedServer
from PIL import Image
from sklearn.metrics import classification_report

import skmnist
from skmnist import cli, load_mnist_sample
from skmnist.datasets import _fetch

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PREDICTION = re.compile(r"^(?P<name>.+): (?P<label>\d) \(p=(?P<p>[01]\.\d\d)\)$")
# A folder that no one may write into, root included (sysfs takes no new files).
UNWRITABLE_FOLDER = "/sys"


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


def classifier_defaults():
    from skmnist import MNISTClassifier

    return MNISTClassifier().get_params()


@pytest.fixture(scope="module")
def sample_test():
    return load_mnist_sample(subset="test", return_X_y=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``skmnist train --sample --epochs 2 --hidden-size 32 --random-state 0
    --out m.joblib --report-dir r``, run once in-process."""
    folder = tmp_path_factory.mktemp("cli")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(
            ["train", "--sample", "--epochs", "2", "--hidden-size", "32"]
            + ["--random-state", "0", "--out", str(folder / "m.joblib")]
            + ["--report-dir", str(folder / "r")]
        )
    return types.SimpleNamespace(
        folder=folder,
        model=folder / "m.joblib",
        report=folder / "r",
        status=status,
        out=out.getvalue(),
        err=err.getvalue(),
    )


@pytest.fixture(scope="module")
def pipe(trained):
    assert trained.status == 0, trained.err
    return joblib.load(trained.model)


@pytest.fixture(scope="module")
def metrics(trained):
    assert trained.status == 0, trained.err
    return json.loads((trained.report / "metrics.json").read_text())


def _must_not_run(*args, **kwargs):
    raise AssertionError("the command went on to load data or train")


@pytest.fixture
def no_training(monkeypatch):
    """Loading data or building a model fails the test."""
    for name in ("load_mnist_sample", "fetch_mnist", "make_mnist_pipeline"):
        monkeypatch.setattr(skmnist, name, _must_not_run)


# -- train -----------------------------------------------------------------------------


@pytest.mark.slow
def test_train_console_script(tmp_path, skmnist_command):
    # As from a shell, where TF_CPP_MIN_LOG_LEVEL is unset (importing Keras in
    # this process sets it).
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [*skmnist_command, "train", "--sample", "--epochs", "2"]
        + ["--hidden-size", "8", "--random-state", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    # Keras's progress bars (verbose=1 by default), then the test scores.
    assert "Epoch 1/2" in result.stdout and "Epoch 2/2" in result.stdout
    assert re.search(r"^test accuracy: +0\.\d{4}$", result.stdout, re.M)
    assert re.search(r"^test log loss: +\d+\.\d{4}$", result.stdout, re.M)
    assert "Traceback" not in result.stderr
    # TensorFlow's start-up lines, which no log level hides, are kept out.
    assert "InitializeLog" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # neither --out nor --report-dir


def _train_interrupted(out, *options):
    """``skmnist train --out OUT`` as from a shell, where Ctrl+C comes once the
    first epoch is reported: returns its exit status and output."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    command = [sys.executable, "-m", "skmnist", "train", "--sample", "--epochs"]
    command += ["1000", "--hidden-size", "8", "--random-state", "0", "--verbose"]
    command += ["2", "--out", os.fspath(out), *options]
    with subprocess.Popen(
        command,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        timer = threading.Timer(300, proc.kill)
        timer.start()
        try:
            lines = []
            for line in proc.stdout:  # the epochs' lines, one each
                lines.append(line)
                if line.startswith("Epoch 1/1000"):
                    proc.send_signal(signal.SIGINT)
                    break
            lines.append(proc.stdout.read())
            status = proc.wait()
        finally:
            timer.cancel()
    return status, "".join(lines)


@pytest.mark.slow
def test_ctrl_c_in_train_leaves_the_existing_model_and_exits_130(tmp_path):
    out = tmp_path / "existing.skmnist"
    out.write_bytes(b"the user's model, whatever it holds")
    status, output = _train_interrupted(out)
    assert status == 130, output
    assert out.read_bytes() == b"the user's model, whatever it holds"
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left
    assert re.search(r"interrupted after \d+ of 1000 epochs: \S+ not written", output)
    assert "--keep-partial" in output
    assert "test accuracy" not in output and "Traceback" not in output


@pytest.mark.slow
def test_ctrl_c_in_train_with_keep_partial_writes_the_model_reached(tmp_path):
    out = tmp_path / "existing.joblib"
    out.write_bytes(b"the user's model, whatever it holds")
    status, output = _train_interrupted(out, "--keep-partial")
    assert status == 0, output
    n_iter = joblib.load(out)[-1].n_iter_
    assert 1 <= n_iter < 1000
    assert f"after {n_iter} of 1000 epochs" in output
    assert re.search(r"^test accuracy: +0\.\d{4}$", output, re.M)
    assert list(tmp_path.iterdir()) == [out]


# A line TensorFlow or absl prints as TensorFlow starts (oneDNN, CUDA, CPU
# features), as skmnist's quiet start recognizes them.
TF_START_UP_LINE = re.compile(
    r"^(WARNING: All log messages before absl|[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ "
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] |To enable the following)",
    re.M,
)


@pytest.mark.slow
def test_pickled_models_start_tensorflow_quietly(tmp_path, trained, skmnist_command):
    import joblib
    from scikeras.wrappers import KerasClassifier

    # Unpickling this one imports scikeras, so Keras and TensorFlow, before any
    # skmnist module: the quiet start must come first all the same.
    joblib.dump(KerasClassifier(model=None), tmp_path / "scikeras.joblib")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    for argv, status in [
        (["predict", trained.model, "missing.png"], 1),
        (["evaluate", trained.model, "--sample"], 0),
        (["predict", "scikeras.joblib", "missing.png"], 2),
    ]:
        result = subprocess.run(
            [*skmnist_command, *map(os.fspath, argv)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == status, result.stderr
        assert not TF_START_UP_LINE.search(result.stderr), result.stderr
        assert all(
            line.startswith("skmnist: error: ") for line in result.stderr.splitlines()
        )


def test_train_writes_the_fitted_pipeline(trained, pipe, metrics, sample_test):
    from sklearn.pipeline import Pipeline

    from skmnist import MNISTClassifier

    assert isinstance(pipe, Pipeline)
    assert isinstance(pipe[-1], MNISTClassifier)
    assert pipe[-1].hidden_size == 32 and pipe[-1].n_iter_ == 2
    X, y = sample_test
    assert pipe.score(X, y) == pytest.approx(metrics["accuracy"])
    printed = re.search(r"^test accuracy: +(\S+)$", trained.out, re.M)
    assert printed.group(1) == f"{metrics['accuracy']:.4f}"
    assert "Epoch 2/2" in trained.out
    assert f"model:          {trained.model}\n" in trained.out
    assert f"report:         {trained.report}\n" in trained.out


def test_train_leaves_every_other_parameter_to_the_classifier(pipe):
    given = {"hidden_size": 32, "epochs": 2, "random_state": 0, "verbose": 1}
    expected = {**classifier_defaults(), **given}
    assert pipe[-1].get_params() == expected


def test_train_report_is_evaluate_models(trained, pipe, metrics, sample_test):
    from skmnist import evaluate_model

    X, y = sample_test
    assert metrics["data"] == {
        "source": "sample",
        "n_train": 2000,
        "n_test": 500,
        "n_left_out": 0,
    }
    assert metrics["fit_time"] > 0
    expected = evaluate_model(
        pipe,
        X,
        y,
        fit_time=metrics["fit_time"],
        data_info={"source": "sample", "n_train": 2000},
    )
    assert metrics == expected
    assert sorted(p.name for p in trained.report.iterdir()) == [
        "confusion_matrix.png",
        "learning_curves.png",
        "metrics.json",
        "misclassified.png",
    ]
    for png in trained.report.glob("*.png"):
        assert png.read_bytes().startswith(PNG_MAGIC)


def test_train_pickle_free_model_file(tmp_path, capsys, sample_test):
    # --out without .joblib/.pkl: skmnist.save_model, which predict reads back.
    from skmnist import load_model

    path = tmp_path / "small.skmnist"
    status, out, err = run_main(
        capsys,
        *("train", "--sample", "--epochs", "2", "--hidden-size", "8"),
        *("--early-stopping", "--patience", "1", "--learning-rate", "0.002"),
        *("--verbose", "0", "--random-state", "0", "--out", path),
    )
    assert status == 0, err
    assert f"model:          {path}" in out
    params = load_model(path)[-1].get_params()
    assert (params["early_stopping"], params["patience"]) == (True, 1)
    assert params["learning_rate"] == 0.002
    X, _ = sample_test
    np.save(tmp_path / "x.npy", X[:4])
    status, out, err = run_main(capsys, "predict", path, tmp_path / "x.npy")
    assert status == 0, err
    labels = [int(PREDICTION.match(line).group("label")) for line in out.splitlines()]
    assert labels == load_model(path).predict(X[:4]).tolist()


def test_train_help_shows_the_classifiers_defaults(capsys):
    status, out, _ = run_main(capsys, "train", "--help")
    assert status == 0
    options = " ".join(out.split("\nmodel:\n", 1)[1].split())
    shown = {}
    for name, value in classifier_defaults().items():
        if name == "verbose":  # the command's own default, below
            continue
        flag = "--" + name.replace("_", "-")
        entry = re.search(rf"(?<![\w-]){flag}\b.*?\(default: ([^)]*)\)", options)
        if entry:
            shown[name] = entry.group(1)
            assert entry.group(1) == str(value), name
    assert {
        "hidden_size",
        "n_hidden_layers",
        "activation",
        "dropout",
        "learning_rate",
        "epochs",
        "batch_size",
        "validation_split",
        "early_stopping",
        "patience",
        "random_state",
    } <= set(shown)
    # The command's one default of its own: Keras's progress bars.
    assert "--verbose {0,1,2}" in options and "(default: 1;" in options


def _fifo(path):
    os.mkfifo(path)
    return path


def _socket(path):
    import socket

    sock = socket.socket(socket.AF_UNIX)
    sock.bind(os.fspath(path))
    sock.close()  # the socket file stays
    return path


def _report_dir_with_fifo(folder):
    report = folder / "report"
    report.mkdir()
    _fifo(report / "metrics.json")
    return report


def _unwritable_targets(folder):
    (folder / "file").write_text("a file, not a folder")
    (folder / "folder.skmnist").mkdir()
    return [
        (["--out", folder / "no" / "m.joblib"], "does not exist"),
        (["--out", folder / "file" / "m.skmnist"], "is not a folder"),
        (["--out", folder / "folder.skmnist"], "is a folder"),
        (["--out", f"{UNWRITABLE_FOLDER}/m.skmnist"], "Permission denied"),
        (["--report-dir", folder / "file"], "is a file, not a folder"),
        (["--out", _fifo(folder / "pipe.skmnist")], "is a named pipe (FIFO)"),
        (["--out", _socket(folder / "sock.skmnist")], "is a socket"),
        (["--out", ""], "the file name is empty"),
        (["--report-dir", _report_dir_with_fifo(folder)], "is a named pipe (FIFO)"),
        (["--report-dir", folder / "file" / "r"], "Not a directory"),
        (["--report-dir", f"{UNWRITABLE_FOLDER}/r"], "not permitted"),
        (["--report-dir", UNWRITABLE_FOLDER], "Permission denied"),
    ]


def test_train_refuses_unwritable_targets_before_training(
    tmp_path, capsys, no_training
):
    for option, reason in _unwritable_targets(tmp_path):
        status, out, err = run_main(capsys, "train", "--sample", *option)
        assert_one_error_line(status, err, os.fspath(option[1]), reason)
        assert out == ""
    # Nothing was replaced: the special files are what they were.
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe.skmnist").st_mode)
    assert stat.S_ISSOCK(os.stat(tmp_path / "sock.skmnist").st_mode)
    assert stat.S_ISFIFO(os.stat(tmp_path / "report" / "metrics.json").st_mode)


def test_one_epoch_is_said_in_the_singular(tmp_path, capsys):
    model = tmp_path / "m.skmnist"
    argv = ["--epochs", "1", "--hidden-size", "8", "--verbose", "0", "--out", model]
    status, out, err = run_main(capsys, "train", "--sample", *argv)
    assert status == 0, err
    assert "(1 epoch, hidden size 8)" in out and "s (1 epoch)\n" in out
    status, out, err = run_main(capsys, "info", model)
    assert status == 0, err
    assert "training:     1 epoch; last epoch 1:" in out
    assert "epochs" not in out.replace("epochs=1", "")


def test_a_train_refused_before_training_leaves_no_report_folder(tmp_path, capsys):
    report = tmp_path / "report" / "nested"
    status, out, err = run_main(
        capsys, "train", "--sample", "--epochs", "0", "--report-dir", report
    )
    assert_one_error_line(status, err, "epochs")
    assert list(tmp_path.iterdir()) == []


def test_a_train_without_data_leaves_no_report_folder(tmp_path, capsys, monkeypatch):
    # `skmnist train --out model.skmnist --report-dir report` offline: the
    # download fails (here every URL answers 404), and the folder the report
    # would have gone to is not left behind, empty.
    (tmp_path / "cache").mkdir()
    with ScriptedServer() as server:
        monkeypatch.delenv("SKMNIST_MIRROR", raising=False)
        monkeypatch.setenv("SKMNIST_DATA_HOME", str(tmp_path / "cache"))
        monkeypatch.setattr(_fetch, "MNIST_URL", server.url("/official/mnist.npz"))
        status, _, err = run_main(
            capsys,
            "train",
            "--out",
            tmp_path / "model.skmnist",
            "--report-dir",
            tmp_path / "report",
        )
    assert_one_error_line(status, err, "404")
    assert sorted(os.listdir(tmp_path)) == ["cache"]


@contextlib.contextmanager
def unprivileged():
    """Run the block as a user whom file permissions bind: as "nobody" when the
    tests run as root, who writes into read-only folders anyway."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def test_train_into_a_read_only_folder(capsys, no_training):
    folder = tempfile.mkdtemp()  # in the temp folder, which "nobody" may enter
    read_only = os.path.join(folder, "ro")
    os.mkdir(read_only)
    os.chmod(folder, 0o755)
    os.chmod(read_only, 0o555)
    try:
        for option, target in [
            ("--out", os.path.join(read_only, "m.skmnist")),
            ("--report-dir", os.path.join(read_only, "report")),
        ]:
            with unprivileged():
                status, out, err = run_main(capsys, "train", "--sample", option, target)
            assert_one_error_line(status, err, target, "Permission denied")
            assert out == ""  # not even "Training on ..."
        assert os.listdir(read_only) == []
    finally:
        os.chmod(read_only, 0o755)
        shutil.rmtree(folder)


@pytest.mark.parametrize(
    "options, reason",
    [
        (["--hidden-size", "0"], "hidden_size"),
        (["--activation", "relux"], "activation='relux'"),
        (["--optimizer", "adamm"], "optimizer='adamm'"),
        (["--early-stopping", "--validation-split", "0"], "validation_split"),
    ],
)
def test_train_invalid_parameter(capsys, options, reason):
    status, out, err = run_main(capsys, "train", "--sample", *options)
    assert_one_error_line(status, err, reason)
    assert "Epoch" not in out


def test_train_diverging_is_one_line(capsys):
    status, _, err = run_main(
        capsys,
        *("train", "--sample", "--epochs", "1", "--hidden-size", "8"),
        *("--optimizer", "sgd", "--learning-rate", "1e30", "--verbose", "0"),
    )
    assert_one_error_line(status, err, "Training diverged")


# -- bugs are not hidden ---------------------------------------------------------------


@pytest.mark.parametrize(
    "error", [RuntimeError("bug"), KeyError("bug"), ValueError("bug"), TypeError("x")]
)
def test_a_bug_raises_with_its_traceback(tmp_path, monkeypatch, error):
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(skmnist, "fetch_mnist", broken)
    with pytest.raises(type(error)) as raised:
        cli.main(["fetch", "--data-home", os.fspath(tmp_path)])
    assert raised.value is error


def test_a_bug_after_training_raises(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("a bug in the report")

    monkeypatch.setattr(skmnist, "evaluate_model", broken)
    with pytest.raises(ValueError, match="a bug in the report"):
        cli.main(
            ["train", "--sample", "--epochs", "1", "--hidden-size", "4"]
            + ["--verbose", "0", "--out", os.fspath(tmp_path / "m.skmnist")]
        )
    assert (tmp_path / "m.skmnist").is_file()  # saved before the report


def test_console_script_shows_a_bugs_traceback(tmp_path):
    code = (
        "import sys, skmnist\n"
        "def broken(*args, **kwargs):\n"
        "    raise KeyError('a bug')\n"
        "skmnist.fetch_mnist = broken\n"
        "from skmnist.cli import main\n"
        f"sys.exit(main(['fetch', '--data-home', {os.fspath(tmp_path)!r}]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert result.stderr.splitlines()[-1] == "KeyError: 'a bug'"


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
    assert status == 1  # an input failed, not the command
    assert len(err.splitlines()) == 1 and "blank" in err


def test_predict_console_missing_model(tmp_path):
    # A real run: the model is loaded first, so a wrong model path fails once,
    # in one line, status 2, before any image is read.
    result = subprocess.run(
        [sys.executable, "-m", "skmnist", "predict", "m.joblib", "missing.png"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "skmnist: error: m.joblib: no such model file"
    ]


def test_predict_console_fifo_is_refused_not_read(trained, tmp_path, sample_test):
    # A named pipe with no writer would block a reader forever: a hang fails
    # the test by its timeout.
    np.save(tmp_path / "good.npy", sample_test[0][0])
    os.mkfifo(tmp_path / "pipe.png")
    # A .skmnist file: the light path, whose stderr no TensorFlow version adds to.
    model = tmp_path / "m.skmnist"
    skmnist.save_model(joblib.load(trained.model), model)
    result = subprocess.run(
        [sys.executable, "-m", "skmnist", "predict", str(model)]
        + ["good.npy", "pipe.png"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert PREDICTION.match(result.stdout.strip()).group("name") == "good.npy"
    assert result.stderr.splitlines() == [
        "skmnist: error: pipe.png is a named pipe (FIFO), not an image or .npy "
        "file: give the path of a regular file."
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
    bad = _bad_inputs(tmp_path)
    for name, reason in bad.items():
        files = [tmp_path / "good.npy", tmp_path / name]
        status, out, err = run_main(capsys, "predict", trained.model, *files)
        assert status == 1
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("skmnist: error: "), err
        assert name in lines[0] and reason in lines[0]
        assert "Traceback" not in err
        # The good file is still answered.
        assert [PREDICTION.match(line).group("name") for line in out.splitlines()] == [
            f"{tmp_path / 'good.npy'}[{i}]" for i in range(2)
        ]


def test_predict_answers_every_good_file_of_a_batch(trained, pipe, tmp_path, capsys):
    X, _ = load_mnist_sample(subset="test", return_X_y=True)
    names = ["a.npy", "notes.png", "b.npy", "c.npy", "missing.npy"]
    for i, name in enumerate(["a.npy", "b.npy", "c.npy"]):
        np.save(tmp_path / name, X[i])
    (tmp_path / "notes.png").write_text("not an image")
    status, out, err = run_main(
        capsys, "predict", trained.model, *(tmp_path / n for n in names)
    )
    assert status == 1
    matches = [PREDICTION.match(line) for line in out.splitlines()]
    assert [m.group("name") for m in matches] == [
        str(tmp_path / n) for n in ("a.npy", "b.npy", "c.npy")
    ]
    assert [int(m.group("label")) for m in matches] == pipe.predict(X[:3]).tolist()
    errors = err.splitlines()
    assert len(errors) == 2 and "notes.png" in errors[0] and "missing.npy" in errors[1]


def test_predict_json_lines(trained, pipe, tmp_path, capsys, sample_test):
    X, _ = sample_test
    np.save(tmp_path / "one.npy", X[0])
    np.save(tmp_path / "stack.npy", X[1:3])
    (tmp_path / "notes.png").write_text("not an image")
    files = [tmp_path / "one.npy", tmp_path / "notes.png", tmp_path / "stack.npy"]
    status, out, err = run_main(capsys, "predict", "--json", trained.model, *files)
    assert status == 1 and err == ""
    answers = [json.loads(line) for line in out.splitlines()]
    assert len(answers) == 4
    assert answers[1]["file"] == str(files[1]) and "not an image" in answers[1]["error"]
    good = [answers[0], answers[2], answers[3]]
    assert [a["file"] for a in good] == [str(files[0])] + [str(files[2])] * 2
    assert "index" not in good[0] and [a["index"] for a in good[1:]] == [0, 1]
    expected = pipe.predict_proba(X[:3])
    for answer, proba in zip(good, expected, strict=True):
        assert answer["label"] == int(pipe.classes_[proba.argmax()])
        assert isinstance(answer["label"], int)
        assert list(answer["probabilities"]) == [str(c) for c in pipe.classes_]
        assert list(answer["probabilities"].values()) == pytest.approx(proba, abs=1e-6)
        assert answer["probability"] == pytest.approx(proba.max(), abs=1e-6)


def test_predict_top_k(trained, pipe, tmp_path, capsys, sample_test):
    X, _ = sample_test
    np.save(tmp_path / "one.npy", X[0])
    proba = pipe.predict_proba(X[:1])[0]
    order = np.argsort(-proba, kind="stable")[:3]
    status, out, err = run_main(
        capsys, "predict", "--top-k", "3", trained.model, tmp_path / "one.npy"
    )
    assert status == 0, err
    expected = ", ".join(f"{pipe.classes_[c]} (p={proba[c]:.2f})" for c in order)
    assert out == f"{tmp_path / 'one.npy'}: {expected}\n"
    status, out, err = run_main(
        capsys, "predict", "--json", "--top-k", "3", trained.model, tmp_path / "one.npy"
    )
    assert status == 0, err
    answer = json.loads(out)
    assert "probabilities" not in answer
    assert [t["label"] for t in answer["top_k"]] == pipe.classes_[order].tolist()
    assert [t["probability"] for t in answer["top_k"]] == pytest.approx(
        proba[order], abs=1e-6
    )
    for k in ("0", "11", "-2"):
        status, out, err = run_main(
            capsys, "predict", "--top-k", k, trained.model, tmp_path / "one.npy"
        )
        assert_one_error_line(status, err, "--top-k", "10 classes", k)
        assert out == ""


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
        "dict.joblib": "holds a dict object, not a fitted skmnist model",
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
    # A fitted MNISTClassifier alone (it takes FlattenScaler's rows in [0, 1])
    # predicts and scores exactly as the pipeline it came from.
    np.save(tmp_path / "x.npy", sample_test[0][:4])
    joblib.dump(pipe[-1], tmp_path / "clf.joblib")
    outputs = []
    for model in (trained.model, tmp_path / "clf.joblib"):
        status, predicted, err = run_main(capsys, "predict", model, tmp_path / "x.npy")
        assert status == 0, err
        status, evaluated, err = run_main(capsys, "evaluate", model, "--sample")
        assert status == 0, err
        outputs.append((predicted, evaluated.split("\n", 1)[1]))
    assert outputs[0] == outputs[1]
    assert len(outputs[0][0].splitlines()) == 4


# -- evaluate --------------------------------------------------------------------------


def test_evaluate_on_the_sample(trained, metrics, pipe, sample_test, capsys):
    status, out, err = run_main(capsys, "evaluate", trained.model, "--sample")
    assert status == 0, err
    assert re.search(rf"^accuracy: +{metrics['accuracy']:.4f}$", out, re.M)
    assert re.search(rf"^log loss: +{metrics['log_loss']:.4f}$", out, re.M)
    # scikit-learn's classification report: a row per digit, and the averages.
    for label in range(10):
        assert re.search(rf"^ +{label}( +[01]\.\d{{4}}){{3}} +\d+$", out, re.M)
    assert "macro avg" in out and "weighted avg" in out
    # The very report scikit-learn makes from the model's predictions.
    X_test, y_test = sample_test
    report = classification_report(
        y_test, pipe.predict(X_test), labels=pipe.classes_, digits=4, zero_division=0
    )
    assert report in out


@pytest.fixture(scope="module")
def some_digits_models(tmp_path_factory):
    """Tiny pipelines (1 epoch) of digits 0-4, and of labels shifted by 10."""
    from skmnist import make_mnist_pipeline

    X, y = load_mnist_sample(return_X_y=True)
    folder = tmp_path_factory.mktemp("some-digits")
    paths = {}
    for name, (rows, labels) in {
        "low.joblib": (X[y < 5], y[y < 5]),
        "shifted.joblib": (X, y + 10),
        "strings.joblib": (X, y.astype(str)),
    }.items():
        pipe = make_mnist_pipeline(hidden_size=8, epochs=1, random_state=0)
        joblib.dump(pipe.fit(rows, labels), folder / name)
        paths[name] = folder / name
    return paths


def test_evaluate_a_model_of_some_digits(some_digits_models, sample_test, capsys):
    _, y_test = sample_test
    model = some_digits_models["low.joblib"]
    status, out, err = run_main(capsys, "evaluate", model, "--sample")
    assert status == 0, err
    n_known = int((y_test < 5).sum())
    first = out.splitlines()[0]
    assert first == (
        f"{model}: evaluated {n_known} of 500 test images of the packaged sample "
        "of MNIST: the model knows the classes 0, 1, 2, 3, 4 only; "
        f"{500 - n_known} images of other digits left out"
    )
    pipe = joblib.load(model)
    known = y_test < 5
    X_known = sample_test[0][known]
    accuracy = pipe.score(X_known, y_test[known])
    assert re.search(rf"^accuracy: +{accuracy:.4f}$", out, re.M)


def test_evaluate_labels_that_match_by_string_form(some_digits_models, capsys):
    model = some_digits_models["strings.joblib"]
    status, out, err = run_main(capsys, "evaluate", model, "--sample")
    assert status == 0, err
    assert out.splitlines()[0] == (
        f"{model} on 500 test images of the packaged sample of MNIST"
    )


def test_evaluate_a_model_of_no_test_label_is_one_line(some_digits_models, capsys):
    model = some_digits_models["shifted.joblib"]
    status, out, err = run_main(capsys, "evaluate", model, "--sample")
    assert_one_error_line(
        status, err, "the model knows the classes 10, 11", "labels are 0, 1"
    )
    assert out == ""


def test_evaluate_report_dir_is_trains_report(trained, metrics, tmp_path, capsys):
    report = tmp_path / "report"
    status, out, err = run_main(
        capsys, "evaluate", trained.model, "--sample", "--report-dir", report
    )
    assert status == 0, err
    assert sorted(os.listdir(report)) == sorted(os.listdir(trained.report))
    again = json.loads((report / "metrics.json").read_text())
    for key in ("accuracy", "log_loss", "confusion_matrix", "labels", "history"):
        assert again[key] == metrics[key]
    assert again["data"] == {"source": "sample", "n_test": 500, "n_left_out": 0}
    assert out.splitlines()[-1] == f"report:    {report}"


def test_evaluate_report_dir_checked_before_loading(
    capsys, monkeypatch, no_training, tmp_path, trained
):
    (tmp_path / "file").write_text("")
    status, out, err = run_main(
        capsys, "evaluate", trained.model, "--sample", "--report-dir", tmp_path / "file"
    )
    assert_one_error_line(status, err, "is a file, not a folder for the report")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    report = tmp_path / "report"
    status, out, err = run_main(
        capsys, "evaluate", trained.model, "--sample", "--report-dir", report
    )
    assert_one_error_line(status, err, "--report-dir", "skmnist[plot]")
    assert out == "" and not report.exists()


def test_report_dir_without_matplotlib_fails_first(
    capsys, monkeypatch, no_training, tmp_path
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    report = tmp_path / "report"
    status, out, err = run_main(capsys, "train", "--sample", "--report-dir", report)
    assert_one_error_line(status, err, "--report-dir", "skmnist[plot]")
    assert out == "" and not report.exists()


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


@pytest.mark.realdata
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


@pytest.mark.parametrize("module", ["skmnist", "skmnist.cli"])
def test_python_dash_m_runs_the_command(module):
    result = subprocess.run(
        [sys.executable, "-m", module, "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("skmnist ")


def test_train_refuses_an_onnx_out_before_training(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(skmnist, "load_mnist_sample", _must_not_run)
    out = tmp_path / "model.onnx"
    status, _, err = run_main(capsys, "train", "--sample", "--out", str(out))
    assert_one_error_line(status, err, "skmnist export", "model.skmnist")
    assert not out.exists()


def test_console_script_help(skmnist_command):
    result = subprocess.run(
        [*skmnist_command, "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: skmnist")
    for command in ("fetch", "train", "evaluate", "predict"):
        assert command in result.stdout


def test_every_help_starts_no_deep_learning_runtime():
    """Help is text: no command's --help imports TensorFlow, Keras, scikit-learn
    or matplotlib (train's help shows the classifier's defaults from their table)."""
    script = (
        "import contextlib, io, sys\n"
        "import skmnist.__main__\n"
        "from skmnist.cli import main\n"
        "from skmnist.cli._main import COMMANDS\n"
        "names = [c.__name__.rpartition('.')[2] for c in COMMANDS]\n"
        "assert 'train' in names, names\n"
        "for argv in [['--help']] + [[name, '--help'] for name in names]:\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        assert main(argv) == 0\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'sklearn', 'matplotlib', "
        "'PIL') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# -- user mistakes: one line each, never a traceback -------------------------------


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_serve_port_out_of_range_is_one_line(capsys, port):
    status, out, err = run_main(capsys, "serve", "m.skmnist", "--port", port)
    assert status == 2 and out == ""
    assert err.splitlines() == [
        f"skmnist serve: error: argument --port: {port!r} is not a port: give a "
        "number from 0 to 65535 (0: any free one) (see 'skmnist serve --help')"
    ]


def test_negative_epochs_fail_before_anything_is_printed(capsys, monkeypatch):
    monkeypatch.setattr(skmnist, "load_mnist_sample", _must_not_run)
    status, out, err = run_main(capsys, "train", "--sample", "--epochs", "-3")
    assert_one_error_line(status, err, "'epochs'", "Got -3")
    assert out == ""


def test_missing_extra_is_one_line_naming_it(capsys, monkeypatch, serve_model_path):
    # None in sys.modules makes the import fail, as without the package.
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    monkeypatch.delitem(sys.modules, "skmnist.serve", raising=False)
    status, _, err = run_main(capsys, "serve", serve_model_path)
    assert_one_error_line(status, err, "pip install 'skmnist[serve]'")
    # The model path is checked first: a wrong one is the error to fix first.
    status, _, err = run_main(capsys, "serve", "missing.skmnist")
    assert_one_error_line(status, err, "missing.skmnist: no such model file")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    status, _, err = run_main(capsys, "train", "--sample", "--report-dir", "r")
    assert_one_error_line(status, err, "pip install 'skmnist[plot]'")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["numpy", "torch", "bogus"])
def test_unsupported_keras_backend_is_one_line(skmnist_command, backend, tmp_path):
    env = {**os.environ, "KERAS_BACKEND": backend}
    result = subprocess.run(
        [*skmnist_command, "train", "--sample", "--epochs", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"skmnist: error: skmnist runs on Keras's 'tensorflow' and 'jax' backends, "
        f"but KERAS_BACKEND is {backend!r}: set KERAS_BACKEND=tensorflow or "
        "KERAS_BACKEND=jax (or unset it) before the first import of Keras."
    ]


def test_an_internal_error_keeps_its_traceback(capsys, monkeypatch):
    """Only skmnist's user errors are one line: a bug's ValueError propagates."""

    def bug(*args, **kwargs):
        raise ValueError("an internal bug")

    monkeypatch.setattr(skmnist, "load_mnist_sample", bug)
    with pytest.raises(ValueError, match="an internal bug"):
        cli.main(["train", "--sample", "--epochs", "1"])


def test_commands_feed_each_model_its_own_input_convention(
    capsys, tmp_path, trained, sample_test
):
    """One fitted network behind FlattenScaler(scale=1.0), scale=65535 or no
    scaler at all reads the same PNG digits as the default pipeline does, in
    predict (and in evaluate, which feeds the test images the same way)."""
    from sklearn.pipeline import Pipeline

    from skmnist import FlattenScaler, save_model

    X, y = sample_test
    pipe = joblib.load(trained.model)
    mlp = pipe[-1]
    models = {
        "default": pipe,
        "unit": Pipeline(
            [("flatten", FlattenScaler(scale=1.0).fit(X / 255)), ("mlp", mlp)]
        ),
        "wide": Pipeline(
            [("flatten", FlattenScaler(scale=65535).fit(X)), ("mlp", mlp)]
        ),
        "bare": mlp,
    }
    pngs = []
    for i, image in enumerate(X[:20]):
        pngs.append(tmp_path / f"d{i}.png")
        Image.fromarray(image).save(pngs[-1])
    answers, scores = {}, {}
    for name, model in models.items():
        save_model(model, tmp_path / f"{name}.skmnist")
        status, out, err = run_main(
            capsys, "predict", tmp_path / f"{name}.skmnist", *pngs
        )
        assert status == 0, err
        answers[name] = [line.split(": ", 1)[1] for line in out.splitlines()]
        status, out, err = run_main(
            capsys, "evaluate", tmp_path / f"{name}.skmnist", "--sample"
        )
        assert status == 0, err
        scores[name] = [line for line in out.splitlines() if "accuracy" in line]
    assert len(answers["default"]) == 20
    labels = [int(a.split(" ")[0]) for a in answers["default"]]
    assert np.mean(np.array(labels) == y[:20]) >= 0.5  # it reads digits at all
    for name in ("unit", "wide", "bare"):
        assert answers[name] == answers["default"], name
        assert scores[name] == scores["default"], name
