"""The chapters as reveal.js slides, built with Jupyter's own tool, `jupyter nbconvert --to slides`.

    python tools/slides.py --write                 # tag every chapter's cells for slides
    python tools/slides.py --build [NOTEBOOK ...]  # _build/slides/ (what `make slides` runs)

Tags. Each cell's `metadata.slideshow.slide_type` (what Jupyter's own slideshow view edits) is
set by rule, so that rerunning `--write` changes nothing and a new cell gets its tag from it:

    the title cell, and a cell that starts with a `## ` heading    slide
    a cell that starts with a `### ` heading                       subslide
    a "**Takeaway:**" paragraph (shown after its figure)           fragment
    any other markdown cell                                        subslide
    the setup and import cells, before the first `## ` heading     skip
    a cell that starts with `## References` (a bibliography)       skip
    any other code cell                                            -  (on the slide above it)

The chapters carry no exercise solutions (they live in book/solutions/), so there are none to
skip. tests/test_slides.py checks that the committed chapters carry exactly these tags.

Building. `--build` converts notebooks without executing them: it takes seconds and needs no
data or records. With no notebooks named it takes each chapter as the book's last build
executed it (_build/jupyter_execute/book/NN_name.ipynb, written by `make book`), with that
build's figures, printed output and glued numbers, when that copy exists and is not older than
the chapter in book/; else the chapter as committed, which shows the prose, the code and the
equations but no outputs (:func:`slide_sources`). Before nbconvert's own reveal.js step, the
preprocessor `MystForSlides` (nbconvert imports it from this file) makes the MyST that only the
book's build reads into plain Markdown, and cuts what a slide cannot hold: a `##` heading in
the middle of a cell starts a new slide (`### ` a subslide, `## References` and what follows
are skipped), `{glue:text}` becomes the glued value (or the glue's name in angle brackets when
the notebook has no outputs), `{cite}` the authors and year from book/references.bib, `{doc}` a
link to that chapter's slides, an admonition a quotation with its title in bold. A slide
scrolls (reveal_scroll), so a code cell is shown whole up to LONG_CODE lines: every cell that
shows an algorithm (chapter 3's prune and fine-tune loop, chapter 4's two fixes, chapter 5's
IMP loop) fits; a longer cell (the few that compute the text's numbers or hold a Check) shows
its first lines and says how many more the chapter has. A cell's printed output appears once,
in one block per stream (:func:`merge_streams` undoes MyST-NB's merge of the streams, which
the executed copies keep beside the pieces it merged). reveal.js, MathJax, require.js and
jQuery are linked from nbconvert's default CDNs (the book itself vendors its JavaScript, see
tools/vendor_js.sh; the slides are meant for a lecture room with a network).
"""
from __future__ import annotations

import ast
import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import Preprocessor

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "_build" / "slides"
EXECUTED = REPO / "_build" / "jupyter_execute" / "book"    # the chapters as `make book` ran them
# lines: a slide scrolls, so every cell that shows an algorithm stays whole (the longest, chapter
# 4's train_steps with its two fixes, has 28); only longer cells are cut on a slide
LONG_CODE = 30
NBCONVERT_OPTIONS = [
    "--to", "slides",
    "--SlidesExporter.preprocessors=['slides.MystForSlides']",
    # long sections scroll inside their slide instead of running off its bottom
    "--SlidesExporter.reveal_scroll=True",
    "--SlidesExporter.reveal_number=c/t",
    "--SlidesExporter.exclude_input_prompt=True",
    "--SlidesExporter.exclude_output_prompt=True",
]

FENCE = re.compile(r"^(`{3,}|~{3,})")
HEADING = re.compile(r"^(#{2,3}) \S")


def chapters(repo: Path = REPO) -> list[Path]:
    """The chapter notebooks, book/NN_*.ipynb, in order."""
    return sorted((repo / "book").glob("[0-9][0-9]_*.ipynb"))


def slide_sources(repo: Path = REPO, executed: Path | None = None) -> list[Path]:
    """What ``--build`` converts when given no notebooks, one per chapter in order: the copy the
    book's last build executed (``executed``, default _build/jupyter_execute/book/, with its
    outputs) when it exists and is not older than the chapter in book/ (a chapter edited since
    that build would show its old text), else the chapter as committed (no outputs)."""
    executed = repo / EXECUTED.relative_to(REPO) if executed is None else executed
    out = []
    for chapter in chapters(repo):
        ran = executed / chapter.name
        fresh = ran.exists() and ran.stat().st_mtime >= chapter.stat().st_mtime
        out.append(ran if fresh else chapter)
    return out


