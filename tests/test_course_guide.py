"""The instructor's kit in book/course.md: the reading list holds exactly the papers the book
cites, each in a week whose chapter cites it; the project rubric adds up; the slide picture it
shows is in the repository."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

import toc  # tests/toc.py: the one reader of _toc.yml

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "book" / "course.md"
CITE = re.compile(r"\{cite(?::\w+)?\}`([^`]+)`")


def section(title: str) -> str:
    """The text of the guide's ``## title`` section."""
    text = GUIDE.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def cited(text: str) -> set[str]:
    return {k.strip() for m in CITE.finditer(text) for k in m.group(1).split(",")}


def chapter_citations() -> dict[int, set[str]]:
    """{chapter number: keys its markdown cites}."""
    out = {}
    for path in toc.chapter_notebooks():
        nb = nbformat.read(path, as_version=4)
        out[int(path.name[:2])] = cited("\n".join(c.source for c in nb.cells
                                                  if c.cell_type == "markdown"))
    return out


def reading_list() -> list[tuple[int, str]]:
    """(week, key) for each row of the reading list."""
    return [(int(m.group(1)), m.group(2)) for m in
            re.finditer(r"^\| (\d+) \| \{cite\}`([^`,]+)` \|", section("Reading list"), re.M)]


def test_the_reading_list_is_every_cited_paper_once():
    by_chapter = chapter_citations()
    in_book = set().union(*by_chapter.values()) | cited((REPO / "book" / "intro.md").read_text())
    keys = [key for _, key in reading_list()]
    assert len(keys) == len(set(keys)), "a paper is listed twice"
    assert set(keys) == in_book, (f"cited but not listed: {sorted(in_book - set(keys))}; "
                                  f"listed but not cited: {sorted(set(keys) - in_book)}")
    bib = set(re.findall(r"^@\w+\{([^,]+),", (REPO / "book" / "references.bib").read_text(),
                         re.M))
    assert set(keys) <= bib


def test_each_paper_is_read_in_a_week_whose_chapter_cites_it():
    """Week N of the twelve-week plan is chapter N."""
    by_chapter = chapter_citations()
    wrong = [(week, key) for week, key in reading_list() if key not in by_chapter[week]]
    assert not wrong, f"chapter N does not cite the paper of week N: {wrong}"
    weeks = [week for week, _ in reading_list()]
    assert weeks == sorted(weeks)


def test_the_rubric_adds_up_to_100():
    rows = re.findall(r"^\| [^|]+ \| (\d+) \| [^|]+ \|$", section("The project week"), re.M)
    assert len(rows) >= 5 and sum(map(int, rows)) == 100, rows
    projects = re.findall(r"^\d\. \*\*", section("The project week"), re.M)
    assert 3 <= len(projects) <= 5


def test_the_slide_picture_is_in_the_repository():
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", section("Slides"))
    assert images, "the Slides section shows no slide"
    for image in images:
        path = REPO / "book" / image
        assert path.exists() and path.stat().st_size < 150_000, image
