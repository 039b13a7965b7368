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

SCOPE_LABELS = {"layerwise": "layerwise magnitude", "global": "global magnitude",
                "random": "random (layerwise)"}
SCOPE_COLORS = {"layerwise": COLORS["layerwise"], "global": COLORS["global"],
                "random": COLORS["random_mask"]}
REMAINING_TICKS = (1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01)


def _layer_color(i: int) -> tuple:
    """The colour of the ``i``-th layer (fc1, fc2, fc3 ...), the same in chapters 1-2."""
    return plt.get_cmap("tab10")(i)


def _layer_title(name: str, weight: torch.Tensor) -> str:
    """'fc1 (784 → 300)' for the (300, 784) weight ``fc1.weight``."""
    layer = name.rsplit(".", 1)[0]
    if weight.dim() == 2:
        return f"{layer} ({weight.shape[1]} → {weight.shape[0]})"
    return f"{layer} {tuple(weight.shape)}"


def _remaining_axis(ax, label: str = "weights remaining (%)") -> None:
    """Log 'weights remaining' x axis, dense on the left, ticks at 100%, 50%, 20%, 10% ..."""
    percent_axis(ax, "x")
    ax.xaxis.set_major_locator(plt.FixedLocator(REMAINING_TICKS))
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlabel(label)


def plot_parameter_counts(counts: dict[str, int], ax=None):
    """Weights and biases per layer, as bars on a log scale, labelled with their counts.

    ``counts``: parameter name -> number of entries, as :func:`lth_utils.models.count_parameters`
    returns (``{"fc1.weight": 235200, "fc1.bias": 300, ...}``). Weight bars also say which share
    of all weights the layer holds. Returns the axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.8))
    layers = list(dict.fromkeys(n.rsplit(".", 1)[0] for n in counts))
    n_weights = sum(v for n, v in counts.items() if n.endswith(".weight"))
    x = np.arange(len(layers))
    for offset, kind, color in ((-0.2, "weight", COLORS["layerwise"]), (0.2, "bias", "#aaaaaa")):
        values = [counts.get(f"{layer}.{kind}", 0) for layer in layers]
        bars = ax.bar(x + offset, values, width=0.4, color=color,
                      label="weights" if kind == "weight" else "biases")
        for bar, v in zip(bars, values):
            text = f"{v:,}" if kind == "bias" else f"{v:,}\n({100 * v / n_weights:.1f}% of weights)"
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, v), ha="center", va="bottom",
                        fontsize=7, xytext=(0, 2), textcoords="offset points")
    ax.set_yscale("log")
    ax.set_ylim(1, 30 * max(counts.values()))
    ax.set_xticks(x, layers)
    ax.set_xlabel("layer (input → output)")
    ax.set_ylabel("number of parameters (log scale)")
    ax.set_title(f"Where the {sum(counts.values()):,} parameters are")
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3, axis="y")
    return ax


def plot_weight_histograms(before: torch.nn.Module, after: torch.nn.Module, bins: int = 80,
                           axes=None):
    """One panel per prunable layer: histogram of its weights at initialisation and after training.

    ``before``/``after``: two copies of the same architecture. The shaded band holds the half of
    the trained layer's weights with the smallest magnitude (|w| below the median). Returns the
    figure.
    """
    from .masks import prunable
    names = prunable(after)
    if axes is None:
        fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4))
    fig = np.ravel(axes)[0].figure
    for ax, name in zip(np.ravel(axes), names):
        w0 = before.get_parameter(name).detach().flatten()
        w1 = after.get_parameter(name).detach().flatten()
        lim = float(max(w0.abs().max(), w1.abs().max()))
        edges = np.linspace(-lim, lim, bins + 1)
        ax.hist(w0.numpy(), edges, histtype="step", lw=1.4, color="0.5", label="at initialisation")
        ax.hist(w1.numpy(), edges, histtype="step", lw=1.4, color=COLORS["layerwise"],
                label="after training")
        med = float(w1.abs().median())
        ax.axvspan(-med, med, color=COLORS["oneshot"], alpha=0.15, label="50% smallest |w|")
        ax.set_ylim(0, 1.12 * ax.get_ylim()[1])
        ax.annotate(f"|w| < {med:.3f}", (0, 1), xycoords=("data", "axes fraction"), ha="center",
                    va="top", fontsize=7, xytext=(0, -3), textcoords="offset points")
        ax.set_title(_layer_title(name, after.get_parameter(name)))
        ax.set_xlabel("weight value")
        ax.grid(alpha=0.3)
    np.ravel(axes)[0].set_ylabel("number of weights")
    handles, labels = np.ravel(axes)[0].get_legend_handles_labels()
    labels[-1] = "the 50% of trained weights with smallest |w|"
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, fontsize=8,
               frameon=False)
    return fig


def plot_sparsity_sweep(sparsities, curves: dict[str, list], dense_acc: float, ax=None,
                        title: str = "One-shot pruning without retraining"):
    """Test accuracy against weights remaining (log x, dense on the left), one line per method.

    ``sparsities``: (S,) fractions of weights removed, in [0, 1). ``curves``: method ->
    accuracies, either (S,) or (trials, S) (then the line is the mean and the band min–max);
    methods named "layerwise", "global" or "random" get the book's colours and labels.
    ``dense_acc`` is drawn dashed, chance (10%) dotted. Returns the axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.2))
    remaining = 1 - np.asarray(sparsities, dtype=float)
    for method, acc in curves.items():
        a = np.atleast_2d(np.asarray(acc, dtype=float))
        color = SCOPE_COLORS.get(method)
        ax.plot(remaining, a.mean(0), "o-", ms=4, color=color,
                label=SCOPE_LABELS.get(method, method))
        if len(a) > 1:
            ax.fill_between(remaining, a.min(0), a.max(0), color=color, alpha=0.2, lw=0)
    ax.axhline(dense_acc, color=COLORS["dense"], ls="--", lw=1,
               label=f"dense network ({100 * dense_acc:.1f}%)")
    ax.axhline(0.1, color="k", ls=":", lw=1, label="chance (10%)")
    _remaining_axis(ax)
    percent_axis(ax, "y")
    ax.set_ylim(0, 1)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    return ax