# --------------------------------------------------------------------------- tags

def _first_line(cell: nbformat.NotebookNode) -> str:
    return next((line for line in cell.source.splitlines() if line.strip()), "")


def slide_types(nb: nbformat.NotebookNode) -> list[str]:
    """The slide type of each cell of ``nb`` by the rules of the module docstring."""
    types, seen_section = [], False
    for i, cell in enumerate(nb.cells):
        first = _first_line(cell)
        if cell.cell_type != "markdown":
            types.append("-" if seen_section else "skip")
            continue
        if first.startswith("## "):
            seen_section = True
            types.append("skip" if first.strip() == "## References" else "slide")
        elif i == 0 or first.startswith("# "):
            types.append("slide")
        elif first.startswith("### "):
            types.append("subslide")
        elif first.startswith("**Takeaway"):
            types.append("fragment")
        else:
            types.append("subslide")
    return types


def tag(nb: nbformat.NotebookNode) -> bool:
    """Set every cell's ``metadata.slideshow.slide_type`` by :func:`slide_types`; True if any
    changed. Other metadata is kept."""
    changed = False
    for cell, kind in zip(nb.cells, slide_types(nb)):
        if cell.metadata.get("slideshow", {}).get("slide_type") != kind:
            cell.metadata.setdefault("slideshow", {})["slide_type"] = kind
            changed = True
    return changed


def write(paths: list[Path] | None = None) -> list[str]:
    """Tag the chapters ``paths`` (default: every chapter) in place; returns the names changed."""
    changed = []
    for path in paths or chapters():
        nb = nbformat.read(path, as_version=4)
        if tag(nb):
            nbformat.write(nb, path)
            changed.append(path.name)
    return changed


# --------------------------------------------------------------------------- MyST -> Markdown

def bib_labels(bib: Path = REPO / "book" / "references.bib") -> dict[str, str]:
    """``{key: "Frankle and Carbin, 2019"}`` for every entry of ``bib`` (the book's author-year
    style)."""
    labels = {}
    for entry in re.split(r"\n(?=@)", bib.read_text()):
        key = re.match(r"@\w+\{([^,\s]+),", entry.strip())
        if not key:
            continue
        field = {name.lower(): value for name, value in
                 re.findall(r"(\w+)\s*=\s*\{((?:[^{}]|\{[^{}]*\})*)\}", entry)}
        names = [a.split(",")[0].strip() if "," in a else a.split()[-1]
                 for a in re.split(r"\s+and\s+", field.get("author", key.group(1)))]
        names = [n.replace("{", "").replace("}", "") for n in names]
        who = (names[0] if len(names) == 1 else " and ".join(names)
               if len(names) == 2 and names[1] != "others" else f"{names[0]} et al.")
        labels[key.group(1)] = f"{who}, {field.get('year', '')}".strip(", ")
    return labels


def glued(nb: nbformat.NotebookNode, path: Path | None = None) -> dict[str, str]:
    """``{name: text/plain}`` of every value glued (myst_nb.glue) by a notebook with outputs:
    in its cells (run by Jupyter) or, for a notebook at ``path`` executed by the book's build,
    in the ``NN_name.glue.json`` that MyST-NB writes beside it instead."""
    outputs = [out for cell in nb.cells for out in cell.get("outputs", [])]
    saved = path.with_suffix(".glue.json") if path else None
    if saved and saved.exists():
        outputs += json.loads(saved.read_text()).values()
    values = {}
    for out in outputs:
        meta = out.get("metadata", {}).get("scrapbook")
        if meta:
            data = out.get("data", {})
            values[meta["name"]] = data.get(meta.get("mime_prefix", "") + "text/plain",
                                            data.get("text/plain", ""))
    return values


def format_glue(text: str, spec: str) -> str:
    """A glued text/plain value formatted as MyST-NB's ``{glue:text}`name:spec``` shows it."""
    try:
        value = ast.literal_eval(text)
    except (SyntaxError, ValueError):
        value = text
    if not spec:
        return str(value)
    kind = spec[-1]
    value = (str(value) if kind == "s" else int(value) if kind in "bcdoxX"
             else float(value) if kind in "eEfFgGn%" else value)
    return format(value, spec)


