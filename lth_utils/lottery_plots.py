"""Figures of chapters 5–6 (the lottery ticket, iterative vs one-shot), drawn from a study record.

Each function takes a record written by :func:`lth_utils.lottery.run_study` (the numbers come from
:mod:`lth_utils.records`) and returns its figure or axes. They work for any profile: they use the
rounds, trials and one-shot levels the record has. Sizes follow :mod:`lth_utils.plots` (at most
7.5 in wide, text at least 8 pt).

Early stops at the end of training are marked wherever early-stop iterations are drawn: the
horizon (the last iteration trained) as a line, the last tenth of training shaded, and every point
whose early stop falls there as a hollow marker, since a minimum of the validation loss at the end
of training was not measured, only cut off (see :func:`lth_utils.records.late_early_stops`).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .plots import COLORS, LABELS, MAX_WIDTH, fraction_ticks, legend_columns, percent_axis
from .records import (ARMS, acc_ylim, arm_summary, fraction_label, late_flags,
                      nearest_rounds, pruning_cost, round_curves, round_state)


def _fraction_colors(fractions) -> dict[float, tuple]:
    """A colour per sparsity level: dark for dense, light for sparse (the same in every panel)."""
    cmap = plt.get_cmap("viridis")
    lf = np.log(np.asarray(fractions))
    span = (lf.max() - lf.min()) or 1.0
    return {f: cmap(0.85 * (lf.max() - np.log(f)) / span) for f in fractions}


def _legend_below(ax, ncol: int | None = None, order=None) -> None:
    """The axes' legend under its x label, in as many columns as fit the column; ``order``
    (label -> sort key, stable) sorts its entries."""
    handles, labels = ax.get_legend_handles_labels()
    if order is not None:
        pairs = sorted(zip(handles, labels), key=lambda hl: order(hl[1]))
        handles, labels = [h for h, _ in pairs], [lb for _, lb in pairs]
    ax.legend(handles, labels, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2),
              ncol=ncol or legend_columns(labels, width=ax.figure.get_figwidth() - 0.5),
              frameon=False)


def _arms_first(arm_labels: list[str]):
    """A sort key for legend labels: the arms' labels in their order, then everything else
    (the dense network, the marks) in the order it came."""
    return lambda label: arm_labels.index(label) if label in arm_labels else len(arm_labels)


def _figure_legend(fig, legend: dict) -> None:
    """One legend for a figure of small multiples (``legend``: label -> handle, every entry
    drawn in any panel), at its bottom inside it, in the most columns (up to 4) that fit its
    width; the panels are laid out just above it, leaving room at the top for a
    ``fig.suptitle``."""
    handles, labels = list(legend.values()), list(legend)
    renderer = fig.canvas.get_renderer()
    for ncol in range(min(4, len(labels)), 0, -1):
        leg = fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.0),
                         ncol=ncol, fontsize=8, frameon=False)
        box = leg.get_window_extent(renderer)
        if ncol == 1 or box.width <= fig.bbox.width - 0.2 * fig.dpi:
            break
        leg.remove()
    legend_height = box.height / fig.dpi + 0.05                         # inches
    top = 1 - 0.35 / fig.get_figheight()                   # room for a suptitle
    fig.tight_layout(rect=(0, legend_height / fig.get_figheight(), 1, top))


def _last_part(last: float) -> str:
    """'tenth' for 0.1, '5%' for 0.05: how the legends name the end of training."""
    return "tenth" if abs(last - 0.1) < 1e-9 else f"{100 * last:g}%"


def late_label(last: float = 0.1) -> str:
    """The legend entry of a flagged point: 'early stop in the last tenth: not a measured
    minimum' (``last`` as a fraction of training)."""
    return f"early stop in the last {_last_part(last)}: not a measured minimum"