def plot_layer_sensitivity(sparsities, accs: dict[str, list[float]], dense_acc: float, ax=None):
    """Test accuracy when only one layer is pruned: one line per layer.

    ``sparsities``: (S,) fractions of *that layer's* weights removed; ``accs``: weight name ->
    (S,) accuracies with every other layer dense. Returns the axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.2))
    remaining = 1 - np.asarray(sparsities, dtype=float)
    for i, (name, acc) in enumerate(accs.items()):
        ax.plot(remaining, acc, "o-", ms=4, color=_layer_color(i),
                label=f"only {name.rsplit('.', 1)[0]} pruned")
    ax.axhline(dense_acc, color=COLORS["dense"], ls="--", lw=1,
               label=f"dense network ({100 * dense_acc:.1f}%)")
    ax.axhline(0.1, color="k", ls=":", lw=1, label="chance (10%)")
    _remaining_axis(ax, "weights remaining in the pruned layer (%)")
    percent_axis(ax, "y")
    ax.set_ylim(0, 1)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Which layer can lose the most? (one layer pruned at a time)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    return ax


def plot_global_allocation(remaining, per_layer: dict[str, list[float]], ax=None):
    """How global pruning spreads its cuts: each layer's weights remaining against the overall.

    ``remaining``: (S,) overall fractions of weights remaining; ``per_layer``: weight name -> (S,)
    that layer's fraction remaining under a global threshold. The diagonal is layerwise pruning
    (every layer at the overall fraction). Returns the axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.2))
    remaining = np.asarray(remaining, dtype=float)
    ax.plot(remaining, remaining, color="k", ls=":", lw=1, label="layerwise (every layer the same)")
    for i, (name, frac) in enumerate(per_layer.items()):
        ax.plot(remaining, frac, "o-", ms=4, color=_layer_color(i), label=name.rsplit(".", 1)[0])
    _remaining_axis(ax, "weights remaining in the whole network (%)")
    ax.set_yscale("log")
    ax.set_ylim(min(0.5 * remaining.min(), ax.get_ylim()[0]), 1.3)
    percent_axis(ax, "y")
    ax.set_ylabel("weights remaining in the layer (%, log)")
    ax.set_title("Where a global threshold cuts")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower left", title="global magnitude", title_fontsize=8)
    return ax


