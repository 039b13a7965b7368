"""tools/check_cells.py, the list of Check cells the course guide's grading notes rely on: which
chapters grade the student's own numbers, and a submission whose Check cells were edited."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

import toc  # tests/toc.py: the one reader of _toc.yml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
from check_cells import changed, check_cells  # noqa: E402  (tools/check_cells.py)

CHAPTERS = toc.chapter_notebooks()


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_each_chapter_grades_what_the_course_guide_says(chapter):
    """book/course.md: chapters 1-4 and every Part II "Your run" grade the student's numbers;
    the other Checks of chapters 5-12 read the book's records."""
    number = int(chapter.name[:2])
    kinds = [c["grades"] for c in check_cells(chapter)]
    wanted = ["own"] if number <= 4 else ["record"] if number <= 6 else ["record", "own"]
    assert kinds == wanted, (chapter.name, kinds)
    nb = nbformat.read(chapter, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for c in check_cells(chapter):
        assert "assert " in c["source"], f"{chapter.name} {c['nbval']} asserts nothing"
        assert code[int(c["nbval"].split()[1])].source == c["source"]   # nbval's numbering


def test_a_submission_with_an_edited_check_is_caught(tmp_path):
    chapter = REPO / "book" / "07_conv_nets.ipynb"
    nb = nbformat.read(chapter, as_version=4)
    own = [c for c in check_cells(chapter) if c["grades"] == "own"][0]
    cell = nb.cells[own["index"]]
    cell.outputs = [nbformat.v4.new_output("stream", text="ran\n")]
    kept = tmp_path / "kept.ipynb"
    nbformat.write(nb, kept)
    assert changed(chapter, kept) == []              # outputs do not count
    cell.source = re.sub(r"assert ", "assert True or ", cell.source, count=1)
    edited = tmp_path / "edited.ipynb"
    nbformat.write(nb, edited)
    assert changed(chapter, edited) == [f"{own['nbval']} (### Check (your run)): changed"]