def mark_horizon(ax, record: dict, last: float = 0.1) -> None:
    """On an axes whose y is a training iteration: the training horizon
    (``record["config"]["iterations"]``) as a labelled line, the last ``last`` of it shaded."""
    T = record["config"]["iterations"]
    ax.axhspan((1 - last) * T, T, color="0.6", alpha=0.2, lw=0,
               label=f"last {_last_part(last)} of training")
    ax.axhline(T, color="k", lw=1, label=f"end of training ({T:,} iterations)")
    ax.set_ylim(0, 1.06 * T)


def curve_rounds(record: dict, arms=("ticket", "reinit")) -> list[int]:
    """The rounds :func:`plot_accuracy_curves` draws by default: among the dense network and
    the rounds that trained every arm in ``arms``, those nearest the paper's 100, 51, 21, 7, 3.6
    and 1.9% (:func:`lth_utils.records.nearest_rounds`)."""
    have = [i for i, e in enumerate(record["rounds"])
            if i == 0 or all(a in e["arms"] for a in arms)]
    return [have[j] for j in nearest_rounds({"rounds": [record["rounds"][i] for i in have]})]


def plot_accuracy_curves(record: dict, arms=("ticket", "reinit"), rounds: list[int] | None = None,
                         axes=None):
    """The paper's Figure 3: test accuracy over training at several sparsities, one panel (row)
    per arm.

    Lines: mean over trials; bands: min–max over trials. ``rounds`` default: the record's rounds
    nearest the paper's 100, 51, 21, 7, 3.6 and 1.9% (:func:`lth_utils.records.nearest_rounds`).
    ``axes``: one axes per arm to draw in. Returns the figure.
    """
    if rounds is None:
        rounds = curve_rounds(record, arms)
    arms = [a for a in arms if round_curves(record, max(rounds), a) is not None]
    if axes is None:
        fig, axes = plt.subplots(len(arms), 1, figsize=(7, 0.6 + 3 * len(arms)), sharex=True,
                                 sharey=True, squeeze=False, layout="constrained")
        axes = axes[:, 0]
    fig = axes[0].figure
    fracs = [record["rounds"][r]["fraction_remaining"] for r in rounds]
    colors = _fraction_colors(fracs)
    drawn = []
    for ax, arm in zip(axes, arms):
        for r, f in zip(rounds, fracs):
            c = round_curves(record, r, arm)
            if c is None:     # a control not trained at this round
                continue
            drawn.append(c)
            ax.plot(c["iteration"], c["mean"], color=colors[f], lw=1.6,
                    label=fraction_label(f) + (" (dense)" if r == 0 else ""))
            ax.fill_between(c["iteration"], c["lo"], c["hi"], color=colors[f], alpha=0.2, lw=0)
        ax.set_title(LABELS[arm])
        ax.set_ylabel("test accuracy")
        percent_axis(ax, "y")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("training iteration")
    axes[0].set_ylim(*acc_ylim(drawn))
    axes[-1].legend(title="weights remaining", fontsize=8, title_fontsize=8, loc="lower right",
                    ncol=2)
    return fig


