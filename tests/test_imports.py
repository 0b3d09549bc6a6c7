"""skmnist's modules import each other one way: no cycle, function-level
imports included (the engine's backends import only the leaf ``_batches``); and
the developer page (docs/developer/architecture.rst) names the modules, paths and
names as they are."""

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "skmnist"
ROOT = PACKAGE.parent
PAGE = ROOT / "docs" / "developer" / "architecture.rst"


def _imports():
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts).removesuffix(".__init__")
        base = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                up = base.split(".")[: len(base.split(".")) - node.level + 1]
                module = ".".join(up + ([node.module] if node.module else []))
                # `from . import name` imports the submodule `name` when there is
                # one, else a name of the package itself.
                for alias in node.names:
                    submodule = f"{module}.{alias.name}"
                    is_module = PACKAGE.parent / (submodule.replace(".", "/") + ".py")
                    is_package = PACKAGE.parent / submodule.replace(".", "/")
                    if is_module.exists() or is_package.is_dir():
                        targets.add(submodule)
                    else:
                        targets.add(module)
            elif isinstance(node, ast.ImportFrom) and node.module:
                targets.add(node.module)
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
        graph[name] = targets
    # A package's own name is its __init__, which imports its modules lazily.
    return {m: {t for t in ts if t in graph and t != m} for m, ts in graph.items()}


def test_no_import_cycle_among_skmnist_modules():
    graph = _imports()
    assert "skmnist.engine._batches" in graph["skmnist.engine._backend_jax"]
    cycles = []
    for start in graph:
        seen, todo = set(), list(graph[start])
        while todo:
            module = todo.pop()
            if module == start:
                cycles.append(start)
                break
            if module not in seen:
                seen.add(module)
                todo.extend(graph[module])
    assert cycles == [], f"modules in an import cycle: {sorted(cycles)}"


def test_only_compiled_imports_the_backends_and_they_import_only_the_leaf():
    graph = _imports()
    backends = {"skmnist.engine._backend_tensorflow", "skmnist.engine._backend_jax"}
    importers = {m for m, targets in graph.items() if targets & backends}
    assert importers == {"skmnist.engine._compiled"}
    engine = {
        "skmnist.engine._compiled",
        "skmnist.engine._loop",
        "skmnist.engine._training",
        "skmnist.estimator._classifier",
    }
    for backend in backends:
        assert not graph[backend] & (engine | backends)


def test_the_developer_page_names_every_module():
    page = PAGE.read_text(encoding="utf-8")
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        # A subpackage's modules are named by its folder (``serve/``).
        folder = relative.split("/")[0] + "/" if "/" in relative else None
        if path.name not in page and (folder is None or folder not in page):
            missing.append(relative)
    assert missing == [], f"docs/developer/architecture.rst does not name {missing}"


def test_the_package_is_folders_by_layer_with_few_top_level_modules():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 8, top
    layers = {"estimator", "engine", "modelfile", "images", "report", "cli"}
    layers |= {"datasets", "serve"}
    folders = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert layers <= folders


def _paths_on_the_page():
    """The paths the developer page names: ``...`` literals with a ``/`` or a
    ``.py``, relative to ``skmnist/`` (``engine/_build.py``) or to the root of
    the repository (``tests/test_imports.py``)."""
    literals = re.findall(r"``([^`]+)``", PAGE.read_text(encoding="utf-8"))
    return sorted(
        {
            s
            for s in literals
            if re.fullmatch(r"[\w.-][\w./-]*", s) and ("/" in s or s.endswith(".py"))
        }
    )


def test_every_path_the_developer_page_names_exists():
    paths = _paths_on_the_page()
    assert "engine/_build.py" in paths and "CONTRIBUTING.md" not in paths
    missing = [p for p in paths if not ((PACKAGE / p).exists() or (ROOT / p).exists())]
    assert missing == [], f"docs/developer/architecture.rst names {missing}"


def test_each_name_the_developer_page_gives_is_in_its_file():
    # ``engine/_build.py``: ``make_optimizer`` says where to make a change.
    page = PAGE.read_text(encoding="utf-8")
    pairs = re.findall(r"``([\w/]+\.py)``:\s+``(\w+)``", page)
    assert len(pairs) >= 8, "the everyday changes name fewer files than they did"
    wrong = [
        f"{path}: {name}"
        for path, name in pairs
        if not re.search(rf"\b{name}\b", (PACKAGE / path).read_text(encoding="utf-8"))
    ]
    assert wrong == [], f"docs/developer/architecture.rst: not in its file: {wrong}"


def test_each_everyday_change_touches_at_most_three_files():
    page = PAGE.read_text(encoding="utf-8")
    section = page.split("Everyday changes\n")[1].split("Rules of the house\n")[0]
    rows = section.split("   * - ")[2:]  # after the header row
    assert len(rows) == 4
    for row in rows:
        change, files, _notes = row.split("\n     - ")
        named = set(re.findall(r"``([\w/]+(?:\.py|/))``", files))
        assert 1 <= len(named) <= 3, f"{change.strip()}: {sorted(named)}"
