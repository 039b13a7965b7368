"""The chapters' slides (tools/slides.py, `make slides`): every chapter carries its slide tags,
the tagging is idempotent, and `jupyter nbconvert --to slides` turns a chapter into one reveal.js
slide per section, with the chapter's title and none of the MyST that only the book reads."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html import unescape
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
# a short chapter, the one whose IMP loop the slides must show whole, and one with math
BUILT = ["01_why_prune", "05_lottery_ticket", "08_rewinding_instability"]


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
    code = "\n".join(f"x{i} = {i}" for i in range(slides.LONG_CODE + 5))
    assert slides.shorten("a = 1\nb = 2") == "a = 1\nb = 2"
    cut = slides.shorten(code).splitlines()
    assert len(cut) <= slides.LONG_CODE and cut[-1] == "# ... 8 more lines in the chapter"


def _text(html: str) -> str:
    """The text of a deck, without its tags (code is highlighted span by span)."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", html)))


def test_the_lottery_ticket_loop_is_shown_whole(built):
    """Chapter 5's by-hand IMP loop (18 lines) ends with the line that prunes: a slide that cut
    the cell after 12 lines showed a loop that never prunes."""
    text = _text(built["05_lottery_ticket"])
    assert "for r in range(5):" in text
    assert "m = pruning.l1_unstructured(model, m, fast)" in text


@pytest.mark.parametrize("chapter, lines", [
    ("03_prune_and_finetune", ["m = pruning.l1_unstructured(model, m, RATES)",
                               "training.train(model, splits, finetune_cfg, masks=m, seed=r)",
                               'finetuned["masks"].append(m)']),
    ("04_masks_in_pytorch", ["# fix A: no gradient for pruned weights",
                             "# fix B: pruned weights back to exactly 0 after the step",
                             "params[n].mul_(m[n])", "return trace"]),
    ("05_lottery_ticket", ["m = pruning.l1_unstructured(model, m, fast)"]),
    ("06_iterative_vs_oneshot", ["m = pruning.l1_unstructured(model, dense_masks, rates)",
                                 "print(masks.format_report(m))"])])
def test_the_algorithm_cells_reach_the_slides_whole(chapter, lines):
    """The cells where chapters 3-6 show an algorithm by hand are longer than STYLE.md's 15
    lines; on a slide (which scrolls) each keeps its last lines."""
    nb = nbformat.read(REPO / "book" / f"{chapter}.ipynb", as_version=4)
    shown, _ = slides.MystForSlides().preprocess(nb, {})
    code = "\n".join(c.source for c in shown.cells if c.cell_type == "code")
    for line in lines:
        assert line in code, f"{chapter}: {line!r} is cut from its slide"


def _stream(text: str, name: str = "stdout"):
    return nbformat.v4.new_output("stream", name=name, text=text)


def test_printed_text_appears_once_after_the_books_build():
    """MyST-NB renders a cell by appending every later stream piece to the first one, and saves
    the executed notebook with that first output changed and the pieces still beside it (chapter
    1's cell 6 printed 'fc1 holds 235,200 ...' twice on its slide)."""
    table = nbformat.v4.new_output("display_data", data={"text/html": "<table></table>"})
    # as the book's build saved them: the first piece holds all three
    saved = [_stream("a 1\nb 2\nc 3\n"), table, _stream("b 2\n"), _stream("  \n"),
             _stream("c 3\n"), _stream("warning\n", "stderr")]
    shown = slides.merge_streams(saved)
    assert [o.output_type for o in shown] == ["stream", "display_data", "stream", "stream"]
    assert [o.get("text") for o in shown] == ["a 1\n", None, "b 2\n  \nc 3\n", "warning\n"]
    assert saved[0].text == "a 1\nb 2\nc 3\n"                       # not changed in place
    # chapter 1's cell 6: the table, then one line printed after it
    ch1 = [_stream("fc1.weight   235,200\nfc1 holds 235,200 of the 266,200 weights\n"),
           _stream("fc1 holds 235,200 of the 266,200 weights\n")]
    assert [o.text for o in slides.merge_streams(ch1)] == [
        "fc1.weight   235,200\nfc1 holds 235,200 of the 266,200 weights\n"]
    # a notebook run by Jupyter: its pieces are joined, a line printed twice stays twice
    run = [_stream("x\n"), _stream("x\n"), _stream("y\n")]
    assert [o.text for o in slides.merge_streams(run)] == ["x\nx\ny\n"]


def test_a_cell_printed_after_the_books_build_shows_its_text_once(tmp_path):
    """The same through the preprocessor, on a cell as MyST-NB saves it."""
    cell = nbformat.v4.new_code_cell("print(table)\nprint(line)")
    cell.outputs = [_stream("layer 235,200\nfc1 holds 88.4%\n"), _stream("fc1 holds 88.4%\n")]
    cell.metadata["slideshow"] = {"slide_type": "-"}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T"), cell])
    shown, _ = slides.MystForSlides().preprocess(nb, {})
    texts = [o.text for o in shown.cells[1].outputs]
    assert texts == ["layer 235,200\nfc1 holds 88.4%\n"]


def test_the_slides_take_the_books_executed_chapters_when_fresh(tmp_path):
    """`make slides` with no SLIDES_FROM: each chapter as `make book` executed it, unless the
    chapter was changed after that build (its slides would show the old text)."""
    (tmp_path / "book").mkdir()
    ran = tmp_path / "_build" / "jupyter_execute" / "book"
    ran.mkdir(parents=True)
    names = ["01_a.ipynb", "02_b.ipynb", "03_c.ipynb"]
    for name in names:
        (tmp_path / "book" / name).write_text("{}")
    for name in names[:2]:
        (ran / name).write_text("{}")
    old = (tmp_path / "book" / names[0]).stat().st_mtime
    os.utime(ran / names[1], (old - 60, old - 60))       # built before chapter 2 was edited
    assert slides.slide_sources(tmp_path) == [ran / names[0], tmp_path / "book" / names[1],
                                              tmp_path / "book" / names[2]]
    assert slides.slide_sources(tmp_path, tmp_path / "none") == [
        tmp_path / "book" / n for n in names]


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
    # no notebooks named: tools/slides.py takes every chapter (slide_sources)
    assert re.search(r"tools/slides\.py --build\s*$", dry.stdout, re.M), dry.stdout
    dry = subprocess.run(["make", "-n", "slides", "SLIDES_FROM=book"], cwd=REPO,
                         capture_output=True, text=True)
    assert "tools/slides.py --build book/[0-9][0-9]_*.ipynb" in dry.stdout
    phony = next(line for line in (REPO / "Makefile").read_text().splitlines()
                 if line.startswith(".PHONY"))
    assert "slides" in phony.split()
