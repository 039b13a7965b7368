"""Clear the outputs of chapters before they are committed (the book's rule: chapters are committed
without outputs; tests/test_colab_setup.py checks it).

    python tools/clear_outputs.py                 # every book/NN_*.ipynb
    python tools/clear_outputs.py book/07_conv_nets.ipynb
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]


def clear(path: Path) -> bool:
    """Remove outputs, execution counts, execution timestamps and saved widget state from
    ``path``; True if changed."""
    nb = nbformat.read(path, as_version=4)
    before = nbformat.writes(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    if nbformat.writes(nb) == before:
        return False
    nbformat.write(nb, path)
    return True


if __name__ == "__main__":
    paths = [Path(p) for p in sys.argv[1:]] or sorted((REPO / "book").glob("[0-9][0-9]_*.ipynb"))
    for p in paths:
        if clear(p):
            print(f"cleared {p}")
