"""Copy the main table of ``benchmarks/results/latest.md`` into README.md.

    python benchmarks/readme_table.py

README.md holds the table between the markers ``<!-- benchmark-table -->`` and
``<!-- /benchmark-table -->``; everything between them is replaced. Run it after
``python benchmarks/run.py`` so that the README shows the latest measurement.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- benchmark-table -->", "<!-- /benchmark-table -->"


def main_table(markdown):
    """The first Markdown table of ``markdown``, with the line that dates it."""
    lines = markdown.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("| contender"))
    last = first
    while last + 1 < len(lines) and lines[last + 1].startswith("|"):
        last += 1
    command = next((line for line in lines if line.startswith("Command:")), "")
    return "\n".join([command, "", *lines[first : last + 1]]).strip()


def main():
    results = (ROOT / "benchmarks" / "results" / "latest.md").read_text()
    readme_path = ROOT / "README.md"
    readme = readme_path.read_text()
    block = f"{START}\n{main_table(results)}\n{END}"
    updated, n = re.subn(
        re.escape(START) + ".*?" + re.escape(END), lambda _: block, readme, flags=re.S
    )
    if n != 1:
        sys.exit(f"README.md must hold the markers {START} ... {END} once")
    readme_path.write_text(updated)


if __name__ == "__main__":
    main()
