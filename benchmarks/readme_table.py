"""Copy a short form of ``benchmarks/results/run.md``'s main table into README.md.

    python benchmarks/readme_table.py

README.md holds the table between ``<!-- benchmark-table -->`` and
``<!-- /benchmark-table -->``; everything between the markers is replaced.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- benchmark-table -->", "<!-- /benchmark-table -->"


# The README's short table: the tutorial, skmnist and the floor, time and accuracy.
# The full table, with the machine and the method, is on the docs' performance page.
ROWS = ("(a)", "(b)", "(e-tf)", "(e-jax)")
COLUMNS = ("contender", "fit s", "test acc (mean, min)")
# An absolute link: README.md is shown on package indexes too, where a path into
# the repository leads nowhere.
DOCS_PAGE = "https://skmnist.github.io/skmnist/user_guide/performance.html"


def main_table(markdown):
    """The short table of ``markdown``'s main table, and the machine in brief."""
    lines = markdown.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("| contender"))
    last = first
    while last + 1 < len(lines) and lines[last + 1].startswith("|"):
        last += 1

    def cells(line):
        return [cell.strip() for cell in line.strip("|").split("|")]

    header = cells(lines[first])
    keep = [header.index(name) for name in COLUMNS if name in header]
    rows = [cells(line) for line in lines[first + 2 : last + 1]]
    rows = [row for row in rows if row[0].startswith(ROWS)]
    table = [
        "| " + " | ".join(header[i] for i in keep) + " |",
        "|:--|" + "--:|" * (len(keep) - 1),
        *("| " + " | ".join(row[i] for i in keep) + " |" for row in rows),
    ]
    machine = next((line for line in lines if line.startswith("Machine:")), "")
    machine = machine.partition(";")[0].removeprefix("Machine: ").rstrip(".")
    note = f"On {machine}" if machine else "Measured"
    note += "; every column, the machine and the method: "
    note += f"[the performance page]({DOCS_PAGE})."
    return "\n".join(table) + "\n\n" + note


def main():
    table = main_table((ROOT / "benchmarks" / "results" / "run.md").read_text())
    readme = (ROOT / "README.md").read_text()
    pattern = re.escape(START) + ".*?" + re.escape(END)
    block = f"{START}\n{table}\n{END}"
    updated, n = re.subn(pattern, lambda _: block, readme, flags=re.S)
    if n != 1:
        sys.exit(f"README.md must hold the markers {START} ... {END} once")
    (ROOT / "README.md").write_text(updated)


if __name__ == "__main__":
    main()
