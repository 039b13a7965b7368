"""Figures of chapters 3–4: pruning with retraining, and what masks cost in PyTorch.

Chapter 3 (prune and fine-tune): accuracy against weights remaining, with and without
retraining. Chapter 4 (masks in PyTorch): pruned weights an optimiser revives, and the memory of
a pruned layer in each storage format. Inputs are plain lists and dicts of numbers the chapter
computed; each function returns its figure. Sizes follow :mod:`lth_utils.plots` (at most 7.5 in
wide, text at least 8 pt).
"""
from __future__ import annotations

import matplotlib.pyplot as plt

from .plots import COLORS, fraction_ticks, legend_columns, percent_axis

FINETUNE_COLORS = {"fine-tuned": "#1f77b4", "no retraining": "#ff7f0e"}


def plot_accuracy_vs_remaining(curves: dict[str, tuple[list[float], list[float]]],
                               dense_acc: float, tolerance: float | None = None,
                               reference: tuple[float, str] | None = None, ax=None,
                               title: str = "Test accuracy as LeNet-300-100 is pruned"):
    """Accuracy (y, percent) against weights remaining (x, log, dense on the left).

    ``curves``: label -> (fractions remaining, accuracies), both lists of floats in [0, 1].
    ``dense_acc``: the unpruned network's accuracy, drawn as a line; ``tolerance`` (e.g. 0.002)
    shades the band dense_acc - tolerance .. dense_acc. ``reference``: (fraction, label) marks a
    published result with a vertical line. Returns the figure.
    """
    fig, ax = plt.subplots(figsize=(7, 4.2)) if ax is None else (ax.figure, ax)
    for label, (fractions, accs) in curves.items():
        ax.plot(fractions, accs, "o-", ms=4, label=label, color=FINETUNE_COLORS.get(label))
    ax.axhline(dense_acc, color=COLORS["dense"], ls="--", lw=1,
               label=f"dense network ({100 * dense_acc:.2f}%)")
    if tolerance is not None:
        ax.axhspan(dense_acc - tolerance, dense_acc, color=COLORS["dense"], alpha=0.15,
                   label=f"within {100 * tolerance:g} pp of dense")
    if reference is not None:
        ax.axvline(reference[0], color="k", ls=":", lw=1, label=reference[1])
    percent_axis(ax, "x")
    fraction_ticks(ax)
    percent_axis(ax, "y")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    return fig


def plot_pruned_weight_drift(runs: dict[str, dict[str, list[float]]], n_pruned: int,
                             styles: dict[str, dict] | None = None, title: str = ""):
    """Two panels (one above the other) on what happens to weights that were pruned.

    ``runs``: label -> {"step": [...], "nonzero": [...], "mean_abs": [...]}, where ``nonzero``
    counts pruned weights that are no longer exactly 0 and ``mean_abs`` is their mean |w|
    (step 0: right after zeroing them). ``n_pruned``: how many weights were pruned (the top
    panel shows percent of them). ``styles``: optional matplotlib keyword arguments per label
    (e.g. ``{"ls": "--"}``), so that curves lying on top of each other stay visible. Both x-axes
    and the lower y-axis are symlog, so step 0 and an exact 0 are drawn too. ``title``: the
    figure's title, laid out with the panels (break a long one with "\\n": the saved image
    must stay within 7.5 in). Returns the figure.
    """
    styles = styles or {}
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6.4))
    for label, r in runs.items():
        kw = styles.get(label, {})
        line, = top.plot(r["step"], [100 * c / n_pruned for c in r["nonzero"]], label=label, **kw)
        bottom.plot(r["step"], r["mean_abs"], label=label, **{"color": line.get_color(), **kw})
    top.set_ylabel("pruned weights that are\nnonzero (%)")
    top.set_title("How many pruned weights came back")
    bottom.set_yscale("symlog", linthresh=1e-6)
    bottom.set_ylabel("mean |w| of pruned\nweights (symlog)")
    bottom.set_title("How big they grew")
    for ax in (top, bottom):
        ax.set_xscale("symlog", linthresh=1)
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel("training step after pruning (symlog)")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.legend(*top.get_legend_handles_labels(), loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=legend_columns(list(runs)), fontsize=8)   # one legend below both panels
    return fig


def plot_storage(fractions: list[float], sizes: dict[str, list[float]], ax=None,
                 title: str = "Memory of one pruned layer"):
    """Bytes to store a layer (y, log) against weights remaining (x, log, dense on the left).

    ``sizes``: storage format -> bytes at each of ``fractions``. Returns the figure.
    """
    fig, ax = plt.subplots(figsize=(7, 4)) if ax is None else (ax.figure, ax)
    for label, values in sizes.items():
        ax.plot(fractions, [v / 1e6 for v in values], "o-", ms=3, label=label)
    percent_axis(ax, "x")
    fraction_ticks(ax)
    ax.set_yscale("log")
    ax.set_ylabel("memory (MB)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig
