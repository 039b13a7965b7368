"""Every number in the prose comes from the run (or says it is the paper's).

The chapters' text is read by students next to the figures their own run drew, so a result typed
into a markdown cell ("the ticket reaches 98.1%") silently goes wrong the day a profile, a seed or
the code changes. This test reads the markdown cells of every chapter notebook in _toc.yml, and
book/intro.md and book/course.md, and fails on each *run-dependent figure* that is neither glued
nor marked as the paper's.

The rule (also in README.md, "Numbers in the prose", for authors):

- A run-dependent figure is a number directly followed (optionally after a space or a non-breaking
  space) by ``%``, ``×`` used as a factor ("18×", not the size "28×28" or "784 × 300"), ``x`` used
  as a factor ("18x "), ``pp``, ``percentage point(s)`` or ``iteration(s)``.
- It is allowed
  * inside a MyST glue role: ``{glue:text}`name:.2%` ``, ``{glue:}`name` ``, ``{glue}`name` ``;
  * inside math (``$...$``, ``$$...$$``, a ``{math}`` block), inline code or a code block;
  * in a sentence that names the paper: "paper", "Frankle", "{cite}", "the authors", "et al.";
  * when the cell declares it a fixed number (a setting or a definition the text chooses, such as
    "prune 20% per round" or "a 90% sparse network") in an HTML comment, invisible in Jupyter,
    Colab and the web book: ``<!-- fixed: 20%, 90% -->``. Each listed number is allowed anywhere
    in that cell; the comment is the author's word that the number does not come from a run.
  Directive option lines (``:width: 80%``) and HTML tags are not prose and are skipped.

The fix for a result: glue it from the cell that computed it, ``lth_utils.glue("ticket_acc", acc)``,
and write ``{glue:text}`ticket_acc:.2%` `` in the text (MyST-NB formats it; Colab is unaffected).

The detector's own unit tests come first; ``test_chapter_prose`` runs it on the book.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import toc  # tests/toc.py: the one reader of _toc.yml

REPO = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------- the detector

_SPACE = r"[ \u00a0\u202f]?"                       # nothing, a space, a (narrow) non-breaking space
_NUMBER = r"(?<![\w.,])\d+(?:[.,]\d+)*"            # 98, 98.2, 5,000 (not the 2 of "fc2" or "v1.2")
_UNIT = (r"(?:%"
         r"|×(?![ \u00a0\u202f]?\d)"                   # 18× is a factor; 28×28 and 784 × 300 are sizes
         r"|x(?![ \u00a0\u202f]?\d)(?=[\s.,;:!?)\]]|$)"  # 18x as a factor, not 3x3 nor 0x1f
         r"|pp\b|percentage points?\b|iterations?\b)")
FIGURE = re.compile(rf"(?P<number>{_NUMBER}){_SPACE}(?P<unit>{_UNIT})", re.IGNORECASE)

PAPER_WORDS = re.compile(r"paper|frankle|\{cite(?::\w+)?\}|the authors|et al\.", re.IGNORECASE)

_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)\n.*?^(?P=fence)[ \t]*$",
                    re.MULTILINE | re.DOTALL)
_PROSE_DIRECTIVE = re.compile(r"\{(?!code|math|glue:math)[\w:-]+\}")   # {note}, {admonition}, {glue:figure}
_COMMENT = re.compile(r"<!--(?P<body>.*?)-->", re.DOTALL)
_FIXED = re.compile(r"^\s*fixed\s*:(?P<numbers>.*)$", re.DOTALL | re.IGNORECASE)
_GLUE = re.compile(r"\{glue(?::\w*)?\}`[^`]*`")
_MATH = re.compile(r"\$\$.+?\$\$|(?<![\\$])\$(?!\s)[^$\n]+?(?<![\s\\])\$", re.DOTALL)
_CODE = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.DOTALL)
_OPTION = re.compile(r"^[ \t]*:[\w-]+:.*$", re.MULTILINE)
_TAG = re.compile(r"</?[A-Za-z][^>\n]*>")
_LINK_TARGET = re.compile(r"\]\([^)\s]*\)")
# sentences end at . ! ? followed by space and a capital/quote/markup, at blank lines, list items, headings
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(*_{\[])|\n\s*\n|\n(?=\s*(?:[-*+]|\d+\.)\s)|\n(?=#)")


@dataclass
class Finding:
    number: str          # as written, with its unit: "98.2%"
    sentence: str        # the sentence it sits in, one line


def _blank(match: re.Match) -> str:
    """Replace a span by spaces of the same length (keeps newlines, so sentence breaks survive)."""
    return re.sub(r"[^\n]", " ", match.group(0))


def _strip_fences(text: str) -> str:
    """Blank fenced code and math blocks; keep the prose inside directives such as ```{note}."""
    def repl(m: re.Match) -> str:
        if not _PROSE_DIRECTIVE.match(m.group("info").strip()):
            return _blank(m)
        first, rest = m.group(0).split("\n", 1)        # blank the opening and closing fence lines
        body, last = rest.rsplit("\n", 1) if "\n" in rest else ("", rest)
        return " " * len(first) + "\n" + body + "\n" + " " * len(last)
    return _FENCE.sub(repl, text)


def fixed_numbers(text: str) -> set[str]:
    """The numbers a cell declares fixed in ``<!-- fixed: 20%, 90% -->`` comments, normalised."""
    out: set[str] = set()
    for c in _COMMENT.finditer(text):
        m = _FIXED.match(c.group("body"))
        if m:
            out |= {_normalise(f.group(0)) for f in FIGURE.finditer(m.group("numbers"))}
    return out


def _normalise(figure: str) -> str:
    return re.sub(r"[ \u00a0\u202f]", "", figure).lower()


def prose_figures(text: str) -> list[Finding]:
    """The run-dependent figures of one markdown cell that the rule does not allow (see the module)."""
    fixed = fixed_numbers(text)
    original = text
    text = _COMMENT.sub(_blank, text)
    text = _strip_fences(text)
    text = _GLUE.sub(lambda m: "GLUED" + " " * (len(m.group(0)) - 5), text)
    text = _MATH.sub(_blank, text)
    text = _CODE.sub(_blank, text)
    text = _OPTION.sub(_blank, text)
    text = _TAG.sub(_blank, text)
    text = _LINK_TARGET.sub(_blank, text)
    findings = []
    cuts = [0, *(x for m in _SENTENCE_END.finditer(text) for x in m.span()), len(text)]
    for start, end in zip(cuts[::2], cuts[1::2]):     # the processed text keeps every offset
        sentence = text[start:end]
        if PAPER_WORDS.search(sentence):
            continue
        for m in FIGURE.finditer(sentence):
            if _normalise(m.group(0)) in fixed:
                continue
            findings.append(Finding(m.group(0).strip(), " ".join(original[start:end].split())))
    return findings


# --------------------------------------------------------------------------- unit tests of the detector

@pytest.mark.parametrize("text, numbers", [
    ("The ticket reaches 98.2% test accuracy.", ["98.2%"]),
    ("It is some 18x smaller.", ["18x"]),
    ("It is some 18× smaller, and 4 × faster.", ["18×", "4 ×"]),
    ("Within 0.2 pp of dense.", ["0.2 pp"]),
    ("We train for 5,000 iterations here.", ["5,000 iterations"]),
    ("a loss of 12 percentage points", ["12 percentage points"]),
    ("left: 3.6\u00a0% of the weights", ["3.6\u00a0%"]),
    ("about 5–6% left", ["6%"]),
    ("The paper trains longer. We reach 97%.", ["97%"]),          # the paper's sentence ends first
    ("```{note}\nThe ticket keeps 7% of its weights.\n```", ["7%"]),  # a note is prose
    ("<!-- fixed: 20% -->\nPrune 20% per round; the ticket keeps 7%.", ["7%"]),
])
def test_detector_flags(text, numbers):
    assert [f.number for f in prose_figures(text)] == numbers


@pytest.mark.parametrize("text", [
    "The ticket reaches {glue:text}`ticket_acc:.2%` test accuracy.",
    "The ticket reaches {glue:}`ticket_acc` and {glue}`x` after {glue:text}`n:,` iterations.",
    r"A network with $90\%$ of its weights gone, $$p = 0.2^{1/r}\ \text{or}\ 20%$$.",
    "Call `prune(model, 0.9)  # 90% sparse` first.",
    "```python\nprint(f'{acc:.1%}')  # 98%\n```",
    "```{code-cell} ipython3\nx = 50%\n```",
    "The paper reports 38% error at 3.6% of the weights.",
    "Frankle & Carbin prune 20% per round.",
    "Han et al. compress it 12×.",
    "LeNet {cite}`frankle2019lottery` keeps 7% of its weights.",
    "Images are 28×28 pixels and the layer is 784 × 300, a 3x3 kernel.",
    "```{figure} a.png\n:width: 80%\nThe caption.\n```",
    '<img src="a.png" width="80%"> See [the table](https://x.org/a%20b).',
    "<!-- fixed: 50%, 90% -->\nA network with 50% of its weights remaining is \"50% sparse\"; 90% sparse.",
    "Layers fc1 and fc2, version 1.2, 0x1f.",
])
def test_detector_allows(text):
    assert prose_figures(text) == []


