"""The chapters' slides (tools/slides.py, `make slides`): every chapter carries its slide tags,
the tagging is idempotent, and `jupyter nbconvert --to slides` turns a chapter into one reveal.js
slide per section, with the chapter's title and none of the MyST that only the book reads."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

import toc  # tests/toc.py: the one reader of _toc.yml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import slides  # noqa: E402  (tools/slides.py)

CHAPTERS = toc.chapter_notebooks()
MIN_SLIDES = 8          # title, question, sections, check, exercises, recall, summary
BUILT = ["01_why_prune", "08_rewinding_instability"]   # a short chapter and one with math


def sections(nb) -> int:
    """The title and the ``## `` headings of ``nb``'s markdown outside code fences, without
    "## References": the slides a chapter should have."""
    n = 1
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        fence = None
        for line in cell.source.splitlines():
            mark = re.match(r"^(`{3,}|~{3,})", line)
            if mark and fence is None:
                fence = mark.group(1)
            elif fence is not None and line.strip() == fence:
                fence = None
            elif fence is None and line.startswith("## ") and line.strip() != "## References":
                n += 1
    return n


class Sections(HTMLParser):
    """Counts the top-level <section> elements (slides) and all of them (slides + subslides)
    inside reveal.js's <div class="slides">."""

    def __init__(self):
        super().__init__()
        self.depth, self.top, self.all, self.inside = 0, 0, 0, False

    def handle_starttag(self, tag, attrs):
        if tag == "div" and ("class", "slides") in attrs:
            self.inside = True
        if tag == "section" and self.inside:
            self.top += self.depth == 0
            self.all += 1
            self.depth += 1

    def handle_endtag(self, tag):
        if tag == "section" and self.inside:
            self.depth -= 1


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_carries_its_slide_tags(chapter):
    nb = nbformat.read(chapter, as_version=4)
    assert not slides.tag(nb), (
        f"{chapter.name}'s slide tags differ from tools/slides.py's rules: run "
        f"`python tools/slides.py --write` (then tools/clear_outputs.py) and commit")
    types = [c.metadata["slideshow"]["slide_type"] for c in nb.cells]
    assert types[0] == "slide" and types.count("slide") >= 3, types
    # a `## ` heading inside a cell starts a slide too, when the slides are built
    assert sections(nb) >= MIN_SLIDES, f"{chapter.name} makes {sections(nb)} slides"
    code = [t for c, t in zip(nb.cells, types) if c.cell_type == "code"]
    assert code[0] == "skip", f"{chapter.name}: the setup cell is not skipped"
    for cell, kind in zip(nb.cells, types):
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            wanted = "skip" if cell.source.startswith("## References") else "slide"
            assert kind == wanted, (chapter.name, cell.source.splitlines()[0], kind)


def test_tagging_twice_changes_nothing(tmp_path):
    copies = []
    for chapter in CHAPTERS[:3]:
        nb = nbformat.read(chapter, as_version=4)
        for cell in nb.cells:
            cell.metadata.pop("slideshow", None)
        copies.append(tmp_path / chapter.name)
        nbformat.write(nb, copies[-1])
    assert slides.write(copies) == [c.name for c in copies]
    first = [c.read_bytes() for c in copies]
    assert slides.write(copies) == []
    assert [c.read_bytes() for c in copies] == first
    for copy, chapter in zip(copies, CHAPTERS):        # the same tags as the committed chapter
        assert copy.read_bytes() == chapter.read_bytes(), copy.name


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, str]:
    """Two chapters built by tools/slides.build (`jupyter nbconvert --to slides`)."""
    out = tmp_path_factory.mktemp("slides")
    decks = slides.build([REPO / "book" / f"{name}.ipynb" for name in BUILT], out)
    assert [d.name for d in decks] == [f"{name}.slides.html" for name in BUILT]
    index = (out / "index.html").read_text()
    assert all(f'href="{d.name}"' in index for d in decks)
    return {name: d.read_text() for name, d in zip(BUILT, decks)}


@pytest.mark.parametrize("name", BUILT)
def test_one_slide_per_section_with_the_chapter_title(built, name):
    html = built[name]
    nb = nbformat.read(REPO / "book" / f"{name}.ipynb", as_version=4)
    title = nb.cells[0].source.splitlines()[0].lstrip("# ").strip()
    assert f"<title>{title} slides</title>" in html
    assert re.search(r"<h1[^>]*>" + re.escape(title), html), f"no <h1> {title!r}"
    count = Sections()
    count.feed(html)
    assert count.top == sections(nb), (count.top, sections(nb))
    # every tagged slide and subslide, after the preprocessor cut cells at their headings
    shown, _ = slides.MystForSlides().preprocess(nb, {})
    kinds = [c.metadata["slideshow"]["slide_type"] for c in shown.cells]
    assert count.all == 2 * kinds.count("slide") + kinds.count("subslide")


