"""ipywidgets "Try it" panels. Work with ipywidgets 7 (Colab) and 8.

Each panel is a thin ipywidgets layer over a pure function ``state(value) -> dict`` that the tests
call without a browser (:func:`lth_utils.pruning.sparsity_state`,
:func:`lth_utils.records.round_state`) and a figure that draws that state (in :mod:`plots`,
:mod:`lottery_plots`). The panel draws its first figure at once, so the static web book shows it.

This module may import the others; none of them imports it.
"""
from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

    from .data import Splits


def _show_figure(out, fig, dpi: int = 90, tight: bool = True) -> None:
    """Replace what the Output widget ``out`` shows with ``fig`` as a PNG, and close ``fig``.

    The figure goes into the Output as a PNG (``append_display_data``), not through
    ``with out:`` / ``interactive_output``: when a notebook is executed by nbclient (jupyter-book,
    nbval), output captured by an Output widget during a cell makes nbclient write the widget
    state back on the shell channel, which can stall the cell until its timeout. 90 dpi keeps a
    7.5 in figure (675 px) inside the 690 px column at full size, so 8 pt text is 10 px tall.
    ``tight=False`` skips ``bbox_inches="tight"`` (one draw instead of two) for a figure that
    keeps all its text inside.
    """
    import matplotlib.pyplot as plt
    from IPython.display import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    plt.close(fig)
    out.outputs = ()
    out.append_display_data(Image(data=buf.getvalue(), format="png"))


STATIC_NOTE = ("<i>On this page the controls are fixed. Open the chapter in Colab or "
               "Jupyter to move them.</i>")


def _panel(controls: dict, state, draw, tight: bool = True):
    """A "Try it" panel: the widgets ``controls`` (attribute name -> widget, in a row) above an
    output area. On every change of a control, ``box.state = state(*values)`` and the figure
    ``draw(box.state)`` replaces the one shown; the first figure is drawn at once, so the static
    page shows it. Returns the VBox, with each control as an attribute (``box.slider``, ...).

    When the pages are built (``LTH_PROGRESS=0``, :func:`lth_utils.progress_bars`) no kernel
    will answer a move, so the controls are disabled and a third line under the figure says
    where they move (Colab, Jupyter)."""
    import ipywidgets as widgets

    from . import progress_bars

    row = list(controls.values())
    out = widgets.Output()
    box = widgets.VBox([row[0] if len(row) == 1 else widgets.HBox(row), out])
    if not progress_bars():
        for control in row:
            control.disabled = True
        box.children = (*box.children, widgets.HTML(STATIC_NOTE))
    for name, control in controls.items():
        setattr(box, name, control)

    def show(change=None) -> None:
        box.state = state(*(c.value for c in row))
        _show_figure(out, draw(box.state), tight=tight)

    for control in row:
        control.observe(show, names="value")
    show()
    return box


def _one_of(value, options, what: str) -> None:
    """Refuse a starting value its control cannot show (``ValueError`` naming the choices)."""
    if value not in options:
        raise ValueError(f"{what} must be one of {', '.join(repr(o) for o in options)}, "
                         f"got {value!r}")


def _needs(record, key: str, what: str) -> None:
    """Refuse a record without ``key`` (``ValueError`` saying which record ``what`` reads)."""
    if not isinstance(record, dict) or key not in record:
        raise ValueError(f"this panel reads {what}, with its {key!r}; got "
                         f"{type(record).__name__} {str(record)[:40]}")


def _selection(options: list, value, description: str = "weights left", width: str = "520px"):
    """A SelectionSlider over ``options`` ((label, value) pairs) that updates on release."""
    import ipywidgets as widgets

    return widgets.SelectionSlider(options=options, value=value, description=description,
                                   style={"description_width": "initial"},
                                   layout=widgets.Layout(width=width), continuous_update=False)


