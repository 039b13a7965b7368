"""The chapters' setup cell, made from the one place the repository URL is written: _config.yml.

    python tools/setup_cell.py           # print the cell
    python tools/setup_cell.py --write   # make it the first code cell of every chapter

tests/test_colab_setup.py checks that every chapter's first code cell is exactly this cell.
In Colab the cell installs lth_utils from the repository (the package carries the book's
records, data/results/) and shows the published profile, "standard", unless the reader set
LTH_PROFILE before; locally it only imports and prints.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import yaml

REPO = Path(__file__).resolve().parents[1]


def repository_url(repo: Path = REPO) -> str:
    """The book's repository, from _config.yml (``repository.url``)."""
    return yaml.safe_load((repo / "_config.yml").read_text())["repository"]["url"].rstrip("/")


def setup_cell(repo: Path = REPO) -> str:
    """The first code cell of every chapter."""
    return (
        "# Setup (the same in every chapter). In Colab: install the book's helper\n"
        "# package (it carries the book's records) and show the published profile.\n"
        "# Locally: nothing to do.\n"
        "import os\n"
        "import sys\n"
        'if "google.colab" in sys.modules:\n'
        "    !pip install -q \\\n"
        f"        git+{repository_url(repo)}\n"
        '    os.environ.setdefault("LTH_PROFILE", "standard")\n'
        "import lth_utils\n"
        'print(f"lth_utils {lth_utils.__version__} · profile {lth_utils.profile()!r}")')


def write(repo: Path = REPO) -> list[str]:
    """Make :func:`setup_cell` the first code cell of every book/NN_*.ipynb; returns those
    changed."""
    cell, changed = setup_cell(repo), []
    for path in sorted((repo / "book").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code")
        if first.source != cell:
            first.source = cell
            nbformat.write(nb, path)
            changed.append(path.name)
    return changed


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        print("\n".join(write()) or "every chapter already has the setup cell")
    else:
        print(setup_cell())