@pytest.mark.parametrize("name", BUILT)
def test_slides_show_no_myst_and_no_setup(built, name):
    html = built[name]
    for raw in ("{glue:text}", "{cite}", "{doc}", "{admonition}", "{bibliography}", ":class:"):
        assert raw not in html, f"{name}: {raw} reached the slides"
    assert "Setup (the same in every chapter)" not in html
    assert "https://unpkg.com/reveal.js" in html         # reveal.js from its CDN (see README)


def test_myst_becomes_markdown():
    labels = {"frankle2019lottery": "Frankle and Carbin, 2019", "lee2019snip": "Lee et al., 2019"}
    text = ("At {glue:text}`left:.1%` of the weights, {glue:text}`n:,` runs "
            "{cite}`frankle2019lottery,lee2019snip`; see {doc}`05_lottery_ticket`, "
            "{glue:text}`missing:.2f`.\n\n```{admonition} Common mistakes\n:class: caution\n"
            "- a bug\n```")
    md = slides.myst_to_markdown(text, {"left": "0.0345", "n": "12000"}, labels)
    assert md.startswith("At 3.5% of the weights, 12,000 runs "
                         "\\[Frankle and Carbin, 2019; Lee et al., 2019\\]; see "
                         "[chapter 5](05_lottery_ticket.slides.html), ⟨missing⟩.")
    assert md.endswith("> **Common mistakes**\n>\n> - a bug")
    assert slides.bib_labels()["frankle2019lottery"] == "Frankle and Carbin, 2019"
    assert slides.bib_labels()["han2015learning"] == "Han et al., 2015"
    assert slides.bib_labels()["paszke2019pytorch"] == "Paszke et al., 2019"   # "and others"


def test_headings_inside_a_cell_start_slides_and_references_are_skipped():
    source = ("Prose.\n\n```python\n## a comment, not a heading\n```\n\n## Check\n\nText.\n\n"
              "### Check (your run)\n\n## References\n\n```{bibliography}\n```")
    pieces = slides.split_at_headings(source)
    assert [kind for kind, _ in pieces] == [None, "slide", "subslide", "skip"]
    assert pieces[0][1].endswith("```") and pieces[3][1].startswith("## References")


def test_long_code_is_cut_with_a_note():
    code = "\n".join(f"x{i} = {i}" for i in range(20))
    assert slides.shorten("a = 1\nb = 2") == "a = 1\nb = 2"
    cut = slides.shorten(code).splitlines()
    assert len(cut) <= slides.LONG_CODE and cut[-1] == "# ... 8 more lines in the chapter"


def test_glued_values_come_from_outputs_or_the_books_glue_file(tmp_path):
    """A notebook run by Jupyter keeps its glue outputs (prefixed mime types); one executed by
    the book's build has them in NN_name.glue.json beside it."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("glue('a', 0.5)")])
    nb.cells[0].outputs = [nbformat.v4.new_output(
        "display_data", data={"application/papermill.record/text/plain": "0.5"},
        metadata={"scrapbook": {"name": "a", "mime_prefix": "application/papermill.record/"}})]
    path = tmp_path / "01_x.ipynb"
    (tmp_path / "01_x.glue.json").write_text(json.dumps({"b": {
        "output_type": "display_data", "data": {"text/plain": "'Conv-2'"},
        "metadata": {"scrapbook": {"name": "b", "mime_prefix": ""}}}}))
    assert slides.glued(nb, path) == {"a": "0.5", "b": "'Conv-2'"}
    assert slides.format_glue("'Conv-2'", "") == "Conv-2"
    assert slides.format_glue("1200", ",") == "1,200"


def test_make_slides_builds_every_chapter():
    assert shutil.which("make"), "make is needed to read the Makefile"
    dry = subprocess.run(["make", "-n", "slides"], cwd=REPO, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "tools/slides.py --build book/[0-9][0-9]_*.ipynb" in dry.stdout
    phony = next(line for line in (REPO / "Makefile").read_text().splitlines()
                 if line.startswith(".PHONY"))
    assert "slides" in phony.split()
