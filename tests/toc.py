"""The book's table of contents, read in one place for every test that walks it.

``pages()`` is every document of ``_toc.yml`` in book order (the root first), as paths without
suffix ("book/intro", "book/05_lottery_ticket", ...); ``chapter_notebooks()`` keeps the numbered
chapters that are notebooks (book/NN_name.ipynb).
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def pages(book: Path = REPO) -> list[str]:
    """Every document of ``book``/_toc.yml, in order, without suffix; the root first."""
    toc = yaml.safe_load((book / "_toc.yml").read_text())
    found = [toc["root"]]

    def walk(node) -> None:
        if isinstance(node, dict):
            if "file" in node:
                found.append(node["file"])
            for key in ("parts", "chapters", "sections"):
                walk(node.get(key, []))
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk({k: v for k, v in toc.items() if k != "root"})
    return [re.sub(r"\.(md|ipynb)$", "", p) for p in found]


def notebooks(book: Path = REPO) -> list[Path]:
    """The documents of _toc.yml that are notebooks (no .md of that name), in book order."""
    return [book / f"{p}.ipynb" for p in pages(book) if not (book / f"{p}.md").exists()]


def chapter_notebooks(book: Path = REPO) -> list[Path]:
    """The numbered chapters of _toc.yml, book/NN_name.ipynb, that exist, in book order."""
    return [p for p in notebooks(book) if re.fullmatch(r"\d\d_\w+", p.stem) and p.exists()]
