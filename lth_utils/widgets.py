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

    from .plots import plot_sparsity_state
    from .pruning import sparsity_state
    slider = widgets.IntSlider(value=round(100 * sparsity), min=0, max=99, step=1,
                               description="sparsity (%)", continuous_update=False,
                               style={"description_width": "initial"},
                               layout=widgets.Layout(width="420px"))
    toggle = widgets.ToggleButtons(options=["layerwise", "global"], value=scope,
                                   description="scope")
    out = widgets.Output()
    box = widgets.VBox([widgets.HBox([slider, toggle]), out])
    box.slider, box.scope = slider, toggle

    def show(change=None) -> None:
        box.state = sparsity_state(model, data, slider.value / 100, toggle.value)
        _show_figure(out, plot_sparsity_state(box.state), tight=False)

    slider.observe(show, names="value")
    toggle.observe(show, names="value")
    show()
    return box


# --- chapter 5: pruning-round slider -------------------------------------------------------------

def round_slider(record: dict, value: int | None = None,
                 arms=("ticket", "reinit", "random_mask")):
    """'Try it': a slider over the pruning rounds of ``record``, labelled by weights remaining.

    Shows the ticket's and the controls' test-accuracy curves at the chosen round, with the dense
    network's for reference. Starts at ``value`` (default: the sparsest round) and draws that
    figure at once. Returns a VBox; ``box.slider`` is the slider and ``box.state`` the
    :func:`lth_utils.records.round_state` on display.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from .lottery_plots import plot_round_state
    from .records import fraction_label, round_state
    n = len(record["rounds"]) - 1
    if n < 1:
        raise ValueError("the record has no pruning rounds: run a study with rounds >= 1")
    options = [(f"{fraction_label(e['fraction_remaining'])} (round {e['round']})", i)
               for i, e in enumerate(record["rounds"]) if i >= 1]
    slider = widgets.SelectionSlider(options=options, value=n if value is None else value,
                                     description="weights left",
                                     style={"description_width": "initial"},
                                     layout=widgets.Layout(width="520px"),
                                     continuous_update=False)
    out = widgets.Output()
    box = widgets.VBox([slider, out])
    box.slider = slider

    def show(change=None) -> None:
        box.state = round_state(record, slider.value, arms)
        fig, ax = plt.subplots(figsize=(6.5, 3.9))
        plot_round_state(box.state, ax)
        _show_figure(out, fig)

    slider.observe(show, names="value")
    show()
    return box
