"""The package's front door: public names, and imports that stay light."""

import ast
import subprocess
import sys
from pathlib import Path

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


def _private_imports(source):
    """The skmnist modules or names starting with "_" that ``source`` imports."""
    found = []
    for node in ast.walk(ast.parse(source)):
        module = getattr(node, "module", None) or ""
        if isinstance(node, ast.ImportFrom) and module.startswith("skmnist"):
            modules = [module]
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            modules, names = [alias.name for alias in node.names], []
        else:
            continue
        parts = [p for m in modules if m.startswith("skmnist") for p in m.split(".")]
        found += [p for p in parts + names if p.startswith("_")]
    return found


def test_examples_and_doctests_use_public_names_only():
    root = Path(__file__).resolve().parents[1]
    sources = {p: p.read_text(encoding="utf-8") for p in root.glob("examples/*.py")}
    for path in root.glob("skmnist/**/*.py"):
        lines = path.read_text(encoding="utf-8").splitlines()
        doctest = [ln.strip()[4:] for ln in lines if ln.strip().startswith(">>> ")]
        sources[path] = "\n".join(line for line in doctest if "import" in line)
    assert len(sources) > 10
    offenders = {str(p): _private_imports(s) for p, s in sources.items()}
    assert {p: bad for p, bad in offenders.items() if bad} == {}
    # The check itself sees a private import.
    private = "from skmnist.report._plotting import plot_digits"
    assert _private_imports(private) == ["_plotting"]