def _figure(figsize: tuple[float, float], plot):
    """A new figure of ``figsize`` with one axes, drawn by ``plot(ax)``; returns the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    plot(ax)
    return fig


# --- chapter 2: sparsity slider ---------------------------------------------------------------

def sparsity_explorer(model: nn.Module, data: Splits, sparsity: float = 0.9,
                      scope: str = "layerwise"):
    """'Try it': a sparsity slider (0–99%) and a layerwise/global toggle for a trained ``model``.

    Shows the pruned network's test accuracy (no retraining), the weights remaining per layer, the
    first layer's weight histogram with the cut-off marked, and the masks of its first 16 units.
    Starts at ``sparsity`` and ``scope`` and draws that figure at once. Returns a VBox;
    ``box.slider`` (percent) and ``box.scope`` are the controls, ``box.state`` the
    :func:`lth_utils.pruning.sparsity_state` on display.
    """
    import ipywidgets as widgets

    from .masks import prunable
    from .plots import plot_sparsity_state
    from .pruning import sparsity_state
    prunable(model)   # a network, or TypeError
    if not isinstance(sparsity, (int, float)) or not 0 <= sparsity <= 0.99:
        raise ValueError(f"sparsity must be in [0, 0.99] (the slider's range), got {sparsity!r}")
    _one_of(scope, ("layerwise", "global"), "scope")
    slider = widgets.IntSlider(value=round(100 * sparsity), min=0, max=99, step=1,
                               description="sparsity (%)", continuous_update=False,
                               style={"description_width": "initial"},
                               layout=widgets.Layout(width="420px"))
    toggle = widgets.ToggleButtons(options=["layerwise", "global"], value=scope,
                                   description="scope")
    return _panel({"slider": slider, "scope": toggle},
                  lambda percent, how: sparsity_state(model, data, percent / 100, how),
                  plot_sparsity_state, tight=False)


# --- chapter 5: pruning-round slider -------------------------------------------------------------

def round_slider(record: dict, value: int | None = None,
                 arms=("ticket", "reinit", "random_mask")):
    """'Try it': a slider over the pruning rounds of ``record``, labelled by weights remaining.

    Shows the ticket's and the controls' test-accuracy curves at the chosen round, with the dense
    network's for reference. Starts at ``value`` (default: the sparsest round) and draws that
    figure at once. Returns a VBox; ``box.slider`` is the slider and ``box.state`` the
    :func:`lth_utils.records.round_state` on display.
    """
    from .lottery_plots import plot_round_state
    from .records import ARMS, fraction_label, round_state
    _needs(record, "rounds", "a lottery record (lottery.run_study)")
    n = len(record["rounds"]) - 1
    if n < 1:
        raise ValueError("the record has no pruning rounds: run a study with rounds >= 1")
    if value is not None and value not in range(1, n + 1):
        raise ValueError(f"value must be a pruning round in 1..{n}, got {value!r}")
    for arm in arms:
        _one_of(arm, ARMS, "each of arms")
    options = [(f"{fraction_label(e['fraction_remaining'])} (round {e['round']})", i)
               for i, e in enumerate(record["rounds"]) if i >= 1]
    return _panel({"slider": _selection(options, n if value is None else value)},
                  lambda i: round_state(record, i, arms),
                  lambda state: _figure((6.5, 3.9), lambda ax: plot_round_state(state, ax)))


# --- chapter 9: supermask explorer -------------------------------------------------------------

def supermask_explorer(template: nn.Module, theta0: dict, thetaT: dict, data: Splits,
                       criterion: str = "large_final", keep: float = 0.1,
                       keeps=(0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01)):
    """'Try it': choose a mask criterion and a kept fraction; see the mask applied to θ0 with no
    training (:func:`lth_utils.supermasks.supermask_state`): its test accuracy and which input
    pixels keep their first-layer weights. Returns a VBox; ``box.criterion``, ``box.slider``
    are the controls and ``box.state`` the state on display."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from .supermasks import CRITERIA, draw_state, supermask_state
    _one_of(criterion, CRITERIA, "criterion")
    _one_of(keep, keeps, "keep")
    drop = widgets.Dropdown(options=list(CRITERIA), value=criterion, description="criterion")
    slider = _selection([(f"{100 * k:g}%", k) for k in keeps], keep, "hidden kept", "auto")

    def draw(state):
        fig, ax = plt.subplots(figsize=(3.2, 3.4))
        draw_state(state, ax)
        ax.set_xlabel(f"{100 * state['fraction_remaining']:.1f}% of weights left\n"
                      "colour: share of a pixel's weights kept", fontsize=8)
        return fig

    return _panel({"criterion": drop, "slider": slider},
                  lambda crit, kept: supermask_state(template, theta0, thetaT, data, crit, kept),
                  draw)


# --- chapter 12: density slider over measured latencies -------------------------------------------

def speed_slider(rows: list[dict], density: float | None = None):
    """'Try it': a slider over the densities measured in ``rows``
    (:func:`lth_utils.sparse.layer_latency`). Shows the 784×300 layer's latency in each format at
    each batch size, and its storage under each scheme, at that density
    (:func:`lth_utils.sparse.speed_state`). Starts at ``density`` (default: the sparsest) and
    draws that figure at once. Returns a VBox; ``box.slider`` and ``box.state``.
    """
    import matplotlib.pyplot as plt

    from .sparse import plot_speed_state, speed_state
    if not rows:
        raise ValueError("rows is empty: measure them with lth_utils.sparse.layer_latency(...)")
    if density is not None:
        _one_of(density, sorted({r["density"] for r in rows}, reverse=True), "density")
    options = [(f"{100 * d:.3g}%", d) for d in sorted({r["density"] for r in rows},
                                                     reverse=True)]

    def draw(state):
        fig, axes = plt.subplots(1, 2, figsize=(7.2, 2.6), layout="constrained")
        plot_speed_state(state, axes)
        return fig

    return _panel({"slider": _selection(options, density or options[-1][1])},
                  lambda d: speed_state(rows, d), draw)


