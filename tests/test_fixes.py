"""skmnist/_fixes.py lists every private name skmnist borrows, and each exists.

Three facts are kept together here: the names in ``skmnist._fixes.BORROWED``
exist in the installed versions of the libraries that lend them; each is named
in the module's docstring (with why and when it can go); and a scan of the
source of ``skmnist/`` finds no private name of another library that is not
listed. A library that lends one is capped above in pyproject.toml, at the
newest version CI tests.
"""

import ast
import asyncio
import importlib
import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from skmnist import _fixes

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "skmnist"
SOURCES = sorted(PACKAGE.rglob("*.py"))
# Documented API of the standard library that happens to start with "_".
STDLIB_PUBLIC = {"_replace", "_asdict", "_fields", "_make"}


def _is_private(name):
    return name.startswith("_") and not name.endswith("__")


def _h11_protocol(cls):
    """A live uvicorn protocol: its instance attributes exist only on one."""
    import uvicorn
    from uvicorn.server import ServerState

    config = uvicorn.Config(app=lambda scope, receive, send: None, log_config=None)
    loop = asyncio.new_event_loop()
    try:
        return cls(config, ServerState(), {}, _loop=loop)
    finally:
        loop.close()


INSTANCES = {"H11Protocol": _h11_protocol}


def _resolve(entry):
    module_name, _, path = entry.partition(":")
    obj = importlib.import_module(module_name)
    for part in path.split("."):
        if part.endswith("()"):
            part = part[:-2]
            obj = INSTANCES[part](getattr(obj, part))
        else:
            obj = getattr(obj, part)
    return obj


ALL_BORROWED = _fixes.BORROWED + _fixes.BORROWED_WHERE_PRESENT


@pytest.mark.parametrize("entry", ALL_BORROWED)
def test_every_borrowed_name_exists_in_the_installed_version(entry):
    if entry in _fixes.BORROWED_WHERE_PRESENT and not _fixes.SKLEARN_CALLBACKS:
        # An older scikit-learn, before its callbacks: the shim stands in.
        with pytest.raises(ImportError):
            _resolve(entry)
        return
    try:
        _resolve(entry)
    except (ImportError, AttributeError) as exc:
        pytest.fail(
            f"{entry} (listed in skmnist/_fixes.py) is gone from the installed "
            f"version: {exc!r}. Replace its use, or cap the library below this "
            "version in pyproject.toml."
        )


@pytest.mark.parametrize("entry", ALL_BORROWED)
def test_every_borrowed_name_is_explained_in_the_docstring(entry):
    name = entry.rpartition(".")[2].rpartition(":")[2].removesuffix("()")
    literals = re.findall(r"``([^`]+)``", _fixes.__doc__)
    assert any(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", s) for s in literals), (
        f"{entry} is in BORROWED but skmnist/_fixes.py's docstring does not name "
        f"``{name}``: say there what it is for and when it can go."
    )


def _scan(path):
    """(private names skmnist defines, names of other libraries it uses) of a file.

    Names of other libraries: ``module:name`` of an import from a private module
    (a ``_``-prefixed part, or Keras's ``src``) or of a private name, and
    ``.name`` of a private attribute read anywhere (matched against what skmnist
    defines itself).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    defined, used = {path.stem}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.Name | ast.Attribute) and isinstance(
            node.ctx, ast.Store
        ):
            defined.add(node.id if isinstance(node, ast.Name) else node.attr)
        elif isinstance(node, ast.Attribute) and _is_private(node.attr):
            used.add(f".{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.level:
            defined.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module.split(".")[0] != (
            "skmnist"
        ):
            parts = node.module.split(".")
            private_module = any(_is_private(p) or p == "src" for p in parts)
            for alias in node.names:
                if private_module or _is_private(alias.name):
                    used.add(f"{node.module}:{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] != "skmnist" and any(_is_private(p) for p in parts):
                    used.add(f"{alias.name}:")
    return defined, used


def _borrowed_uses():
    """Each private name of another library that skmnist's source uses -> files."""
    defined, uses = set(), {}
    for path in SOURCES:
        names, used = _scan(path)
        defined |= names
        for name in used:
            uses.setdefault(name, []).append(str(path.relative_to(ROOT)))
    own = {f".{name}" for name in defined | STDLIB_PUBLIC}
    return {name: files for name, files in uses.items() if name not in own}


def _listed(use):
    if use.startswith("."):  # an attribute: some listed name ends with it
        return any(
            entry.removesuffix("()").endswith(use) or entry.endswith(f":{use[1:]}")
            for entry in ALL_BORROWED
        )
    module, _, name = use.partition(":")  # a name, or a module, of a module
    return any(
        entry.startswith((f"{module}:{name}", f"{module}.{name}:"))
        for entry in ALL_BORROWED
    )


def test_every_private_name_skmnist_borrows_is_listed():
    uses = _borrowed_uses()
    assert uses, "the scan finds nothing: it no longer reads skmnist's source"
    unlisted = {use: files for use, files in uses.items() if not _listed(use)}
    assert not unlisted, (
        f"skmnist uses private names of other libraries that skmnist/_fixes.py "
        f"does not list: {unlisted}. Add each to its docstring and to BORROWED "
        "(with why, and when it can go), and import it from there if you can."
    )


def test_the_scan_finds_what_is_borrowed_today():
    # So that a scan that silently stopped matching cannot pass the test above.
    # (What _fixes.py itself borrows: the scan reads it like any module.)
    uses = _borrowed_uses()
    assert "sklearn.base:_fit_context" in uses  # a private name imported
    assert "sklearn.utils._param_validation:Interval" in uses  # a private module
    assert "keras.src.backend.common:global_state" in uses  # Keras's src
    assert "._getframe" in uses  # a private attribute


def test_private_modules_of_other_libraries_are_imported_only_in_fixes():
    outside = {
        use: files
        for use, files in _borrowed_uses().items()
        if ":" in use and files != ["skmnist/_fixes.py"]
    }
    assert not outside, (
        f"{outside}: import these through skmnist._fixes, as the rest of skmnist "
        "does, unless the import must stay lazy (then explain why there)."
    )


def _lenders():
    """The distributions that lend the names in BORROWED (the standard library
    aside)."""
    owners = importlib.metadata.packages_distributions()
    top = {entry.partition(":")[0].split(".")[0] for entry in _fixes.BORROWED}
    return sorted({d for name in top for d in owners.get(name, [])})


def test_the_lenders_are_the_expected_ones():
    assert _lenders() == ["keras", "scikeras", "scikit-learn", "uvicorn"]


@pytest.mark.parametrize("distribution", _lenders())
def test_each_lender_is_capped_at_a_tested_version(distribution):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = [project["dependencies"], *project["optional-dependencies"].values()]
    requirements = [
        Requirement(r)
        for group in groups
        for r in group
        if Requirement(r).name == distribution
    ]
    assert requirements, f"{distribution} lends names but is not a dependency"
    installed = importlib.metadata.version(distribution)
    for requirement in requirements:
        assert any(s.operator == "<" for s in requirement.specifier), (
            f"{requirement} in pyproject.toml has no upper bound, but skmnist "
            f"borrows private names of {distribution} (skmnist/_fixes.py): cap it "
            "above the newest version CI tests."
        )
        assert requirement.specifier.contains(installed, prereleases=True)