def mask_images(mask: torch.Tensor, axes, side: int = 28) -> None:
    """Draw rows of a (units, side*side) first-layer mask as images: kept black, pruned white."""
    m = mask.detach().float()
    for i, ax in enumerate(np.ravel(axes)):
        ax.set_xticks([])
        ax.set_yticks([])
        if i < len(m):
            ax.imshow(m[i].reshape(side, side).numpy(), cmap="Greys", vmin=0, vmax=1)
            ax.set_title(f"unit {i}", fontsize=7, pad=2)
        else:
            ax.axis("off")


def _threshold_histogram(state: dict, ax, bins: int = 100) -> None:
    """The first layer's weights as a histogram, kept and pruned stacked, cut-off at ±threshold."""
    name = next(iter(state["masks"]))
    w = state["weights"][name].flatten()
    keep = state["masks"][name].flatten().bool()
    lim = float(w.abs().max())
    edges = np.linspace(-lim, lim, bins + 1)
    ax.hist([w[keep].numpy(), w[~keep].numpy()], edges, stacked=True,
            color=[COLORS["layerwise"], "#cccccc"], label=["kept", "pruned"])
    t = state["thresholds"][name]
    for s in (-t, t):
        ax.axvline(s, color="k", ls="--", lw=1)
    ax.plot([], [], color="k", ls="--", lw=1, label=f"cut-off ±{t:.3f}")
    ax.set_yscale("log")
    ax.set_xlabel(f"weight value in {name.rsplit('.', 1)[0]}")
    ax.set_ylabel("number of weights (log)")
    ax.set_title(f"{name.rsplit('.', 1)[0]}: {100 * state['fraction_remaining'][name]:.1f}% kept")
    ax.legend(fontsize=7, loc="upper right")


def plot_sparsity_state(state: dict, fig=None, units: int = 16):
    """Draw a :func:`lth_utils.widgets.sparsity_state`: what the chapter 2 slider shows.

    Top: test accuracy (pruned vs dense), weights remaining per layer, and the first layer's weight
    histogram with the cut-off. Bottom: the first layer's masks of the first ``units`` units as
    28x28 images. Returns the figure.
    """
    fig = fig or plt.figure(figsize=(11, 6.6))
    rows = int(np.ceil(units / 8))
    outer = fig.add_gridspec(2, 1, height_ratios=[3.2, 1.1 * rows], hspace=0.42)
    top = outer[0].subgridspec(1, 3, width_ratios=[2, 3, 3.4], wspace=0.42)
    acc_ax, layer_ax, hist_ax = (fig.add_subplot(top[0, i]) for i in range(3))
    accs = [state["dense_acc"], state["test_acc"]]
    acc_ax.bar([0, 1], accs, color=[COLORS["dense"], SCOPE_COLORS[state["scope"]]])
    for x, v in enumerate(accs):
        acc_ax.annotate(f"{100 * v:.1f}%", (x, v), ha="center", va="bottom", fontsize=8,
                        xytext=(0, 2), textcoords="offset points")
    acc_ax.axhline(0.1, color="k", ls=":", lw=1)
    acc_ax.annotate("chance", (1.5, 0.1), ha="right", va="bottom", fontsize=7)
    acc_ax.set_xticks([0, 1], ["dense", "pruned"])
    acc_ax.set_xlim(-0.6, 1.6)
    acc_ax.set_ylim(0, 1.1)
    percent_axis(acc_ax, "y")
    acc_ax.set_xlabel("network")
    acc_ax.set_ylabel("test accuracy (%)")
    acc_ax.set_title("accuracy, no retraining")
    names = list(state["masks"])
    fr = [state["fraction_remaining"][n] for n in names]
    layer_ax.bar(range(len(names)), fr, color=[_layer_color(i) for i in range(len(names))])
    layer_ax.axhline(state["fraction_remaining"]["all"], color="k", ls="--", lw=1,
                     label=f"whole network ({100 * state['fraction_remaining']['all']:.1f}%)")
    for i, v in enumerate(fr):
        layer_ax.annotate(f"{100 * v:.1f}%", (i, v), ha="center", va="bottom", fontsize=8)
    layer_ax.set_xticks(range(len(names)), [n.rsplit(".", 1)[0] for n in names])
    layer_ax.set_ylim(0, 1.25)
    percent_axis(layer_ax, "y")
    layer_ax.set_xlabel("layer")
    layer_ax.set_ylabel("weights remaining (%)")
    layer_ax.set_title("weights remaining per layer")
    layer_ax.legend(fontsize=7, loc="upper right")
    _threshold_histogram(state, hist_ax)
    bottom = outer[1].subgridspec(rows, 8, wspace=0.1, hspace=0.35)
    mask_axes = [fig.add_subplot(bottom[r, c]) for r in range(rows) for c in range(8)]
    mask_images(state["masks"][names[0]][:units], mask_axes)
    fig.text(0.5, 0.05, f"masks of the first {units} units of {names[0].rsplit('.', 1)[0]} "
             "(each a 28×28 image of its input pixels): black = kept, white = pruned",
             ha="center", fontsize=8)
    fig.suptitle(f"{state['scope']} magnitude pruning to {100 * state['sparsity']:.0f}% sparsity "
                 f"({100 * state['fraction_remaining']['all']:.1f}% of weights remaining)")
    return fig


