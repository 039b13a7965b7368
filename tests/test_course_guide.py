"""The instructor's kit in book/course.md: the reading list holds exactly the papers the book
cites, each in a week whose chapter cites it; the project rubric adds up; the slide picture it
shows is in the repository; the run times it quotes are the committed records'."""
from __future__ import annotations

import json
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


def _record(name: str) -> dict:
    return json.loads((REPO / "data" / "results" / f"{name}.json").read_text())


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:,.0f}"


def _parts(name: str) -> list[float]:
    """Each merged part's compute time (s), in the record's order."""
    return [p["wall_time_s"] for p in _record(name)["merged_from"]]


def _span(name: str) -> str:
    """'207 to 216': the shortest and the longest part, in minutes."""
    lo, hi = _minutes(min(_parts(name))), _minutes(max(_parts(name)))
    return lo if lo == hi else f"{lo} to {hi}"


def _each(*names: str) -> str:
    """N of 'about N minutes each': the mean of the parts (or, for several records, of the
    records), in minutes; 'about' holds only when each is within a minute of N."""
    times = [_record(n)["wall_time_s"] for n in names] if len(names) > 1 else _parts(names[0])
    n = round(sum(times) / len(times) / 60)
    far = [round(t / 60, 1) for t in times if abs(t / 60 - n) > 1]
    assert not far, f"{names}: parts of {far} minutes are not 'about {n} minutes each'"
    return f"{n:,}"


def test_the_run_times_are_the_records():
    """Each compute or wall-clock time the guide quotes, computed from the record it describes
    (data/results/): recompute a record and this test names the sentence to update."""
    text = " ".join(GUIDE.read_text().split())
    total = lambda name: _record(name)["wall_time_s"]     # noqa: E731
    conv4 = _parts("conv4-cifar10-standard")
    wanted = [
        f"took {total('lenet-mnist-standard'):,.0f} s "
        f"({total('lenet-mnist-standard') / 3600:.1f} hours)",
        f"in {_minutes(max(_parts('lenet-mnist-standard')))} minutes of wall clock",
        f"each part took {_span('conv2-cifar10-standard')} minutes of wall clock",
        f"the record's {_minutes(total('conv2-cifar10-standard'))} minutes are their sum",
        f"({_minutes(conv4[0])} and {_minutes(conv4[1])} minutes)",
        f"({_minutes(conv4[2])} minutes, and {_each('conv6-cifar10-standard')} minutes each",
        f"Adam studies took {_minutes(total('instability-lenet-standard'))} minutes",
        f"about {_each('instability-lenet-standard')} minutes of wall clock each",
        f"and {_minutes(total('instability-conv2-standard'))} minutes (Conv-2",
        "took about " + _each("instability-probe-conv2-sgd-lr0.05",
                              "instability-probe-conv2-sgd-lr0.1") + " minutes each for the probes",
        f"about {_minutes(total('instability-probe-conv2-sgd-lr0.05-imp'))} minutes for the IMP",
        f"in about {_minutes(max(_parts('instability-probe-conv2-sgd-lr0.05-imp')))} minutes of "
        "wall clock)",
        f"chapter 9's study {_minutes(total('supermasks-lenet-mnist-standard'))} minutes",
        f"about {_each('supermasks-lenet-mnist-standard')} minutes each",
        f"chapter 10's {total('prune-at-init-standard') / 3600:.1f} hours",
        f"in {_span('prune-at-init-standard')} minutes of wall clock each",
        f"chapter 11's {_minutes(total('transfer-lenet-standard'))} minutes",
        f"about {_each('transfer-lenet-standard')} minutes each",
        f"chapter 12's training {_minutes(total('ch12-lenet-standard'))} minutes",
        f"one trial of chapter 7's standard Conv-4 study took about "
        f"{_minutes(sum(conv4[:2]) / 2)} minutes on one CPU thread",
    ]
    missing = [w for w in wanted if w not in text]
    assert not missing, f"book/course.md does not say what the records say: {missing}"


def test_the_grading_example_names_chapter_7s_own_check_as_nbval_does():
    """The guide's grading example names chapter 7's `own` Check by its nbval name; inserting a
    code cell above it moves that name, and the guide must follow."""
    import sys
    sys.path.insert(0, str(REPO / "tools"))
    from check_cells import check_cells
    own = [c["nbval"] for c in check_cells(REPO / "book" / "07_conv_nets.ipynb")
           if c["grades"] == "own"]
    named = set(re.findall(r"alice/07_conv_nets\.ipynb::(Cell \d+)", GUIDE.read_text()))
    assert own and named == {own[0]}, (own, named)
    assert f"(`{own[0]}`: the code cells counted from 0)" in GUIDE.read_text()
