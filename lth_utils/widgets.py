"""ipywidgets "Try it" panels. Work with ipywidgets 7 (Colab) and 8.

Each panel is built from a pure function ``update(value) -> state`` that the tests call without a
browser, plus a thin ipywidgets layer (``interactive_output``) that redraws a figure. The static
web book shows the panel's first figure.
"""
from __future__ import annotations


# --- chapter 2: sparsity slider ---------------------------------------------------------------


# --- chapter 5: pruning-round slider -------------------------------------------------------------
