"""Build-time helpers of skmnist's documentation (a local Sphinx extension).

- Files that the pages include, generated into ``docs/generated/`` (which is not
  in git) at each build from what the code and the benchmarks say, so the pages
  never go stale:

  * ``cli_<command>.txt``: the ``--help`` text of each ``skmnist`` command;
  * ``benchmarks.inc``, ``benchmarks_grid_search.inc``,
    ``benchmarks_grid_search_resume.inc``, ``benchmarks_fit_loop.inc`` and
    ``benchmarks_serve_load.inc``: the Markdown reports
    ``benchmarks/results/run.md``, ``grid_search.md``, ``grid_search_resume.md``
    (``grid_search.py --resume``), ``fit_loop.md`` and ``serve_load.md`` turned
    into reST, or a note saying how to produce them when they do not exist.

- Which members the API pages show: the methods skmnist defines, plus the few
  inherited ones users call (``get_params``, ``set_params``, ``score``,
  ``fit_transform``), but not scikit-learn's metadata-routing methods nor
  scikeras's internal hooks.

- Docstrings inherited from scikit-learn and scikeras point at labels of *their*
  documentation (``:ref:`accuracy <accuracy_score>```) that this build, which
  has no intersphinx, cannot resolve: their ``:ref:`` and ``:term:`` roles are
  shown as plain text.

- The order of the gallery (:class:`ExampleOrder`).
"""

import contextlib
import csv
import io
import os
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent
ROOT = DOCS.parent
GENERATED = DOCS / "generated"
BENCHMARK_RESULTS = ROOT / "benchmarks" / "results"
# Markdown reports of benchmarks/ -> the include files that show them.
BENCHMARK_REPORTS = {
    "run.md": "benchmarks.inc",  # benchmarks/run.py
    "grid_search.md": "benchmarks_grid_search.inc",  # benchmarks/grid_search.py
    "grid_search_resume.md": "benchmarks_grid_search_resume.inc",  # --resume
    "fit_loop.md": "benchmarks_fit_loop.inc",  # benchmarks/fit_loop.py
    "serve_load.md": "benchmarks_serve_load.inc",  # benchmarks/serve_load.py
    "predict_light.md": "benchmarks_predict_light.inc",  # predict_light.py
    "accuracy_seeds.md": "benchmarks_accuracy_seeds.inc",  # accuracy_seeds.py
}
CLI_COMMANDS = ("fetch", "train", "evaluate", "predict", "serve", "info", "export")

# Inherited methods worth a place on the API pages of skmnist's classes.
SHOWN_INHERITED = {"fit_transform", "get_params", "set_params", "score"}
# Public in Python's sense, but hooks for scikeras rather than for users.
HIDDEN_MEMBERS = {"target_encoder", "feature_encoder"}

# -- generated include files ---------------------------------------------------


def _write_if_changed(path, text):
    """Write `text` to `path` unless it already holds it (keeps rebuilds lazy)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    path.write_text(text, encoding="utf-8")


def cli_help(command):
    """The ``--help`` text of ``skmnist <command>`` (``""`` for the main command)."""
    from skmnist.cli import main

    argv = [command, "--help"] if command else ["--help"]
    out = io.StringIO()
    old_columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"  # argparse wraps to the terminal's width
    try:
        with contextlib.redirect_stdout(out):
            main(argv)
    finally:
        if old_columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old_columns
    return out.getvalue()


def write_cli_help():
    for command in ("", *CLI_COMMANDS):
        name = f"cli_{command or 'main'}.txt"
        _write_if_changed(GENERATED / name, cli_help(command))


_NO_BENCHMARK = """\
.. note::

   This build found no results of this benchmark: ``python benchmarks/{script}``
   measures them and writes ``benchmarks/results/{report}``, which the next build
   shows here.