def plot_early_stop(record: dict, key: str = "early_stop_test_acc",
                    arms=("ticket", "reinit", "random_mask"), ax=None, last: float = 0.1,
                    labels: dict[str, str] | None = None):
    """``key`` at early stop vs weights remaining (log x, reversed) for each arm in the record.

    ``key`` is "early_stop_test_acc" or "early_stop_iteration". Markers: mean over trials;
    error bars: min–max over trials. A dotted line marks the dense network. An arm trained at
    fewer sparsities than the ticket (a control, one-shot pruning) is joined by thin dashes:
    between its markers nothing was trained, and a solid line would draw values no run
    measured. A point (an arm at one sparsity) whose early stop falls in the last ``last`` of
    training in *any* of its trials (:func:`lth_utils.records.late_flags`) is drawn hollow:
    its mean includes a run whose validation loss was still falling when training ended. For
    "early_stop_iteration" the horizon is drawn as a line and its last ``last`` shaded.
    ``labels`` renames arms in the legend; the legend sits under the axes, the arms first (in
    the order of ``arms``), then the dense network and the marks, so that two panels of one
    record list them alike. Returns the axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.6), layout="constrained")
    labels = {**LABELS, **(labels or {})}
    flagged = False
    levels = len(arm_summary(record, "ticket", key)["fraction"])
    for arm in arms:
        s = arm_summary(record, arm, key)
        if s is None:
            continue
        marker = "o" if arm != "oneshot" else "s"
        err = np.vstack([s["mean"] - s["lo"], s["hi"] - s["mean"]])
        gaps = len(s["fraction"]) < levels
        ax.errorbar(s["fraction"], s["mean"], yerr=err, color=COLORS[arm], label=labels[arm],
                    marker=marker, ms=4, lw=0.9 if gaps else 1.4, ls="--" if gaps else "-",
                    capsize=2)
        late = late_flags(record, arm, last)
        if late.any():
            flagged = True
            ax.plot(s["fraction"][late], s["mean"][late], marker, ms=7, mfc="white",
                    mec=COLORS[arm], mew=1.5, ls="none", zorder=3)
    dense = arm_summary(record, "ticket", key)
    ax.axhline(dense["mean"][0], color=COLORS["dense"], ls=":", lw=1.2, label=labels["dense"])
    percent_axis(ax, "x")
    fraction_ticks(ax, dense["fraction"])
    if key == "early_stop_test_acc":
        ax.set_ylabel("test accuracy at early stop")
        percent_axis(ax, "y")
    else:
        ax.set_ylabel("early-stop iteration\n(lowest validation loss)")
        mark_horizon(ax, record, last)
    if flagged:
        ax.plot([], [], "o", ms=7, mfc="white", mec="0.3", mew=1.5, ls="none",
                label=late_label(last))
    ax.grid(alpha=0.3, which="both")
    _legend_below(ax, order=_arms_first([labels[a] for a in arms]))
    return ax


def plot_networks(records: dict[str, dict], arms=("ticket", "reinit", "random_mask"),
                  last: float = 0.1):
    """The paper's Figure 5 for several networks: one column per record (its key, e.g.
    "Conv-4", the column's title), the early-stop iteration on top and the test accuracy at
    early stop below, against the weights remaining, each panel drawn by
    :func:`plot_early_stop` (late points hollow, the horizon marked). Each column keeps its own
    y scale (the networks differ in accuracy and horizon). Returns the figure; one legend, every
    entry drawn in any panel, sits at its bottom and its top leaves room for a ``fig.suptitle``.
    """
    if not records:
        raise ValueError("plot_networks needs at least one record: pass {name: record}")
    n = len(records)
    fig, axes = plt.subplots(2, n, figsize=(MAX_WIDTH, 6.4), squeeze=False)
    legend = {}
    for j, (name, record) in enumerate(records.items()):
        for i, key in enumerate(("early_stop_iteration", "early_stop_test_acc")):
            ax = plot_early_stop(record, key, arms, ax=axes[i, j], last=last)
            ticks = list(ax.xaxis.get_major_locator().locs)
            if n >= 3 or len(ticks) > 4:   # a narrow panel: "100%" and "50%" would touch
                ax.xaxis.set_major_locator(plt.FixedLocator([t for t in ticks if t != 0.5]))
            for h, label in zip(*ax.get_legend_handles_labels()):
                legend.setdefault(label, h)
            ax.get_legend().remove()
            if j:
                ax.set_ylabel("")
            if i == 0:
                ax.set_xlabel("")
                ax.set_title(name, fontsize=10)
    # the arms first, as in each panel's own legend (plot_early_stop)
    order = sorted(legend, key=_arms_first([LABELS[a] for a in arms]))
    _figure_legend(fig, {label: legend[label] for label in order})
    return fig


def plot_round_state(state: dict, ax=None):
    """Draw a :func:`lth_utils.records.round_state`: each arm's test accuracy over training at
    one pruning round (mean line, min–max band), with the dense network for reference. Returns
    the axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.8))
    d = state["dense"]
    ax.plot(d["iteration"], d["mean"], color=COLORS["dense"], ls="--", lw=1.3,
            label=f"{LABELS['dense']} (100%)")
    for arm, c in state["curves"].items():
        ax.plot(c["iteration"], c["mean"], color=COLORS[arm], lw=1.8, label=LABELS[arm])
        ax.fill_between(c["iteration"], c["lo"], c["hi"], color=COLORS[arm], alpha=0.2, lw=0)
    ax.set_ylim(*state["ylim"])
    percent_axis(ax, "y")
    ax.set_xlabel("training iteration")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"round {state['round']}: {state['label']} of weights remaining")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return ax


