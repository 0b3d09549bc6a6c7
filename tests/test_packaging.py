"""The sdist and the wheel hold what an installed skmnist needs.

An editable install reads files straight from the clone, so a file that the
wheel leaves out (the page's favicon once was) fails only for a stranger who
installs the wheel. These tests build both from a copy of the repository's
files and compare them with the tree. ``.ci/run`` also installs the wheel into
a fresh virtual environment and runs ``scripts/wheel_smoke.py`` against it.
"""

import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

import skmnist

ROOT = Path(__file__).resolve().parents[1]


def _source_files():
    """The repository's files: those git tracks, and new ones it does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(wheel names, sdist names, the wheel's METADATA) built by ``python -m
    build`` from a copy of the repository's files: building in the clone would
    leave a build/ folder whose stale modules later wheels could pick up."""
    tmp = tmp_path_factory.mktemp("build")
    source = tmp / "src"
    for name in _source_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    dist = tmp / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(source)],
        capture_output=True,
        check=True,
        timeout=600,
    )
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        wheel_names = set(archive.namelist())
        (metadata,) = (n for n in wheel_names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(metadata).decode()
    with tarfile.open(sdist) as archive:
        # Members are "skmnist-<version>/<path>": keep the path.
        sdist_names = {m.name.split("/", 1)[1] for m in archive if "/" in m.name}
    return wheel_names, sdist_names, metadata


def _package_data():
    """Every file of the package that is not Python source: the data the
    package reads at run time (the sample, its descriptions, the web page)."""
    return {
        name
        for name in _source_files()
        if name.startswith("skmnist/") and not name.endswith(".py")
    }


def test_the_package_has_data_files():
    # Guards the tests below against passing on an empty set.
    names = _package_data()
    assert any(name.endswith("favicon.svg") for name in names)
    assert any(name.endswith("mnist_sample.npz") for name in names)


@pytest.mark.slow  # builds the sdist and the wheel
def test_the_wheel_holds_every_file_of_the_package(built):
    wheel_names, _, _ = built
    python = {name for name in _source_files() if name.startswith("skmnist/")}
    missing = sorted(python - wheel_names)
    assert not missing, f"left out of the wheel: {missing}"


@pytest.mark.slow  # builds the sdist and the wheel
def test_the_wheel_holds_only_the_package(built):
    wheel_names, _, _ = built
    outside = sorted(
        name
        for name in wheel_names
        if not name.startswith(("skmnist/", "skmnist-")) or "__pycache__" in name
    )
    assert not outside, f"the wheel holds files outside the package: {outside}"


@pytest.mark.slow  # builds the sdist and the wheel
def test_the_sdist_holds_every_file_of_the_package(built):
    _, sdist_names, _ = built
    missing = sorted(_package_data() - sdist_names)
    assert not missing, f"left out of the sdist: {missing}"


@pytest.mark.slow  # builds the sdist and the wheel
def test_the_sdist_carries_no_tests(built):
    # The suite tests the repository as a whole (README, docs, examples,
    # benchmarks): a copy of tests/ alone could not run (MANIFEST.in).
    _, sdist_names, _ = built
    shipped = sorted(name for name in sdist_names if name.startswith("tests"))
    assert not shipped, f"the sdist ships part of the test suite: {shipped}"


@pytest.mark.slow  # builds the sdist and the wheel
def test_the_license_ships_in_the_wheel_and_the_sdist(built):
    wheel_names, sdist_names, _ = built
    assert (ROOT / "LICENSE").read_text().startswith("BSD 3-Clause License")
    assert f"skmnist-{skmnist.__version__}.dist-info/licenses/LICENSE" in wheel_names
    assert "LICENSE" in sdist_names and "CHANGELOG.md" in sdist_names


@pytest.mark.slow  # builds the sdist and the wheel
def test_the_wheel_says_its_version_license_and_where_to_find_more(built):
    _, _, metadata = built
    fields = [line.split(": ", 1) for line in metadata.splitlines() if ": " in line]
    assert ["Version", skmnist.__version__] in fields
    assert ["License-Expression", "BSD-3-Clause"] in fields
    urls = dict(value.split(", ", 1) for key, value in fields if key == "Project-URL")
    assert {"Homepage", "Documentation", "Issues", "Changelog"} <= set(urls)


def test_the_python_that_runs_the_tests_is_a_classifier():
    # CI runs the suite on one Python: the classifiers claim the versions tested.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    running = "Programming Language :: Python :: {}.{}".format(*sys.version_info)
    assert running in project["classifiers"]


def test_the_changelog_lists_the_version():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## [{skmnist.__version__}]" in changelog