def myst_to_markdown(text: str, values: dict[str, str], labels: dict[str, str]) -> str:
    """The Markdown nbconvert can render for the MyST ``text`` of a chapter's cell."""
    def paste(m: re.Match) -> str:
        name, _, spec = m.group(1).partition(":")
        if name not in values:
            return f"⟨{name}⟩"
        try:
            return format_glue(values[name], spec)
        except (TypeError, ValueError):
            return values[name]

    def cite(m: re.Match) -> str:
        keys = [k.strip() for k in m.group(1).split(",")]
        # as the book shows it, in brackets (escaped: never read as a link)
        return r"\[" + "; ".join(labels.get(k, k) for k in keys) + r"\]"

    def doc(m: re.Match) -> str:
        label, target = m.group(1), m.group(1)
        inner = re.match(r"(.*?)\s*<(.+)>$", label)
        if inner:
            label, target = inner.groups()
        name = target.rsplit("/", 1)[-1]
        if re.match(r"\d\d_", name):
            text = label if inner else f"chapter {int(name[:2])}"
            return f"[{text}]({name}.slides.html)"
        return label

    text = re.sub(r"\{glue:text\}`([^`]+)`", paste, text)
    text = re.sub(r"\{cite(?::\w+)?\}`([^`]+)`", cite, text)
    text = re.sub(r"\{doc\}`([^`]+)`", doc, text)
    return _admonitions(text)