def test_detector_reports_the_sentence():
    [f] = prose_figures("A first sentence.\nThe ticket keeps\n7% of its weights. Another one.")
    assert f.number == "7%" and f.sentence == "The ticket keeps 7% of its weights."


# --------------------------------------------------------------------------- the book

def documents(repo: Path = REPO) -> list[Path]:
    """The chapter notebooks of _toc.yml, in order, then book/intro.md and book/course.md."""
    return ([p for p in toc.notebooks(repo) if p.exists()]
            + [repo / "book" / "intro.md", repo / "book" / "course.md"])


def cells(path: Path) -> list[tuple[str, str]]:
    """(where, markdown) for each markdown cell: "cell 12" in a notebook, the whole file of a .md."""
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text())
        return [(f"cell {i}", "".join(c["source"]) if isinstance(c["source"], list) else c["source"])
                for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown"]
    return [("file", path.read_text())]


def offenders(path: Path) -> list[str]:
    out = []
    for where, text in cells(path):
        for f in prose_figures(text):
            sentence = f.sentence if len(f.sentence) <= 220 else f.sentence[:217] + "..."
            out.append(f"{path.relative_to(REPO)} {where}: {f.number!r} in \"{sentence}\"")
    return out


HOW_TO_FIX = (
    "Each number above is typed into the prose but depends on the run. Glue it from the cell that "
    "computed it, `lth_utils.glue(\"name\", value)`, and write {glue:text}`name:.2%` in the text; "
    "if it is the paper's, say so in its sentence (\"the paper: 38%\", or a {cite}); if it is a "
    "setting or a definition, not a result, declare it in the cell: <!-- fixed: 20% -->. "
    "The rule: tests/test_prose_numbers.py and README.md, \"Numbers in the prose\".")


@pytest.mark.parametrize("path", documents(), ids=lambda p: p.name)
def test_chapter_prose(path):
    """No run-dependent figure in the chapter's markdown that is neither glued nor the paper's."""
    found = offenders(path)
    assert not found, f"{len(found)} unglued number(s) in {path.relative_to(REPO)}:\n  " + \
        "\n  ".join(found) + "\n" + HOW_TO_FIX
