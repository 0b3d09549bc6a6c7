"""Copy the main table of ``benchmarks/results/run.md`` into README.md.

    python benchmarks/readme_table.py

README.md holds the table between ``<!-- benchmark-table -->`` and
``<!-- /benchmark-table -->``; everything between the markers is replaced.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- benchmark-table -->", "<!-- /benchmark-table -->"


def main_table(markdown):
    """The lines that date ``markdown`` and name its machine, and its first table."""
    lines = markdown.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("| contender"))
    last = first
    while last + 1 < len(lines) and lines[last + 1].startswith("|"):
        last += 1
    command = next((line for line in lines if line.startswith("Command:")), "")
    machine = next((line for line in lines if line.startswith("Machine:")), "")
    head = [line for line in (command, machine) if line]
    return "\n\n".join([*head, "\n".join(lines[first : last + 1])])


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
