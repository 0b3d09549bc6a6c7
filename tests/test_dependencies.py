"""pyproject.toml's version ranges are the ones tested.

``.ci/run`` installs the lowest versions pyproject.toml allows into a second
virtualenv (``uv pip install --resolution lowest-direct -e ".[test,docs]"``) and
runs the quick tier and the docs build there with ``SKMNIST_LOWEST_DEPS=1``: in
that run,
:func:`test_the_lowest_allowed_versions_are_installed` checks that each direct
dependency was installed at exactly its declared floor, so that a floor the
resolver cannot reach (a transitive dependency asking for more) fails instead of
passing untested. The other tests run everywhere.
"""

import importlib.metadata
import os
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
# What .ci/run's lowest-versions step installs: the core, the test and docs extras.
TESTED_EXTRAS = ("test", "docs")
TESTED_GROUPS = [
    PROJECT["dependencies"],
    *(PROJECT["optional-dependencies"][extra] for extra in TESTED_EXTRAS),
]
TESTED_AT_FLOOR = [
    Requirement(r) for r in dict.fromkeys(r for group in TESTED_GROUPS for r in group)
]


def _floor(requirement):
    """The version of a requirement's ``>=`` bound, or None."""
    floors = [s.version for s in requirement.specifier if s.operator == ">="]
    return Version(floors[0]) if len(floors) == 1 else None


def _python_floor():
    match = re.fullmatch(r">=\s*3\.(\d+)", PROJECT["requires-python"])
    assert match, f"requires-python is not '>=3.N': {PROJECT['requires-python']!r}"
    return 3, int(match.group(1))


GROUPS = [PROJECT["dependencies"], *PROJECT["optional-dependencies"].values()]
EVERY_REQUIREMENT = [
    Requirement(r) for r in dict.fromkeys(r for group in GROUPS for r in group)
]


@pytest.mark.parametrize("requirement", EVERY_REQUIREMENT, ids=str)
def test_every_requirement_has_one_floor(requirement):
    # Without a lower bound, --resolution lowest-direct picks a version nobody
    # supports, and the range says nothing true.
    assert _floor(requirement) is not None, (
        f"{requirement} in pyproject.toml has no single '>=' lower bound: add the "
        "lowest version the test suite passes with"
    )


def test_ruff_targets_the_lowest_python():
    major, minor = _python_floor()
    assert PYPROJECT["tool"]["ruff"]["target-version"] == f"py{major}{minor}"


def test_ci_runs_the_quick_tier_at_the_lowest_versions():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    install = re.search(r'--resolution lowest-direct -e "\.\[([\w,]+)\]"', ci)
    assert install, ".ci/run no longer installs the lowest allowed versions"
    assert tuple(install.group(1).split(",")) == TESTED_EXTRAS
    assert re.search(
        r'SKMNIST_LOWEST_DEPS=1 "\$LOWEST/venv/bin/python" -m pytest .*\n'
        r'\s*-m "not slow"',
        ci[install.end() :],
    ), ".ci/run does not run the quick tier in the lowest-versions virtualenv"


@pytest.mark.skipif(
    os.environ.get("SKMNIST_LOWEST_DEPS") != "1",
    reason="checks .ci/run's lowest-versions virtualenv (SKMNIST_LOWEST_DEPS=1)",
)
def test_the_lowest_allowed_versions_are_installed():
    def installed(name):
        try:
            return Version(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            return None

    wrong = [
        f"{req.name} {installed(req.name) or 'missing'} (floor {_floor(req)})"
        for req in TESTED_AT_FLOOR
        if installed(req.name) != _floor(req)
    ]
    assert not wrong, (
        "not installed at pyproject.toml's floor, so the floor went untested: "
        f"{', '.join(wrong)}; raise the bound to the installed version"
    )
    assert sys.version_info[:2] == _python_floor(), (
        f"Python {sys.version_info[0]}.{sys.version_info[1]} is not requires-python's "
        f"floor {PROJECT['requires-python']}: the lowest Python went untested"
    )
