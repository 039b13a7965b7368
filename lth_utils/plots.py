"""Figures of chapters 1–2 (what pruning removes) and the helpers every figure of the book shares.

Every figure: a title, labelled axes with units, a legend. Chapters call these so that the same
picture looks the same everywhere in the book. The figures of chapters 3–4 are in
:mod:`lth_utils.finetune_plots`, the lottery-ticket figures (chapters 5–6) in
:mod:`lth_utils.lottery_plots`; reading study records is :mod:`lth_utils.records`.

Sized for the column: the published book shows figures in a ~690 px column. A figure at most
``MAX_WIDTH`` = 7.5 inches wide, saved at the default 100 dpi (750 px), is shrunk at most to
690/750 = 0.92, so text of at least ``MIN_FONT`` = 8 pt (11 px at 100 dpi) stays at least 9 px
tall on the page. So: no figure wider than 7.5 in (more rows, not more columns), no text
(ticks, legends, titles, annotations, the provenance line) under 8 pt, and nothing drawn far
outside the figure (``bbox_inches="tight"`` would widen the image, and shrink everything).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

MAX_WIDTH = 7.5   # inches: the widest a figure may be (see the module docstring)
MIN_FONT = 8      # points: the smallest text in a figure
# One colour per arm for the whole book (chapters 2-12 and every plotting module): the same
# network is the same colour wherever it appears. Dashed reference lines of the dense network
# use COLORS["dense"] too.
COLORS = {"ticket": "#1f77b4", "reinit": "#d62728", "random_mask": "#7f7f7f",
          "oneshot": "#ff7f0e", "dense": "#2ca02c", "layerwise": "#1f77b4", "global": "#9467bd",
          "rewound": "#8c564b",          # chapter 8: an IMP ticket rewound to θk
          "target_ticket": "#17becf"}    # chapter 11: the target task's own ticket
# chapter 10's pruning-at-initialisation methods (the IMP ticket is COLORS["ticket"])
METHOD_COLORS = {"snip": "#9467bd", "grasp": "#e377c2", "synflow": "#bcbd22",
                 "magnitude": "#ff7f0e", "random": "#7f7f7f"}
LABELS = {"ticket": "winning ticket (reset to θ0)", "reinit": "random reinitialisation",
          "random_mask": "random mask", "oneshot": "one-shot pruning", "dense": "dense network"}
NICE_FRACTIONS = (1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)


# --- shared helpers ---------------------------------------------------------------------------

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


def fraction_ticks(ax, fractions=None) -> None:
    """Readable ticks (100%, 50%, 20%, 10%, 5%, ...) on a log 'weights remaining' x axis.

    ``fractions``: the fractions drawn; ticks far below the smallest are dropped. The axis
    limits are not changed.
    """
    lo = min(fractions) * 0.8 if fractions is not None and len(fractions) else 0.0
    ax.xaxis.set_major_locator(plt.FixedLocator([t for t in NICE_FRACTIONS if t >= lo]))
    ax.xaxis.set_minor_formatter(plt.NullFormatter())


def _remaining_axis(ax, label: str = "weights remaining (%)") -> None:
    """Log 'weights remaining' x axis, dense on the left, ticks at 100%, 50%, 20%, 10% ..."""
    percent_axis(ax, "x")
    fraction_ticks(ax)
    ax.set_xlabel(label)


def legend_columns(labels, width: float = MAX_WIDTH - 0.5, fontsize: float = MIN_FONT) -> int:
    """How many columns of legend entries with these ``labels`` fit in ``width`` inches."""
    entry = 0.6 * fontsize * max(len(str(s)) for s in labels) + 4 * fontsize   # points
    return max(1, min(len(labels), int(72 * width // entry)))


def provenance_lines(text: str, fig, fontsize: float = MIN_FONT) -> list[str]:
    """A provenance string (parts joined by " · ") broken into lines that fit ``fig``'s width."""
    per_line = int(72 * fig.get_figwidth() / (0.6 * fontsize))   # ~0.6 em per character
    lines: list[str] = []
    for part in text.split(" · "):
        if lines and len(lines[-1]) + 3 + len(part) <= per_line:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    return lines


