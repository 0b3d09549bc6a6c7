"""README.md's commands and quick start work as written."""

import os
import re
import shlex
import subprocess
from pathlib import Path

import numpy as np
import pytest

from skmnist import cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _blocks(language):
    return re.findall(rf"^```{language}\n(.*?)^```$", README, flags=re.M | re.S)


def _commands():
    """Every ``skmnist ...`` line of README's shell blocks, without comments."""
    lines = "".join(_blocks("bash")).splitlines()
    return [
        shlex.split(line, comments=True)
        for line in lines
        if line.startswith("skmnist ")
    ]


def test_readme_shows_every_command():
    from skmnist.cli._main import COMMANDS

    shown = {argv[1] for argv in _commands()}
    assert shown == {command.__name__.rpartition(".")[2] for command in COMMANDS}


@pytest.mark.parametrize("argv", _commands(), ids=" ".join)
def test_every_readme_command_line_is_accepted(argv):
    args = cli.build_parser().parse_args(argv[1:])
    assert args.command == argv[1]


@pytest.mark.slow
def test_readme_sample_commands_run(tmp_path, skmnist_command):
    """The seconds-long chain README offers: train on the sample, predict, info."""
    from PIL import Image

    from skmnist import load_mnist_sample

    def run(*argv):
        done = subprocess.run(
            [*skmnist_command, *argv],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run(
        "train", "--sample", "--epochs", "2", "--out", "model.skmnist", "--verbose", "0"
    )
    X, _ = load_mnist_sample(subset="test", return_X_y=True)
    Image.fromarray(X[0]).save(tmp_path / "digit.png")
    np.save(tmp_path / "digits.npy", X[:3])
    lines = run("predict", "model.skmnist", "digit.png", "digits.npy").splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "digit.png",
        "digits.npy[0]",
        "digits.npy[1]",
        "digits.npy[2]",
    ]
    assert "classes:" in run("info", "model.skmnist")


@pytest.mark.slow
def test_readme_quick_start_runs(tmp_path, monkeypatch):
    (code,) = _blocks("python")[:1]
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["pipe"].score(namespace["X_test"], namespace["y_test"]) > 0.8
    assert os.listdir(tmp_path) == []  # the quick start writes nothing


def test_every_link_works_outside_the_repository():
    # README.md is also the package's page on an index, where a path into the
    # repository (docs/...) leads nowhere.
    targets = re.findall(r"\]\(([^)]*)\)", README)
    assert targets
    relative = [t for t in targets if not t.startswith("https://")]
    assert not relative, f"README links that only work in a clone: {relative}"


def test_readme_and_the_docs_quick_start_give_one_install_line():
    install = README[README.index("## Install") :]
    (readme_line,) = re.findall(
        r"^(pip install [^#\n]*?)\s*(?:#.*)?$", _blocks("bash")[0], re.M
    )
    assert readme_line in install
    quickstart = (
        Path(__file__).resolve().parents[1] / "docs" / "user_guide" / "quickstart.rst"
    ).read_text()
    docs_lines = re.findall(r"^   (pip install .*)$", quickstart, re.M)
    assert docs_lines[0] == readme_line