def plot_sparsity_grid(states: list[dict], units: int = 6):
    """Small multiples of the chapter 2 slider (the static 'Try it'): one row per state, with the
    first layer's weight histogram and cut-off, then the masks of its first ``units`` units."""
    fig, axes = plt.subplots(len(states), 1 + units,
                             figsize=(2.9 + 1.25 * units, 2.1 * len(states)),
                             gridspec_kw={"width_ratios": [2.4] + [1] * units}, squeeze=False)
    name = next(iter(states[0]["masks"]))
    for row, state in zip(axes, states):
        _threshold_histogram(state, row[0])
        row[0].set_title(f"{state['scope']}, {100 * state['sparsity']:.0f}% sparsity: "
                         f"test acc. {100 * state['test_acc']:.1f}%", fontsize=9)
        if row is not axes[-1]:
            row[0].set_xlabel("")
        mask_images(state["masks"][name][:units], row[1:])
    fig.suptitle(f"The slider at {len(states)} positions: {name.rsplit('.', 1)[0]} weights and "
                 "masks (black = kept, white = pruned)")
    fig.tight_layout()
    return fig


# --- chapter 3-4 helpers (prune and fine-tune, masks in PyTorch) ----------------------------

FINETUNE_COLORS = {"fine-tuned": "#1f77b4", "no retraining": "#ff7f0e"}
NICE_PERCENTS = (1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)


def _nice_percent_ticks(ax) -> None:
    """Major ticks at 100%, 50%, 20%, 10%, ... on a log 'weights remaining' x-axis; no minor labels."""
    ax.xaxis.set_major_locator(plt.FixedLocator(NICE_PERCENTS))
    ax.xaxis.set_minor_formatter(plt.NullFormatter())


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
    _nice_percent_ticks(ax)
    percent_axis(ax, "y")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    return fig