def add_provenance(fig, record: dict | list[dict] | str, y: float = -0.04,
                   fontsize: float = MIN_FONT) -> None:
    """Write :func:`lth_utils.records.provenance` in grey under ``fig`` (``y`` in figure
    coordinates, the top of the text), broken into lines that fit the figure's width; for a
    figure drawn from several records (a list), each record's lines in turn. A string is a
    provenance line already (another study's ``provenance``, parts joined by " · ")."""
    from .records import provenance
    lines = [line for r in (record if isinstance(record, list) else [record])
             for line in provenance_lines(r if isinstance(r, str) else provenance(r), fig,
                                          fontsize)]
    fig.text(0.5, y, "\n".join(lines), ha="center", va="top", fontsize=fontsize, color="0.4")


def add_footer(fig, provenances: list[str], handles=(), labels=(), ncol: int | None = None,
               fontsize: float = MIN_FONT) -> None:
    """Under ``fig`` (constrained layout): a legend of ``handles``/``labels`` if given (in
    ``ncol`` columns, default all on one row), then each provenance string (parts joined by
    " · ") in grey, broken into lines that fit; the axes shrink to make room for both."""
    lines = [line for text in provenances for line in provenance_lines(text, fig, fontsize)]
    h = (0.17 * len(lines) + 0.1) / fig.get_figheight()
    ncol = ncol or max(1, len(labels))
    legend_h = (0.2 * -(-len(labels) // ncol) + 0.1) / fig.get_figheight() if labels else 0.0
    fig.get_layout_engine().set(rect=(0, h + legend_h, 1, 1 - h - legend_h))
    fig.text(0.5, 0.01, "\n".join(lines), ha="center", va="bottom", fontsize=fontsize,
             color="0.4")
    if labels:
        fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, h), ncol=ncol,
                   fontsize=fontsize, frameon=False)


def first_layer_images(weight: torch.Tensor, n: int = 16, title: str = "", ax_grid=None,
                       cmap: str = "RdBu_r", lim: float | None = None,
                       colorbar_label: str = "weight value"):
    """Show the first ``n`` rows of a (units, 784) weight or mask as 28x28 images, 8 a row.

    The colour scale runs from ``-lim`` (blue) through 0 (white) to ``+lim`` (red); ``lim``
    defaults to the largest |value| of these ``n`` rows. Pass one ``lim`` to every call whose
    images are to be compared (rows of one figure, two figures), and show it once with
    :func:`weight_colorbar`.

    ``ax_grid``: axes to draw in (then nothing is created and ``None`` is returned; the caller
    adds the colour bar); else a new figure, 7.5 in wide, with a colour bar labelled
    ``colorbar_label``, is returned.
    """
    rows = int(np.ceil(n / 8))
    fig, axes = plt.subplots(rows, 8, figsize=(MAX_WIDTH, rows * 1.0)) if ax_grid is None \
        else (None, ax_grid)
    w = weight.detach().float()[:n].reshape(-1, 28, 28)
    if lim is None:
        lim = float(w.abs().max()) or 1.0
    elif not lim > 0:
        raise ValueError(f"lim must be positive (the colour scale runs from -lim to lim), "
                         f"got {lim!r}")
    for i, ax in enumerate(np.ravel(axes)):
        ax.axis("off")
        if i < len(w):
            ax.imshow(w[i], cmap=cmap, vmin=-lim, vmax=lim)
    if fig is not None:
        weight_colorbar(fig, axes, lim, cmap, colorbar_label)
        if title:
            fig.suptitle(title)
    return fig


