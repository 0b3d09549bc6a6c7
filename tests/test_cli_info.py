"""``skmnist info MODEL``: a model file described from its manifest, no TensorFlow."""

import os
import subprocess

from skmnist import MNISTClassifier, load_model, save_model
from skmnist.cli import main


def test_info_describes_a_pipeline(serve_model_path, capsys):
    assert main(["info", str(serve_model_path)]) == 0
    out = capsys.readouterr().out
    model = load_model(serve_model_path)
    history = model[-1].history_
    names = ", ".join(f"{n}={type(s).__name__}" for n, s in model.steps)
    assert out.startswith(f"{serve_model_path}: Pipeline({names})\n")
    assert "classes:      0 1 2 3 4 5 6 7 8 9 (10)" in out
    assert "input:        (28, 28) images, pixel values 0-255" in out
    assert "hidden_size=64" in out and "activation='relu'" in out
    assert f"3 epochs; last epoch 3: loss {history['loss'][-1]:.4f}" in out
    assert f"val_accuracy {history['val_accuracy'][-1]:.4f}" in out
    size = os.path.getsize(serve_model_path)
    assert f"file:         format 2, {size / 1e6:.2f} MB ({size:,} bytes)" in out
    assert "written by:   " in out and "skmnist 0.1.0" in out and "keras 3." in out


def test_info_of_a_bare_classifier_without_validation(blobs, tmp_path, capsys):
    X, y = blobs
    clf = MNISTClassifier(hidden_size=8, epochs=2, validation_split=0.0)
    save_model(clf.fit(X, y), tmp_path / "clf.skmnist")
    assert main(["info", str(tmp_path / "clf.skmnist")]) == 0
    out = capsys.readouterr().out
    assert ": MNISTClassifier\n" in out
    assert "classes:      a b c (3)" in out
    assert "input:        8 features" in out
    assert "(no validation split)" in out


def test_info_refuses_pickles_and_damaged_files(serve_model_path, tmp_path, capsys):
    assert main(["info", str(tmp_path / "model.joblib")]) == 2
    assert "is a pickle" in capsys.readouterr().err
    damaged = bytearray(serve_model_path.read_bytes())
    damaged[100] ^= 0xFF
    (tmp_path / "bad.skmnist").write_bytes(bytes(damaged))
    assert main(["info", str(tmp_path / "bad.skmnist")]) == 2
    err = capsys.readouterr().err
    assert "checksum is wrong" in err and err.count("\n") == 1
    os.mkfifo(tmp_path / "fifo")
    assert main(["info", str(tmp_path / "fifo")]) == 2
    assert "named pipe" in capsys.readouterr().err


def test_info_starts_no_deep_learning_runtime_nor_sklearn(
    serve_model_path, skmnist_command
):
    done = subprocess.run(
        [*skmnist_command, "info", str(serve_model_path)],
        env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "format 2" in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "skmnist.modelfile._reader" in imported
    # Nor scikit-learn, with the SciPy and pandas it loads.
    heavy = ("tensorflow", "keras", "jax", "scikeras", "sklearn", "scipy", "pandas")
    assert not {name for name in imported if name.split(".")[0] in heavy}