# --- chapter 11: two tickets' masks, level by level ------------------------------------------

def transfer_slider(record: dict, value: int | None = None):
    """'Try it': a slider over the levels of a transfer record (:mod:`lth_utils.transfer`).

    Shows both datasets' tickets (fc1's kept fraction per input pixel) and how much of the first
    ticket the second keeps, per layer, against a random mask. Starts at ``value`` (default: the
    sparsest level). Returns a VBox; ``box.slider`` is the slider and ``box.state`` the
    :func:`lth_utils.transfer.overlap_state` on display.
    """

    from .transfer import overlap_state
    from .transfer_plots import plot_overlap_state
    _needs(record, "levels", "a transfer record (transfer.run_transfer)")
    n = len(record["levels"])
    if value is not None and value not in range(n):
        raise ValueError(f"value must be a level's index in 0..{n - 1}, got {value!r}")
    options = [(f"{100 * lv['fraction_remaining']:.1f}% (round {lv['round']})", i)
               for i, lv in enumerate(record["levels"])]
    return _panel({"slider": _selection(options, n - 1 if value is None else value)},
                  lambda i: overlap_state(record, i), plot_overlap_state)


def path_slider(records: list[dict], i: int | None = None):
    """'Try it' (chapter 8): a slider over the spawn points of instability ``records`` (position
    i: each network's i-th k), showing each network's paths there
    (:func:`lth_utils.instability_plots.path_state`). Starts at ``i`` (default the last).
    Returns a VBox; ``box.slider``, ``box.state``."""
    from .instability_plots import NAMES, ks, path_state, plot_path_state, slider_label
    if not records:
        raise ValueError("no records: give at least one instability record "
                         "(instability.run_study)")
    for rec in records:
        _needs(rec, "paths", "instability records (instability.run_study)")
    n = max(len(ks(rec)) for rec in records)
    if i is not None and i not in range(n):
        raise ValueError(f"i must be a spawn point's position in 0..{n - 1}, got {i!r}")
    options = [(slider_label(records, j), j) for j in range(n)]
    nets = " / ".join(NAMES[r["config"]["network"]].split()[0] for r in records)
    return _panel({"slider": _selection(options, n - 1 if i is None else i, f"k ({nets})")},
                  lambda j: path_state(records, j), plot_path_state)


# --- chapter 10: pruning at initialisation, method and sparsity -------------------------------

def prune_at_init_explorer(model: nn.Module, x, y, method: str = "snip", sparsity: float = 0.99,
                           synflow_rounds: int = 100,
                           sparsities=(0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9995, 0.9999)):
    """'Try it': choose a pruning-at-initialisation method and a sparsity; see the fraction of
    each layer of ``model`` (untrained) it keeps, and which layers collapse.

    ``x`` (N, ...), ``y`` (N,): the batch SNIP and GraSP score on. Returns a VBox;
    ``box.method``, ``box.slider`` are the controls and ``box.state`` the
    :func:`lth_utils.prune_at_init.layer_state` on display.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from .plots import METHOD_COLORS
    from .prune_at_init import METHODS, layer_state
    _one_of(method, METHODS, "method")
    _one_of(sparsity, sparsities, "sparsity")
    dropdown = widgets.Dropdown(options=list(METHODS), value=method, description="method")
    slider = _selection([(f"{100 * s:g}%", s) for s in sparsities], sparsity, "sparsity",
                        "420px")

    def draw(s):
        fig, ax = plt.subplots(figsize=(6.0, 3.2))
        names = list(s["fractions"])
        fracs = [max(s["fractions"][n], 1e-6) for n in names]
        # the method's colour, as in chapter 10's figures; a collapsed layer hatched
        bars = ax.bar(names, fracs, color=METHOD_COLORS[s["method"]], edgecolor="k",
                      hatch=["//" if n in s["collapsed"] else "" for n in names])
        ax.bar_label(bars, [f"{s['counts'][n]:,} kept" if s["counts"][n] else "collapsed"
                            for n in names], fontsize=9)
        ax.set(yscale="log", ylim=(1e-6, 2), ylabel="fraction of the layer kept",
               title=f"{s['method']} at {100 * s['sparsity']:g}% sparsity: "
                     f"{'connected' if s['connected'] else 'no path from input to output'}")
        return fig

    return _panel({"method": dropdown, "slider": slider},
                  lambda m, sp: layer_state(m, model, sp, x, y, synflow_rounds), draw)