def weight_colorbar(fig, axes, lim: float, cmap: str = "RdBu_r", label: str = "weight value",
                    extend: str = "neither"):
    """A colour bar beside ``axes`` for images drawn by :func:`first_layer_images` with this
    ``lim`` and ``cmap`` (from -lim to lim), labelled ``label``; ``extend="both"`` draws its
    ends as arrows, for a ``lim`` that some values exceed. Returns the colour bar."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    bar = fig.colorbar(ScalarMappable(Normalize(-lim, lim), cmap), ax=np.ravel(axes).tolist(),
                       fraction=0.03, pad=0.02, extend=extend)
    bar.set_label(label, fontsize=MIN_FONT)
    bar.ax.tick_params(labelsize=MIN_FONT)
    return bar


# --- chapters 1-2 (why prune, magnitude pruning) ----------------------------------------------

SCOPE_LABELS = {"layerwise": "layerwise magnitude", "global": "global magnitude",
                "random": "random (layerwise)"}
SCOPE_COLORS = {"layerwise": COLORS["layerwise"], "global": COLORS["global"],
                "random": COLORS["random_mask"]}


def _layer_color(i: int) -> tuple:
    """The colour of the ``i``-th layer (fc1, fc2, fc3 ...), the same in chapters 1-2."""
    return plt.get_cmap("tab10")(i)


def _layer_title(name: str, weight: torch.Tensor) -> str:
    """'fc1 (784 → 300)' for the (300, 784) weight ``fc1.weight``."""
    layer = name.rsplit(".", 1)[0]
    if weight.dim() == 2:
        return f"{layer} ({weight.shape[1]} → {weight.shape[0]})"
    return f"{layer} {tuple(weight.shape)}"


def _accuracy_axes(ax, dense_acc: float, label: str, title: str) -> None:
    """Dense (dashed) and chance (dotted) lines, percent axes, title and legend of a sweep."""
    ax.axhline(dense_acc, color=COLORS["dense"], ls="--", lw=1,
               label=f"dense network ({100 * dense_acc:.1f}%)")
    ax.axhline(0.1, color="k", ls=":", lw=1, label="chance (10%)")
    _remaining_axis(ax, label)
    percent_axis(ax, "y")
    ax.set_ylim(0, 1)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")


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
                        fontsize=8, xytext=(0, 2), textcoords="offset points")
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
    """One panel (row) per prunable layer: its weights at initialisation and after training.

    ``before``/``after``: two copies of the same architecture. The shaded band holds the half of
    the trained layer's weights with the smallest magnitude (|w| below the median). Returns the
    figure.
    """
    from .masks import prunable
    names = prunable(after)
    if axes is None:
        _, axes = plt.subplots(len(names), 1, figsize=(7, 0.6 + 2.2 * len(names)))
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
        ax.set_ylim(0, 1.15 * ax.get_ylim()[1])
        ax.annotate(f"|w| < {med:.3f}", (0, 1), xycoords=("data", "axes fraction"), ha="center",
                    va="top", fontsize=8, xytext=(0, -3), textcoords="offset points")
        ax.set_title(_layer_title(name, after.get_parameter(name)), fontsize=10)
        ax.set_ylabel("number of weights")
        ax.grid(alpha=0.3)
    np.ravel(axes)[-1].set_xlabel("weight value")
    handles, labels = np.ravel(axes)[0].get_legend_handles_labels()
    labels[-1] = "the 50% of trained weights with smallest |w|"
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=legend_columns(labels), fontsize=8, frameon=False)
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
    _accuracy_axes(ax, dense_acc, "weights remaining (%)", title)
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
    _accuracy_axes(ax, dense_acc, "weights remaining in the pruned layer (%)",
                   "Which layer can lose the most? (one layer pruned at a time)")
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
            ax.set_title(f"unit {i}", fontsize=8, pad=2)
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
    ax.legend(fontsize=8, loc="upper right")


def plot_sparsity_state(state: dict, fig=None, units: int = 16):
    """Draw a :func:`lth_utils.pruning.sparsity_state`: what the chapter 2 slider shows.

    Top: test accuracy (pruned vs dense) and weights remaining per layer; middle: the first
    layer's weight histogram with the cut-off; bottom: the first layer's masks of the first
    ``units`` units as 28x28 images, 8 a row. ``fig``: an empty figure to draw in (default: a
    new one, 7.5 in wide). Returns the figure.
    """
    rows = int(np.ceil(units / 8))
    fig = fig or plt.figure(figsize=(MAX_WIDTH, 6.6 + 1.0 * rows))
    outer = fig.add_gridspec(3, 1, height_ratios=[2.6, 2.4, 1.0 * rows], hspace=0.55,
                             top=0.92, bottom=0.07)
    top = outer[0].subgridspec(1, 2, width_ratios=[2, 3], wspace=0.35)
    acc_ax, layer_ax = fig.add_subplot(top[0, 0]), fig.add_subplot(top[0, 1])
    accs = [state["dense_acc"], state["test_acc"]]
    acc_ax.bar([0, 1], accs, width=0.6,
               color=[COLORS["dense"], SCOPE_COLORS[state["scope"]]])
    for x, v in enumerate(accs):
        acc_ax.annotate(f"{100 * v:.1f}%", (x, v), ha="center", va="bottom", fontsize=8,
                        xytext=(0, 2), textcoords="offset points")
    acc_ax.axhline(0.1, color="k", ls=":", lw=1)
    acc_ax.annotate("chance", (1.88, 0.1), ha="right", va="bottom", fontsize=8)  # beside the bars
    acc_ax.set_xticks([0, 1], ["dense", "pruned"])
    acc_ax.set_xlim(-0.5, 1.9)
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
    layer_ax.set_ylim(0, 1.3)
    percent_axis(layer_ax, "y")
    layer_ax.set_xlabel("layer")
    layer_ax.set_ylabel("weights remaining (%)")
    layer_ax.set_title("weights remaining per layer")
    layer_ax.legend(fontsize=8, loc="upper right")
    _threshold_histogram(state, fig.add_subplot(outer[1]))
    bottom = outer[2].subgridspec(rows, 8, wspace=0.1, hspace=0.35)
    mask_axes = [fig.add_subplot(bottom[r, c]) for r in range(rows) for c in range(8)]
    mask_images(state["masks"][names[0]][:units], mask_axes)
    fig.text(0.5, 0.01, f"masks of the first {units} units of {names[0].rsplit('.', 1)[0]} "
             "(28×28 images of their input pixels): black = kept, white = pruned",
             ha="center", va="bottom", fontsize=8)
    fig.suptitle(f"{state['scope']} magnitude pruning to {100 * state['sparsity']:.0f}% sparsity "
                 f"({100 * state['fraction_remaining']['all']:.1f}% of weights remaining)",
                 fontsize=11)
    return fig


def plot_sparsity_grid(states: list[dict], units: int = 6):
    """Small multiples of the chapter 2 slider (the static 'Try it'): one row per state, with the
    first layer's weight histogram and cut-off, then the masks of its first ``units`` units
    (in two rows). ``states``: :func:`lth_utils.pruning.sparsity_state` results. Returns the
    figure."""
    cols = int(np.ceil(units / 2))
    fig = plt.figure(figsize=(7.2, 0.5 + 2.5 * len(states)), layout="constrained")
    # the masks take about as much width as the histogram, so that each 28x28 image is about
    # an inch wide and the two rows of them fill the height of the histogram beside them
    outer = fig.add_gridspec(len(states), 2, width_ratios=[3.9, 1.1 * cols])
    name = next(iter(states[0]["masks"]))
    for i, state in enumerate(states):
        hist_ax = fig.add_subplot(outer[i, 0])
        _threshold_histogram(state, hist_ax)
        hist_ax.set_title(f"{state['scope']}, {100 * state['sparsity']:.0f}% sparsity: "
                          f"test acc. {100 * state['test_acc']:.1f}%", fontsize=9)
        if i < len(states) - 1:
            hist_ax.set_xlabel("")
        grid = outer[i, 1].subgridspec(2, cols, wspace=0.05, hspace=0.05)
        mask_images(state["masks"][name][:units],
                    [fig.add_subplot(grid[r, c]) for r in range(2) for c in range(cols)])
    fig.suptitle(f"The slider at {len(states)} positions: {name.rsplit('.', 1)[0]} weights and "
                 "masks (black = kept, white = pruned)", fontsize=11)
    return fig
