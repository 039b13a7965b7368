"""The chapters' Check cells, for grading: where they are, what they assert on, and whether a
student's copy of a chapter still has them as released.

    python tools/check_cells.py                        # every chapter's Check cells
    python tools/check_cells.py RELEASED.ipynb SUBMITTED.ipynb

A Check cell is the code cell under a "## Check" or "### Check (your run)" heading. It grades
the student's own numbers (`own`) under "(your run)" and in chapters 1-4, and asserts the
chapter's claim on the book's committed records (`record`) elsewhere (book/course.md, "Grading
the Check cells"). Each is named as nbval names it ("Cell N", counting code cells from 0), so a
failure in `pytest --nbval-lax` can be read against this list. With two notebooks, it exits 1
and names every Check cell the submission changed, removed or added.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
HEADING = re.compile(r"^(##|###) Check( \(your run\))?\s*$", re.M)


def check_cells(path: Path) -> list[dict]:
    """The Check cells of the notebook at ``path``, in order: ``{"nbval": "Cell N", "index":
    position among all cells, "heading", "grades": "own" | "record", "source"}``."""
    chapter = re.match(r"(\d\d)_", path.name)
    early = bool(chapter) and int(chapter.group(1)) <= 4
    nb = nbformat.read(path, as_version=4)
    cells, heading, code_seen = [], None, 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            found = HEADING.findall(cell.source)
            heading = found[-1] if found else (heading if not cell.source.strip() else None)
            continue
        if cell.cell_type == "code":
            if heading is not None:
                own = bool(heading[1]) or early
                cells.append({"nbval": f"Cell {code_seen}", "index": i,
                              "heading": f"{heading[0]} Check{heading[1]}",
                              "grades": "own" if own else "record", "source": cell.source})
                heading = None
            code_seen += 1
    return cells


def changed(released: Path, submitted: Path) -> list[str]:
    """What ``submitted`` changed in ``released``'s Check cells (empty: none)."""
    a, b = check_cells(released), check_cells(submitted)
    problems = [f"{x['nbval']} ({x['heading']}): changed" for x, y in zip(a, b)
                if x["source"].strip() != y["source"].strip()]
    if len(a) != len(b):
        problems.append(f"{len(a)} Check cells released, {len(b)} submitted")
    return problems


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:]]
    if len(args) == 2:
        found = changed(*args)
        print("\n".join(found) or f"{args[1].name}: every Check cell as released")
        sys.exit(1 if found else 0)
    for path in args or sorted((REPO / "book").glob("[0-9][0-9]_*.ipynb")):
        for c in check_cells(path):
            print(f"{path.name:34} {c['nbval']:8} {c['grades']:6} {c['heading']}")
