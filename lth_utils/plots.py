"""Figures the chapters share. Every figure: a title, labelled axes with units, a legend.

Chapters call these so that the same picture looks the same everywhere in the book.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

COLORS = {"ticket": "#1f77b4", "reinit": "#d62728", "random_mask": "#7f7f7f",
          "oneshot": "#ff7f0e", "dense": "#2ca02c", "layerwise": "#1f77b4", "global": "#9467bd"}
LABELS = {"ticket": "winning ticket (reset to θ0)", "reinit": "random reinitialisation",
          "random_mask": "random mask", "oneshot": "one-shot pruning", "dense": "dense network"}


def percent_axis(ax, axis: str = "x", log: bool = True) -> None:
    """Label a 'weights remaining' axis in percent, log-scaled and reversed (dense on the left)."""
    if axis == "x":
        if log:
            ax.set_xscale("log")
        ax.invert_xaxis()
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{100 * v:g}%"))
        ax.set_xlabel("weights remaining (%)")
    else:
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{100 * v:g}%"))


def first_layer_images(weight: torch.Tensor, n: int = 16, title: str = "", ax_grid=None,
                       cmap: str = "RdBu_r"):
    """Show the first ``n`` rows of a (units, 784) weight or mask as 28x28 images."""
    rows = int(np.ceil(n / 8))
    fig, axes = plt.subplots(rows, 8, figsize=(8 * 1.1, rows * 1.2)) if ax_grid is None \
        else (None, ax_grid)
    w = weight.detach().float()[:n].reshape(-1, 28, 28)
    lim = float(w.abs().max()) or 1.0
    for i, ax in enumerate(np.ravel(axes)):
        ax.axis("off")
        if i < len(w):
            ax.imshow(w[i], cmap=cmap, vmin=-lim, vmax=lim)
    if fig is not None and title:
        fig.suptitle(title)
    return fig


# --- chapter 1-2 helpers (why prune, magnitude pruning) -------------------------------------


# --- chapter 3-4 helpers (prune and fine-tune, masks in PyTorch) ----------------------------


# --- chapter 5-6 helpers (the lottery ticket, iterative vs one-shot) ------------------------