def plot_pruned_weight_drift(runs: dict[str, dict[str, list[float]]], n_pruned: int,
                             styles: dict[str, dict] | None = None):
    """Two panels on what happens to weights that were pruned, step by step.

    ``runs``: label -> {"step": [...], "nonzero": [...], "mean_abs": [...]}, where ``nonzero``
    counts pruned weights that are no longer exactly 0 and ``mean_abs`` is their mean |w|
    (step 0: right after zeroing them). ``n_pruned``: how many weights were pruned (the left
    panel shows percent of them). ``styles``: optional matplotlib keyword arguments per label
    (e.g. ``{"ls": "--"}``), so that curves lying on top of each other stay visible. Both x-axes
    and the right y-axis are symlog, so step 0 and an exact 0 are drawn too. Returns the figure.
    """
    styles = styles or {}
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    for label, r in runs.items():
        kw = styles.get(label, {})
        line, = left.plot(r["step"], [100 * c / n_pruned for c in r["nonzero"]], label=label, **kw)
        right.plot(r["step"], r["mean_abs"], label=label, **{"color": line.get_color(), **kw})
    left.set_ylabel("pruned weights that are nonzero (%)")
    left.set_title("How many pruned weights came back")
    right.set_yscale("symlog", linthresh=1e-6)
    right.set_ylabel("mean |w| of pruned weights (symlog)")
    right.set_title("How big they grew")
    for ax in (left, right):
        ax.set_xscale("symlog", linthresh=1)
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel("training step after pruning (symlog)")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.legend(*left.get_legend_handles_labels(), loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=min(3, len(runs)), fontsize=8)   # one legend below both panels
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
    _nice_percent_ticks(ax)
    ax.set_yscale("log")
    ax.set_ylabel("memory (MB)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig


# --- chapter 5-6 helpers (the lottery ticket, iterative vs one-shot) ------------------------
# These read a study record (lottery.run_study) and work for any profile: they use the rounds,
# trials and one-shot levels the record has, never fixed numbers.

PAPER_FRACTIONS = (1.0, 0.51, 0.21, 0.07, 0.036, 0.019)   # the paper's LeNet Figure 3 curves


def _stats(values) -> dict[str, np.ndarray]:
    """Mean, min and max over trials of a (trials, ...) array-like."""
    a = np.asarray(values, dtype=float)
    return {"mean": a.mean(0), "lo": a.min(0), "hi": a.max(0)}


def fraction_label(fraction: float) -> str:
    """'51.2%' for 0.512, '1.8%' for 0.018: how the book names a sparsity level."""
    return f"{100 * fraction:.1f}%" if fraction < 0.995 else "100%"


def nearest_rounds(record: dict, targets=PAPER_FRACTIONS) -> list[int]:
    """Indices of the record's rounds nearest (in log scale) to each target fraction remaining.

    Duplicates are dropped, so a record with few rounds gives fewer indices than targets.
    """
    fr = np.log([e["fraction_remaining"] for e in record["rounds"]])
    out: list[int] = []
    for t in targets:
        i = int(np.abs(fr - np.log(t)).argmin())
        if i not in out:
            out.append(i)
    return out


def round_curves(record: dict, round_index: int, arm: str = "ticket") -> dict | None:
    """Test accuracy over training of one arm in one round: iterations (E,), mean/lo/hi (E,).

    The dense round (0) has only the "ticket" arm: every control is the dense network there,
    so asking for a control at round 0 returns the dense curves. ``None`` if the arm is missing.
    """
    arms = record["rounds"][round_index]["arms"]
    members = arms.get(arm) if round_index > 0 else arms["ticket"]
    if not members:
        return None
    return {"iteration": np.asarray(members[0]["iteration"]),
            **_stats([m["test_acc"] for m in members])}


def arm_summary(record: dict, arm: str, key: str = "early_stop_test_acc") -> dict | None:
    """``key`` of ``arm`` per sparsity level: fraction (L,), mean/lo/hi (L,) over trials.

    ``arm`` is "ticket", "reinit", "random_mask" (iterative rounds) or "oneshot" (the record's
    one-shot levels). Every arm starts at the dense network (100%), which they all share.
    ``None`` if the record has no such arm.
    """
    dense = record["rounds"][0]
    entries = [dense] + [e for e in record["rounds"][1:] if arm in e["arms"]] if arm != "oneshot" \
        else [dense] + list(record.get("oneshot", []))
    if len(entries) < 2 and arm != "ticket":
        return None
    fractions, values = [], []
    for e in entries:
        members = e["arms"].get(arm) or e["arms"]["ticket"]
        fractions.append(e["fraction_remaining"])
        values.append([m[key] for m in members])
    s = {k: np.array([_stats(v)[k] for v in values]) for k in ("mean", "lo", "hi")}
    return {"fraction": np.array(fractions), **s}


def provenance(record: dict) -> str:
    """One line saying where a figure's numbers come from (profile, trials, code, compute time)."""
    c, v = record["config"], record.get("code_version", {})
    code = f"lth_utils {v.get('lth_utils', '?')}"
    if v.get("git"):
        code += f" @ {v['git']}"
    if v.get("source_sha256"):
        code += f" (src {v['source_sha256'][:8]})"
    return (f"record {c['name']} · profile {c['profile']} · {c['trials']} trial(s) · "
            f"{len(record['rounds']) - 1} rounds · {c['iterations']:,} iterations each · "
            f"{code} · {record.get('wall_time_s', 0) / 60:.1f} min of compute")


def add_provenance(fig, record: dict, y: float = -0.04) -> None:
    """Write :func:`provenance` in small grey type under ``fig`` (``y`` in figure coordinates)."""
    fig.text(0.5, y, provenance(record), ha="center", va="top", fontsize=7, color="0.4")


def fraction_ticks(ax, fractions) -> None:
    """Readable ticks (100%, 50%, 20%, 10%, 5%, ...) on a log 'weights remaining' x axis."""
    lo = min(fractions)
    ticks = [t for t in (1, .5, .2, .1, .05, .02, .01, .005, .002, .001) if t >= lo * 0.8]
    ax.set_xticks(ticks)
    ax.xaxis.set_minor_formatter(plt.NullFormatter())


def _fraction_colors(fractions) -> dict[float, tuple]:
    """A colour per sparsity level: dark for dense, light for sparse (the same in every panel)."""
    cmap = plt.get_cmap("viridis")
    lf = np.log(np.asarray(fractions))
    span = (lf.max() - lf.min()) or 1.0
    return {f: cmap(0.85 * (lf.max() - np.log(f)) / span) for f in fractions}


def _acc_ylim(curves: list[dict]) -> tuple[float, float]:
    """Y-limits that show the end of training, not the 10% of the untrained network."""
    lows = [c["mean"][1:].min() for c in curves if len(c["mean"]) > 1]
    highs = [c["hi"].max() for c in curves]
    lo = max(0.0, min(lows) - 0.005) if lows else 0.0
    return lo, min(1.0, max(highs) + 0.003)


def plot_accuracy_curves(record: dict, arms=("ticket", "reinit"), rounds: list[int] | None = None,
                         axes=None):
    """The paper's Figure 3: test accuracy over training at several sparsities, one panel per arm.

    Lines: mean over trials; bands: min–max over trials. ``rounds`` default: the record's rounds
    nearest the paper's 100, 51, 21, 7, 3.6 and 1.9% (:func:`nearest_rounds`).
    """
    rounds = nearest_rounds(record) if rounds is None else rounds
    arms = [a for a in arms if round_curves(record, max(rounds), a) is not None]
    if axes is None:
        fig, axes = plt.subplots(1, len(arms), figsize=(5.2 * len(arms), 3.8), sharey=True,
                                 squeeze=False)
        axes = axes[0]
    fig = axes[0].figure
    fracs = [record["rounds"][r]["fraction_remaining"] for r in rounds]
    colors = _fraction_colors(fracs)
    drawn = []
    for ax, arm in zip(axes, arms):
        for r, f in zip(rounds, fracs):
            c = round_curves(record, r, arm)
            drawn.append(c)
            ax.plot(c["iteration"], c["mean"], color=colors[f], lw=1.6,
                    label=fraction_label(f) + (" (dense)" if r == 0 else ""))
            ax.fill_between(c["iteration"], c["lo"], c["hi"], color=colors[f], alpha=0.2, lw=0)
        ax.set_title(LABELS[arm])
        ax.set_xlabel("training iteration")
        ax.grid(alpha=0.3)
    axes[0].set_ylim(*_acc_ylim(drawn))
    axes[0].set_ylabel("test accuracy")
    percent_axis(axes[0], "y")
    axes[-1].legend(title="weights remaining", fontsize=8, loc="lower right")
    return fig


def plot_early_stop(record: dict, key: str = "early_stop_test_acc",
                    arms=("ticket", "reinit", "random_mask"), ax=None):
    """``key`` at early stop vs weights remaining (log x, reversed) for each arm in the record.

    ``key`` is "early_stop_test_acc" or "early_stop_iteration". Markers: mean over trials;
    error bars: min–max over trials. A dotted line marks the dense network.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5.2, 3.8))
    for arm in arms:
        s = arm_summary(record, arm, key)
        if s is None:
            continue
        err = np.vstack([s["mean"] - s["lo"], s["hi"] - s["mean"]])
        ax.errorbar(s["fraction"], s["mean"], yerr=err, color=COLORS[arm], label=LABELS[arm],
                    marker="o" if arm != "oneshot" else "s", ms=4, lw=1.4, capsize=2)
    dense = arm_summary(record, "ticket", key)
    ax.axhline(dense["mean"][0], color=COLORS["dense"], ls=":", lw=1.2, label=LABELS["dense"])
    percent_axis(ax, "x")
    fraction_ticks(ax, dense["fraction"])
    if key == "early_stop_test_acc":
        ax.set_ylabel("test accuracy at early stop")
        percent_axis(ax, "y")
    else:
        ax.set_ylabel("early-stop iteration (lowest val. loss)")
        ax.set_ylim(0, 1.05 * record["config"]["iterations"])  # 0 .. end of training
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return ax


def _ticket_at(record: dict, target: float, key: str) -> tuple[float, float]:
    """(fraction, mean of ``key`` over trials) for the ticket round nearest ``target``."""
    i = nearest_rounds(record, (target,))[0]
    e = record["rounds"][i]
    return e["fraction_remaining"], float(np.mean([m[key] for m in e["arms"]["ticket"]]))


def paper_comparison(record: dict) -> list[dict]:
    """The paper's LeNet claims beside the same quantities computed from ``record``.

    Rows: {"claim", "paper", "ours"} as strings; "ours" names the sparsity it was measured at
    (the record's round nearest the paper's).
    """
    dense_it = arm_summary(record, "ticket", "early_stop_iteration")["mean"][0]
    dense_acc = arm_summary(record, "ticket")["mean"][0]
    f21, it21 = _ticket_at(record, 0.21, "early_stop_iteration")
    f13, acc13 = _ticket_at(record, 0.135, "early_stop_test_acc")
    t = arm_summary(record, "ticket")
    # sparsest level down to which the ticket's mean accuracy never falls below the dense net's
    ok = np.cumprod(t["mean"] >= dense_acc).astype(bool)
    stays = fraction_label(t["fraction"][ok].min()) if ok[1:].any() else \
        f"— (below dense already at {fraction_label(t['fraction'][1])})"
    rows = [
        {"claim": "ticket reaches early stop sooner than dense, at ~21% weights remaining",
         "paper": "38% sooner",
         "ours": f"{100 * (1 - it21 / dense_it):.0f}% sooner (at {fraction_label(f21)})"},
        {"claim": "ticket's test accuracy minus dense, at ~13.5% weights remaining",
         "paper": "+0.3 pp",
         "ours": f"{100 * (acc13 - dense_acc):+.2f} pp (at {fraction_label(f13)})"},
        {"claim": "ticket stays at or above dense accuracy down to", "paper": "3.6%",
         "ours": stays},
    ]
    r = arm_summary(record, "reinit")
    if r is not None:
        below = r["mean"] < dense_acc
        # densest level from which on (to the sparsest) the reinitialised net stays below dense
        tail = np.flip(np.cumprod(np.flip(below[1:]))).astype(bool)
        loses = fraction_label(r["fraction"][1:][tail].max()) if tail.any() else \
            "— (not below dense at any level)"
        rows.append({"claim": "random reinitialisation is below dense accuracy from",
                     "paper": "21.1% on", "ours": f"{loses} on" if tail.any() else loses})
    return rows


def markdown_table(rows: list[dict], header: dict[str, str] | None = None) -> str:
    """A list of dicts (same keys) as a Markdown table; ``header`` renames columns."""
    keys = list(rows[0])
    header = header or {}
    lines = ["| " + " | ".join(header.get(k, k) for k in keys) + " |",
             "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(row[k]) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


class Table:
    """A small table for notebooks: ``display(Table(rows, header))``.

    It shows as HTML in Jupyter and on the web page (where Markdown outputs are rendered as
    CommonMark, which has no tables) and as Markdown in ``str()``.
    """

    def __init__(self, rows: list[dict], header: dict[str, str] | None = None) -> None:
        if not rows:
            raise ValueError("a table needs at least one row")
        self.rows, self.header = rows, header or {}

    def __str__(self) -> str:
        return markdown_table(self.rows, self.header)

    def _repr_markdown_(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        import html
        keys = list(self.rows[0])
        head = "".join(f"<th>{html.escape(str(self.header.get(k, k)))}</th>" for k in keys)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(r[k]))}</td>" for k in keys)
                       + "</tr>" for r in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def plot_round_state(state: dict, ax=None):
    """Draw a :func:`lth_utils.widgets.round_state`: each arm's test accuracy over training at
    one pruning round (mean line, min–max band), with the dense network for reference."""
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


def plot_rounds_grid(record: dict, rounds: list[int] | None = None, state_fn=None):
    """Small multiples of :func:`plot_round_state` for a few rounds (the static 'Try it')."""
    from .widgets import round_state
    state_fn = state_fn or round_state
    n = len(record["rounds"]) - 1
    rounds = rounds or sorted({max(1, round(n * q)) for q in (0.25, 0.5, 0.75, 1.0)})
    fig, axes = plt.subplots(1, len(rounds), figsize=(3.6 * len(rounds), 3.2), sharey=True,
                             squeeze=False)
    for ax, r in zip(axes[0], rounds):
        plot_round_state(state_fn(record, r), ax)
        ax.set_title(f"round {r}: {fraction_label(record['rounds'][r]['fraction_remaining'])} left",
                     fontsize=10)
        ax.get_legend().remove()
        if ax is not axes[0][0]:
            ax.set_ylabel("")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=4,
               fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def plot_oneshot_vs_iterative(record: dict, axes=None):
    """Early-stop test accuracy and early-stop iteration vs weights remaining: iterative
    pruning (the ticket's rounds) against one-shot pruning to the same sparsities."""
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.9))
    for ax, key in zip(axes, ("early_stop_test_acc", "early_stop_iteration")):
        plot_early_stop(record, key, arms=("ticket", "oneshot"), ax=ax)
        handles, labels = ax.get_legend_handles_labels()
        labels = ["iterative pruning (ticket)" if lb == LABELS["ticket"] else lb for lb in labels]
        ax.legend(handles, labels, fontsize=8)
    axes[0].set_title("accuracy")
    axes[1].set_title("learning speed")
    return axes[0].figure