def _admonitions(text: str) -> str:
    """Each ```{admonition} Title ... ``` block as a quotation headed by **Title**."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = re.match(r"^(`{3,}|~{3,})\{admonition\}\s*(.*)$", lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        fence, body, i = m.group(1), [], i + 1
        while i < len(lines) and lines[i].strip() != fence:
            if not (not body and lines[i].startswith(":")):    # :class: and other options
                body.append(lines[i])
            i += 1
        i += 1
        out += [f"> **{m.group(2).strip()}**", ">"] + [f"> {b}".rstrip() for b in body]
    return "\n".join(out)


def split_at_headings(source: str) -> list[tuple[str | None, str]]:
    """``source`` cut before each ``##``/``###`` heading outside code fences that does not start
    it: ``[(slide type or None for the first piece, text), ...]``."""
    pieces: list[tuple[str | None, list[str]]] = [(None, [])]
    fence = None
    for line in source.splitlines():
        m = FENCE.match(line)
        if m and fence is None:
            fence = m.group(1)
        elif fence is not None and line.strip() == fence:
            fence = None
        heading = HEADING.match(line) if fence is None else None
        if heading and any(s.strip() for s in pieces[-1][1]):
            kind = ("skip" if line.strip() == "## References"
                    else "slide" if heading.group(1) == "##" else "subslide")
            pieces.append((kind, []))
        pieces[-1][1].append(line)
    return [(kind, "\n".join(lines).strip("\n")) for kind, lines in pieces]


def shorten(code: str, keep: int = LONG_CODE) -> str:
    """``code`` if it has at most ``keep`` lines, else its first lines and how many more."""
    lines = code.splitlines()
    if len(lines) <= keep:
        return code
    head = lines[:keep - 3]
    return "\n".join(head + [f"# ... {len(lines) - len(head)} more lines in the chapter"])


def merge_streams(outputs: list) -> list:
    """A code cell's ``outputs`` with its printed text shown once: each run of consecutive stream
    outputs of one name (stdout, stderr) becomes one, after undoing MyST-NB's merge.

    MyST-NB renders a cell by appending the text of every later stream of a name to the first
    one (``coalesce_streams``, each piece right-stripped and ended by a newline) and saves the
    executed notebook with that first output changed and the later pieces still there: printed
    as they are, those pieces appear twice. When the first output of a name ends with exactly
    its later pieces, put together that way, and holds more than them, that end is cut off
    again, so the pieces stand where the cell printed them (between its figures and tables).
    Outputs are not changed in place."""
    outputs = [nbformat.from_dict(dict(o)) for o in outputs]
    by_name: dict[str, list[int]] = {}
    for i, o in enumerate(outputs):
        if o.get("output_type") == "stream":
            by_name.setdefault(o.get("name", "stdout"), []).append(i)
    for first, *rest in by_name.values():
        tail = "".join(t + "\n" for i in rest if (t := outputs[i]["text"].rstrip()))
        head = outputs[first]["text"]
        if tail and len(head) > len(tail) and head.endswith(tail):
            outputs[first]["text"] = head[:-len(tail)]
    merged: list = []
    for o in outputs:
        prev = merged[-1] if merged else None
        if (o.get("output_type") == "stream" and prev is not None
                and prev.get("output_type") == "stream" and prev.get("name") == o.get("name")):
            prev["text"] += o["text"]
        else:
            merged.append(o)
    return merged


class MystForSlides(Preprocessor):
    """nbconvert preprocessor: the chapter's MyST as plain Markdown, one slide per ``##``
    heading, long code cut, glue outputs dropped, printed text once (:func:`merge_streams`; see
    the module docstring). The notebook's title (``<title>`` of the page) is its ``# ``
    heading."""

    def preprocess(self, nb, resources):
        meta = resources.get("metadata", {})
        path = Path(meta["path"], meta["name"] + ".ipynb") if meta.get("path") else None
        values, labels = glued(nb, path), bib_labels()
        cells = []
        for cell in nb.cells:
            kind = cell.metadata.get("slideshow", {}).get("slide_type", "-")
            if cell.cell_type == "code":
                cell.outputs = merge_streams([o for o in cell.get("outputs", [])
                                              if "scrapbook" not in o.get("metadata", {})])
                cell.source = shorten(cell.source)
                cells.append(cell)
                continue
            if cell.cell_type != "markdown":
                cells.append(cell)
                continue
            for j, (piece_kind, text) in enumerate(split_at_headings(cell.source)):
                new = nbformat.v4.new_markdown_cell(myst_to_markdown(text, values, labels))
                new.metadata["slideshow"] = {"slide_type": piece_kind if j else kind}
                cells.append(new)
        nb.cells = cells
        title = _first_line(nb.cells[0]).lstrip("# ").strip() if nb.cells else ""
        if title:
            nb.metadata["title"] = title
        return nb, resources


# --------------------------------------------------------------------------- build

def build(notebooks: list[Path] | None = None, out: Path = OUT) -> list[Path]:
    """`jupyter nbconvert --to slides` on ``notebooks`` (default: every chapter, from
    :func:`slide_sources`) into ``out``, with an index.html linking them; returns the slide
    files, in order."""
    notebooks = [Path(p).resolve() for p in notebooks or slide_sources()]
    out.mkdir(parents=True, exist_ok=True)
    jupyter = Path(sys.executable).with_name("jupyter")
    cmd = [str(jupyter) if jupyter.exists() else "jupyter", "nbconvert", *NBCONVERT_OPTIONS,
           "--output-dir", str(out), *map(str, notebooks)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "tools"),
                                                      env.get("PYTHONPATH")]))
    print("slides:", " ".join(cmd[:2] + NBCONVERT_OPTIONS[:2]), "...", flush=True)
    subprocess.run(cmd, check=True, env=env, cwd=REPO)
    decks = [out / f"{p.stem}.slides.html" for p in notebooks]
    missing = [d.name for d in decks if not d.exists()]
    if missing:
        raise RuntimeError(f"nbconvert wrote no {missing} into {out}")
    items = "\n".join(
        f'<li><a href="{d.name}">{html.escape(_title(p))}</a></li>'
        for p, d in zip(notebooks, decks))
    (out / "index.html").write_text(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>The Lottery Ticket Book: slides</title></head>\n<body>\n"
        "<h1>The Lottery Ticket Book: slides</h1>\n<ol>\n" + items + "\n</ol>\n"
        "<p>Space or the arrow keys move through a deck; Esc shows all its slides.</p>\n"
        "</body></html>\n")
    return decks


def _title(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return _first_line(nb.cells[0]).lstrip("# ").strip() if nb.cells else path.stem


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--write"]:
        print("\n".join(write([Path(a) for a in args[1:]] or None))
              or "every chapter already has its slide tags")
    elif args[:1] == ["--build"]:
        given = [Path(a) for a in args[1:]] or slide_sources()
        ran = sum(EXECUTED in p.resolve().parents for p in given)
        decks = build(given)
        profile = REPO / "_build" / ".profile"
        made = (f"{ran} from {EXECUTED.relative_to(REPO)}/ (the book's last build"
                + (f", profile {profile.read_text().strip()}" if profile.exists() else "")
                + ": figures and numbers)" if ran else "")
        bare = sum(p.resolve().parent == REPO / "book" for p in given)
        other = len(given) - ran - bare
        print(f"slides: {len(decks)} decks in {OUT.relative_to(REPO)}/, "
              + "; ".join(filter(None, [made, f"{bare} as committed (no outputs)" * bool(bare),
                                        f"{other} from the notebooks named" * bool(other)]))
              + f" (open {OUT.relative_to(REPO)}/index.html)")
    else:
        sys.exit(__doc__)