"""


def write_benchmarks():
    for report, include in BENCHMARK_REPORTS.items():
        path = BENCHMARK_RESULTS / report
        if path.exists():
            text = markdown_to_rst(path.read_text(encoding="utf-8"))
        else:
            text = _NO_BENCHMARK.format(script=f"{path.stem}.py", report=report)
        _write_if_changed(GENERATED / include, text)


# -- the little Markdown that benchmarks/ writes, as reST ------------------------

_CODE_OR_EMPHASIS = re.compile(r"(`[^`]+`|\*\*[^*\s][^*]*\*\*|\*[^*\s][^*]*\*)")
_RST_SPECIAL = re.compile(r"([\\`*_|])")
# Text that reST would read as the start of a list: "(a) ", "a) ", "1. ", "- ".
_LIST_START = re.compile(r"^(\(?[A-Za-z0-9#]{1,3}[.)]|[-*+])(\s|$)")


def _escape(text):
    return _RST_SPECIAL.sub(r"\\\1", text)


def _inline(text):
    """Markdown inline text -> reST: code spans, emphasis, everything else literal."""
    pieces = _CODE_OR_EMPHASIS.split(text)
    parts = []
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            parts.append(_escape(piece))
            continue
        if piece.startswith("`"):
            markup = f"``{piece[1:-1]}``"
        elif piece.startswith("**"):
            markup = f"**{_escape(piece[2:-2])}**"
        else:
            markup = f"*{_escape(piece[1:-1])}*"
        # reST markup must stand apart from the words around it: an escaped
        # space ("\ ", which renders as nothing) separates it from a letter.
        if pieces[i - 1][-1:].isalnum():
            markup = "\\ " + markup
        if pieces[i + 1][:1].isalnum():
            markup += "\\ "
        parts.append(markup)
    rst = "".join(parts)
    if _LIST_START.match(rst):
        rst = "\\" + rst
    return rst


def _table_cells(line):
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _table(rows):
    """A Markdown pipe table (header, separator, body rows) as a csv-table."""
    header, body = _table_cells(rows[0]), [_table_cells(r) for r in rows[2:]]
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for cells in [header, *body]:
        cells = cells + [""] * (len(header) - len(cells))
        writer.writerow([_inline(cell) for cell in cells])
    lines = [".. csv-table::", "   :header-rows: 1", "   :widths: auto", ""]
    lines += ["   " + row for row in buffer.getvalue().splitlines()]
    return lines + [""]


def markdown_to_rst(markdown):
    """Convert the Markdown of the benchmarks' reports to reStructuredText.

    It knows what that report holds: ``#`` headings (shown as rubrics, since the
    including page owns the sections), paragraphs, ``- `` lists and pipe tables,
    with `code` and *emphasis* inline. Any other character is shown as written.
    """
    out = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(lines[i])
                i += 1
            if out and out[-1] != "":
                out.append("")
            out += _table(rows)
            continue
        heading = re.match(r"^#+\s+(.*)$", line)
        if heading:
            out += [f".. rubric:: {_inline(heading.group(1))}", ""]
        elif re.match(r"^[-*]\s+", line):
            out.append("- " + _inline(re.sub(r"^[-*]\s+", "", line)))
        elif not line.strip():
            out.append("")
        else:
            out.append(_inline(line.strip()))
        i += 1
    return "\n".join(out).strip("\n") + "\n"


# -- autodoc hooks -----------------------------------------------------------------


def _defined_in_skmnist(obj):
    func = getattr(obj, "fget", obj)  # a property: its getter
    return (getattr(func, "__module__", None) or "").startswith("skmnist")


def skip_member(app, what, name, obj, skip, options):
    """Members shown on the pages of skmnist's classes and exceptions."""
    if what not in ("class", "exception") or name.startswith("_"):
        return None
    if name in HIDDEN_MEMBERS:
        return True
    if name in SHOWN_INHERITED:
        return False
    return not _defined_in_skmnist(obj)


_FOREIGN_ROLE = re.compile(r":(?:ref|term):`(?:([^`<]*?)\s*<[^`>]*>|([^`]*))`")


def plain_foreign_roles(app, what, name, obj, options, lines):
    """Show :ref: and :term: of third-party docstrings as plain text."""
    if _defined_in_skmnist(obj):
        return
    for i, line in enumerate(lines):
        lines[i] = _FOREIGN_ROLE.sub(lambda m: m.group(1) or m.group(2), line)


# -- the gallery's order -----------------------------------------------------------

# The main job first, then from a single pipeline to searches, saving, scaling out.
_EXAMPLE_ORDER = (
    "train_mnist.py",
    "plot_pipeline.py",
    "plot_learning_curves.py",
    "plot_confusion_matrix.py",
    "plot_misclassified_digits.py",
    "plot_grid_search.py",
    "persistence.py",
    "dask_grid_search.py",
)


class ExampleOrder:
    """Sort key of the gallery's examples: a reading order, then by file name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __repr__(self):  # sphinx-gallery compares configurations by repr
        return "ExampleOrder"

    def __call__(self, filename):
        name = os.path.basename(filename)
        if name in _EXAMPLE_ORDER:
            return _EXAMPLE_ORDER.index(name), name
        return len(_EXAMPLE_ORDER), name


# -- the extension ---------------------------------------------------------------


def generate_includes(app):
    write_cli_help()
    write_benchmarks()


def setup(app):
    app.connect("builder-inited", generate_includes)
    app.connect("autodoc-skip-member", skip_member)
    app.connect("autodoc-process-docstring", plain_foreign_roles, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