def pruning_cost(record: dict) -> list[dict]:
    """Per one-shot level: training runs and iterations each method spends, and its accuracy.

    Iterative pruning to round r trains r + 1 networks (the dense one, r - 1 intermediate
    tickets, then the final ticket); one-shot trains 2 (the dense one, then the pruned one).
    """
    T = record["config"]["iterations"]
    by_round = {e["round"]: e for e in record["rounds"]}
    rows = []
    for e in record.get("oneshot", []):
        r = e["rounds_equivalent"]
        if r not in by_round:
            continue
        acc = lambda ms: float(np.mean([m["early_stop_test_acc"] for m in ms]))
        rows.append({"round": r, "fraction_remaining": e["fraction_remaining"],
                     "iterative_runs": r + 1, "oneshot_runs": 2,
                     "iterative_iterations": (r + 1) * T, "oneshot_iterations": 2 * T,
                     "iterative_acc": acc(by_round[r]["arms"]["ticket"]),
                     "oneshot_acc": acc(e["arms"]["oneshot"])})
    return rows


def plot_cost(record: dict, ax=None):
    """Test accuracy at early stop vs total training iterations spent to get the network:
    one segment per sparsity level, from one-shot (square) to iterative (circle)."""
    rows = pruning_cost(record)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.2, 4))
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
    ax.legend(fontsize=7, loc="best")
    return ax


def summary_rows(record: dict, arms=("ticket", "reinit", "random_mask", "oneshot")) -> list[dict]:
    """One row per pruning round: weights remaining, each arm's mean test accuracy at early stop
    and the ticket's mean early-stop iteration (strings, for :func:`markdown_table`)."""
    oneshot = {e["rounds_equivalent"]: e for e in record.get("oneshot", [])}
    rows = []
    for e in record["rounds"]:
        row = {"round": e["round"], "weights left": fraction_label(e["fraction_remaining"])}
        for arm in arms:
            members = (oneshot[e["round"]]["arms"]["oneshot"] if e["round"] in oneshot else None) \
                if arm == "oneshot" else e["arms"].get(arm)
            if arm in ("ticket", "oneshot") or any(arm in x["arms"] for x in record["rounds"]):
                row[arm] = (f"{100 * np.mean([m['early_stop_test_acc'] for m in members]):.2f}%"
                            if members else "")
        row["ticket early stop"] = \
            f"{np.mean([m['early_stop_iteration'] for m in e['arms']['ticket']]):,.0f}"
        rows.append(row)
    if not record.get("oneshot"):
        for r in rows:
            r.pop("oneshot", None)
    return rows
