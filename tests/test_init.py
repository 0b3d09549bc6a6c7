"""The package's front door: public names, and imports that stay light."""

import subprocess
import sys

import pytest

import skmnist


def _modules_after(code):
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
        check=True,
        capture_output=True,
        text=True,
    )
    return set(done.stdout.split())


def test_import_skmnist_starts_nothing_heavy():
    loaded = _modules_after("import skmnist")
    assert not {"tensorflow", "keras", "sklearn", "scikeras"} & loaded


def test_data_utilities_never_start_tensorflow():
    loaded = _modules_after(
        "import skmnist\n"
        "X, y = skmnist.load_mnist_sample(return_X_y=True)\n"
        "skmnist.FlattenScaler().fit_transform(X)"
    )
    assert "sklearn" in loaded
    assert not {"tensorflow", "keras", "scikeras"} & loaded


@pytest.mark.parametrize("name", skmnist.__all__)
def test_public_names_resolve(name):
    obj = getattr(skmnist, name)
    assert obj.__name__ == name
    assert name in dir(skmnist)


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        skmnist.nope  # noqa: B018
