"""Figures of chapter 11 (do tickets transfer?), drawn from a transfer record.

Each function takes a record written by :func:`lth_utils.transfer.run_transfer` (the numbers come
from the readers in :mod:`lth_utils.transfer`) and returns its figure. Sizes follow
:mod:`lth_utils.plots`: at most 7.5 in wide, text at least 8 pt, the record's provenance under
every figure (:func:`add_footer`).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import plots
from .lottery_plots import late_label
from .plots import MAX_WIDTH, fraction_ticks, percent_axis
from .transfer import (LABELS, NAMES, STARTS, dense_acc, late_flags, overlap_state,
                       provenance, start_summary)

# each start in the book's colour (plots.COLORS): the transferred ticket is a winning ticket,
# the target's own ticket has a colour of its own; the dense network is plots.COLORS["dense"]
COLORS = {"source_ticket": plots.COLORS["ticket"], "reinit": plots.COLORS["reinit"],
          "random_mask": plots.COLORS["random_mask"],
          "target_ticket": plots.COLORS["target_ticket"]}

# the layers of the overlap figure, in colours none of the starts above uses, and neither brown
# (chapter 8's rewound ticket) nor green (the dense network)
LAYER_COLORS = ("#9467bd", "#e377c2", "#bcbd22", "k")   # LeNet: fc1-fc3, "all"


def add_footer(fig, record: dict, handles=(), labels=(), ncol: int = 2) -> None:
    """:func:`lth_utils.plots.add_footer` with the record's :func:`provenance`."""
    plots.add_footer(fig, [provenance(record)], handles, labels, ncol)


def plot_transfer(record: dict, key: str = "early_stop_test_acc", last: float = 0.1):
    """Test accuracy at early stop vs weights remaining for the four starts, one panel per
    direction (source -> target), the target's dense network dashed; legend and provenance
    underneath. A point with a trial whose early stop falls in the last ``last`` of training
    (:func:`lth_utils.transfer.late_flags`) is drawn hollow: that run was still improving, its
    accuracy is a lower bound. Returns the figure."""
    fig, axes = plt.subplots(1, 2, figsize=(MAX_WIDTH, 4.6), layout="constrained")
    flagged = False
    for ax, d in zip(axes, record["directions"]):
        for s in STARTS:
            st = start_summary(record, d["source"], s, key)
            ax.errorbar(st["fraction"], st["mean"], [st["mean"] - st["lo"], st["hi"] - st["mean"]],
                        marker="o", ms=4, capsize=2, color=COLORS[s], label=LABELS[s])
            late = late_flags(record, d["source"], s, last)
            flagged |= bool(late.any())
            ax.plot(st["fraction"][late], st["mean"][late], "o", ms=7, mfc="white",
                    mec=COLORS[s], mew=1.5, ls="none", zorder=3)
        ax.axhline(dense_acc(record, d["target"]), color=plots.COLORS["dense"], ls="--", lw=1,
                   label="dense network on the target")
        percent_axis(ax, "x")
        fraction_ticks(ax, st["fraction"])
        percent_axis(ax, "y")
        ax.set_title(f"{NAMES[d['source']]} ticket → {NAMES[d['target']]}", fontsize=10)
        ax.set_ylabel(f"test accuracy on {NAMES[d['target']]}")
    handles, labels = axes[0].get_legend_handles_labels()
    if flagged:
        handles.append(plt.Line2D([], [], marker="o", ms=7, mfc="white", mec="0.3", mew=1.5,
                                  ls="none"))
        labels.append(late_label(last))
    add_footer(fig, record, handles, labels)
    return fig


def plot_overlap(record: dict):
    """Of the first dataset's ticket, the share the second's keeps, per layer and level
    (means over trials), against a random mask of the second's count (dashed); legend and
    provenance underneath. Returns the figure."""
    fig, ax = plt.subplots(figsize=(7, 4.8), layout="constrained")
    a, b = (NAMES[n] for n in record["config"]["datasets"])
    states = [overlap_state(record, i) for i in range(len(record["levels"]))]
    frac = [lv["fraction_remaining"] for lv in record["levels"]]
    for j, row in enumerate(states[0]["rows"]):
        color = LAYER_COLORS[j % len(LAYER_COLORS)]
        ax.plot(frac, [s["rows"][j]["of_a"] for s in states], "o-", color=color,
                label=f"{row['layer']}: shared")
        ax.plot(frac, [s["rows"][j]["of_chance"] for s in states], "--", color=color,
                label=f"{row['layer']}: chance")
    percent_axis(ax, "x")
    fraction_ticks(ax, frac)
    percent_axis(ax, "y")
    ax.set_ylim(0, 1)
    ax.set_ylabel(f"share of the {a} ticket's weights\nthat the {b} ticket keeps")
    ax.set_title(f"Mask overlap: {a} vs {b} tickets (same θ0)", fontsize=10)
    add_footer(fig, record, *ax.get_legend_handles_labels(), ncol=4)
    return fig


def plot_overlap_state(state: dict, axes=None):
    """Chapter 11's 'Try it' at one level: the two tickets' kept fraction of fc1 per input pixel
    and the per-layer overlap against chance. Returns the figure."""
    if axes is None:
        fig, axes = plt.subplots(1, 3, figsize=(MAX_WIDTH, 2.7), layout="constrained",
                                 width_ratios=(1, 1, 1.4))
    fig = axes[0].figure
    top = max(p.max() for p in state["pixels"].values())
    for ax, n in zip(axes, state["datasets"]):
        im = ax.imshow(state["pixels"][n], cmap="viridis", vmin=0, vmax=top)
        ax.set_title(f"{NAMES[n]} ticket: fc1 kept\nper input pixel", fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
    fig.colorbar(im, ax=axes[1], fraction=0.046, format=plt.FuncFormatter(
        lambda v, _: f"{100 * v:.3g}%")).ax.tick_params(labelsize=8)
    x = np.arange(len(state["rows"]))
    axes[2].bar(x - 0.2, [r["of_a"] for r in state["rows"]], 0.4, color=plots.COLORS["ticket"],
                label="shared")
    axes[2].bar(x + 0.2, [r["of_chance"] for r in state["rows"]], 0.4,
                color=plots.COLORS["random_mask"], label="random mask")
    axes[2].set_xticks(x, [r["layer"].split(".")[0] for r in state["rows"]], fontsize=8)
    percent_axis(axes[2], "y")
    axes[2].set_ylim(0, 1.25)                 # room for the legend above the bars
    axes[2].set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    axes[2].set_title(f"share of the {NAMES[state['datasets'][0]]} ticket kept", fontsize=9)
    axes[2].legend(fontsize=8, ncol=2, loc="upper center")
    return fig


def plot_overlap_grid(record: dict):
    """:func:`plot_overlap_state` at every level of the record, one row each (the static page's
    'Try it'), with the provenance underneath. Returns the figure."""
    n = len(record["levels"])
    fig, axes = plt.subplots(n, 3, figsize=(MAX_WIDTH, 0.5 + 2.5 * n), layout="constrained",
                             width_ratios=(1, 1, 1.4), squeeze=False)
    for i, row in enumerate(axes):
        state = overlap_state(record, i)
        plot_overlap_state(state, row)
        row[0].set_ylabel(state["label"].replace(" (", "\n("), fontsize=8)
    add_footer(fig, record)
    return fig