def grid_rounds(record: dict) -> list[int]:
    """The rounds :func:`plot_rounds_grid` draws by default: among the pruned rounds where
    every control of the record was trained, those nearest the paper's 100% (so: the densest
    of them), 51, 21, 7, 3.6 and 1.9% (:func:`lth_utils.records.nearest_rounds`), so that
    every panel compares the ticket with its controls. A record without controls: a quarter,
    half, three quarters and all of the way."""
    controls = [a for a in ARMS if a != "ticket" and any(a in e["arms"]
                                                         for e in record["rounds"][1:])]
    have = [i for i, e in enumerate(record["rounds"])
            if i > 0 and controls and all(a in e["arms"] for a in controls)]
    if have:
        picked = nearest_rounds({"rounds": [record["rounds"][i] for i in have]})
        return sorted(have[j] for j in picked)
    n = len(record["rounds"]) - 1
    return sorted({max(1, round(n * q)) for q in (0.25, 0.5, 0.75, 1.0)})


NO_CONTROLS = "controls not trained at this round"


def plot_rounds_grid(record: dict, rounds: list[int] | None = None, state_fn=None):
    """Small multiples of :func:`plot_round_state`, two a row, for a few rounds (default:
    :func:`grid_rounds`, the rounds with controls): the static 'Try it' of chapter 5.

    ``state_fn(record, round)`` defaults to :func:`lth_utils.records.round_state`. A panel
    missing an arm that another panel draws says "controls not trained at this round". Returns
    the figure; the shared legend (every arm drawn in any panel) fills the grid's empty cell
    if it has one, else sits at its bottom, inside it; its top leaves room for a
    ``fig.suptitle``.
    """
    state_fn = state_fn or round_state
    rounds = rounds or grid_rounds(record)
    rows = int(np.ceil(len(rounds) / 2))
    fig, axes = plt.subplots(rows, 2, figsize=(MAX_WIDTH, 0.4 + 2.8 * rows),
                             sharex=len(rounds) % 2 == 0, sharey=True, squeeze=False)
    axes = axes.ravel()
    drawn = []
    for ax, r in zip(axes, rounds):
        state = state_fn(record, r)
        drawn.append(set(state["curves"]))
        plot_round_state(state, ax)
        ax.set_title(f"round {r}: {fraction_label(record['rounds'][r]['fraction_remaining'])} left",
                     fontsize=10)
        ax.get_legend().remove()
    every = set().union(*drawn)
    for ax, arms in zip(axes, drawn):
        if arms != every:
            ax.text(0.97, 0.05, NO_CONTROLS, transform=ax.transAxes, ha="right", va="bottom",
                    fontsize=8, color="0.3")
    for i, ax in enumerate(axes):
        if i >= len(rounds):
            ax.axis("off")
        if i % 2:
            ax.set_ylabel("")
        if i < len(rounds) - 2:
            ax.set_xlabel("")
    # every arm drawn in any panel (the first panel may be a round without controls)
    legend = {}
    for ax in axes[:len(rounds)]:
        for h, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, h)
    if len(rounds) % 2:               # the empty cell, beside the last panel
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
        axes[-1].legend(list(legend.values()), list(legend), loc="center", fontsize=8,
                        frameon=False)
    else:
        _figure_legend(fig, legend)
    return fig


