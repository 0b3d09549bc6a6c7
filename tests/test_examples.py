"""Every script in examples/ runs, at its small size, and says how well it did.

Each example is run in a fresh Python process, as ``python examples/NAME.py``
would run it, with ``SKMNIST_EXAMPLE_SIZE=small`` applied first by
``docs/sphinxext/example_size.py`` (``fetch_mnist`` gives the packaged sample:
seconds of training), ``MPLBACKEND=Agg`` (no display) and a temporary folder as
working directory. New examples are picked up by the glob. The examples
themselves hold no such switch: they read as a user would write them.

The examples are also the docs gallery (sphinx-gallery), which needs a header
docstring (a title underlined with ``=``, then text) and executes the
``plot_*.py`` scripts, capturing the figures they leave open in pyplot.
"""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

# Runs the example as `python script.py` would (as __main__, with its path as
# sys.argv[0] and its folder first on sys.path), then reports how many pyplot
# figures it left open: what sphinx-gallery captures.
RUNNER = """
import runpy, sys
script = sys.argv[1]
sys.argv = [script]
sys.path[0] = __import__("os").path.dirname(script)
sys.path.insert(1, {sphinxext!r})
__import__("example_size").apply()  # SKMNIST_EXAMPLE_SIZE, as the docs build does
runpy.run_path(script, run_name="__main__")
import matplotlib.pyplot as plt
print(f"[test_examples] pyplot figures: {{len(plt.get_fignums())}}")
""".format(sphinxext=str(ROOT / "docs" / "sphinxext"))

# Each example reports an accuracy, e.g. "test accuracy: 0.8420".
ACCURACY = re.compile(r"accuracy[^\n]*?:\s*(0\.\d+|1\.0+)\b", re.IGNORECASE)


def test_examples_are_found():
    names = {path.name for path in EXAMPLES}
    assert {"train_mnist.py", "plot_pipeline.py", "plot_grid_search.py"} <= names


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_has_gallery_header(script):
    docstring = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8")))
    assert docstring, f"{script.name} has no module docstring"
    lines = docstring.splitlines()
    # Optional overline, title, underline of "=" at least as long, then text.
    if set(lines[0]) == {"="}:
        assert lines[2] == lines[0], f"{script.name}: overline and underline differ"
        lines = lines[1:]
    title, underline = lines[0].strip(), lines[1]
    assert title and set(underline) == {"="}, f"{script.name}: no '=' title"
    assert len(underline) >= len(title), f"{script.name}: underline too short"
    assert any(line.strip() for line in lines[2:]), f"{script.name}: no paragraph"
    # The size switch lives in the docs build, not in the code a user copies.
    assert "SKMNIST_EXAMPLE_SIZE" not in script.read_text(encoding="utf-8")


def _run(script, cwd, **env_vars):
    """Run the example as a fresh ``python script.py``: (process, its output)."""
    env = dict(os.environ)
    env.update(MPLBACKEND="Agg", **env_vars)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The skmnist of this checkout, whatever is installed.
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), env.get("PYTHONPATH")) if p
    )
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, str(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr[-5000:]}"
    return proc, output


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_runs_small(script, tmp_path):
    proc, output = _run(script, tmp_path, SKMNIST_EXAMPLE_SIZE="small")
    assert proc.returncode == 0, output
    accuracies = [float(value) for value in ACCURACY.findall(proc.stdout)]
    assert accuracies, f"{script.name} printed no accuracy\n{output}"
    # The examples' networks trained on 2,000 digits: far from the reference
    # model, but well above chance (0.1).
    assert max(accuracies) > 0.3, output
    assert "(the packaged sample)" in proc.stdout, output
    figures = int(re.search(r"pyplot figures: (\d+)", proc.stdout).group(1))
    if script.name.startswith("plot_"):
        assert figures >= 1, f"{script.name} left no pyplot figure for the gallery"
    # Examples write nothing into the folder they are run from.
    assert list(tmp_path.iterdir()) == [], output


# The scripts the docs build runs (docs/conf.py's filename_pattern).
GALLERY_RUN = [p for p in EXAMPLES if p.name.startswith("plot_")] + [
    ROOT / "examples" / "train_mnist.py"
]


@pytest.mark.parametrize("script", GALLERY_RUN, ids=lambda path: path.name)
def test_docs_size_without_mnist_uses_the_sample_and_says_so(script, tmp_path):
    # The docs build's size where MNIST is not on disk: no download, the sample.
    data_home = tmp_path / "no_mnist"
    data_home.mkdir()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    proc, output = _run(
        script, cwd, SKMNIST_EXAMPLE_SIZE="docs", SKMNIST_DATA_HOME=str(data_home)
    )
    assert proc.returncode == 0, output
    assert "(the packaged sample)" in proc.stdout, output
    assert ACCURACY.search(proc.stdout), output
    assert list(data_home.iterdir()) == [], "the docs size downloaded MNIST"