def plot_oneshot_vs_iterative(record: dict, axes=None, last: float = 0.1):
    """Early-stop test accuracy (top) and early-stop iteration (bottom) vs weights remaining:
    iterative pruning (the ticket's rounds) against one-shot pruning to the same sparsities.

    Late early stops are marked as in :func:`plot_early_stop` (``last``: the fraction of training
    counted as its end). ``axes``: two axes to draw in. Returns the figure.
    """
    if axes is None:
        _, axes = plt.subplots(2, 1, figsize=(7, 8.4), layout="constrained")
    for ax, key in zip(axes, ("early_stop_test_acc", "early_stop_iteration")):
        plot_early_stop(record, key, arms=("ticket", "oneshot"), ax=ax, last=last,
                        labels={"ticket": "iterative pruning (ticket)"})
    axes[0].set_title("accuracy")
    axes[1].set_title("learning speed")
    return axes[0].figure


def plot_cost(record: dict, ax=None):
    """Test accuracy at early stop vs total training iterations spent to get the network:
    one segment per sparsity level, from one-shot (square) to iterative (circle). Returns the
    axes."""
    rows = pruning_cost(record)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.4))
    colors = _fraction_colors([r["fraction_remaining"] for r in rows] + [1.0])
    for r in rows:
        c = colors[r["fraction_remaining"]]
        ax.plot([r["oneshot_iterations"], r["iterative_iterations"]],
                [r["oneshot_acc"], r["iterative_acc"]], color=c, lw=1.2,
                label=f"{fraction_label(r['fraction_remaining'])} remaining")
        ax.plot(r["oneshot_iterations"], r["oneshot_acc"], "s", color=c, ms=6)
        ax.plot(r["iterative_iterations"], r["iterative_acc"], "o", color=c, ms=6)
    dense = arm_summary(record, "ticket")["mean"][0]
    T = record["config"]["iterations"]
    ax.axhline(dense, color=COLORS["dense"], ls=":", lw=1.2)
    ax.plot(T, dense, "*", color=COLORS["dense"], ms=11, label=f"{LABELS['dense']} (1 training)")
    ax.plot([], [], "s", color="0.3", label="one-shot (2 trainings)")
    ax.plot([], [], "o", color="0.3", label="iterative (r + 1 trainings)")
    ax.set_xlim(0, 1.08 * max([T] + [r["iterative_iterations"] for r in rows]))
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("total training iterations spent")
    ax.set_ylabel("test accuracy at early stop")
    percent_axis(ax, "y")
    ax.set_title("what the extra rounds buy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return ax


def plot_beyond_horizon(probe: dict, horizon: int, ax=None, title: str | None = None):
    """A conv horizon probe's test curves (one line per arm, to the probe's length), the
    study's ``horizon`` dotted, the probe's last tenth shaded and each arm's early stop as a
    marker, hollow when it falls in that last tenth. Returns the axes."""
    from .horizon import beyond_horizon
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.8), layout="constrained")
    late = {r["arm"]: r["late"] for r in beyond_horizon(probe, horizon)}
    T2 = probe["config"]["sparse_iterations"]
    ax.axvspan(0.9 * T2, T2, color="0.92", lw=0, label="last tenth of the probe")
    ax.axvline(horizon, color="k", ls=":", lw=1)
    ax.annotate(f"the record stops\nat {horizon:,}", (horizon, 0.83),
                xycoords=("data", "axes fraction"), xytext=(4, 0),
                textcoords="offset points", fontsize=8, va="top")
    names = {"oneshot": "one-shot ticket (θ0)", "reinit": "its mask, new init",
             "random_mask": "random mask (θ0)"}
    for a in probe["sparse"]:
        c = COLORS[a["arm"]]
        ax.plot(a["test_iteration"], np.multiply(a["test_acc"], 100), color=c, lw=1.2,
                label=names[a["arm"]])
        ax.plot(a["early_stop_iteration"], 100 * a["early_stop_test_acc"], "o", color=c, ms=7,
                mfc="white" if late[a["arm"]] else c)
    ax.plot([], [], "o", color="0.3", ms=7, label="early stop (hollow: in the last tenth)")
    ax.set(xlim=(0, T2), ylim=(40, None), xlabel="training iteration",
           ylabel="test accuracy (%)", title=title)
    ax.legend(fontsize=8, loc="lower right")
    return ax
