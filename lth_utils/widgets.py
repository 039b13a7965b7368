"""ipywidgets "Try it" panels. Work with ipywidgets 7 (Colab) and 8.

Each panel is built from a pure function ``update(value) -> state`` that the tests call without a
browser, plus a thin ipywidgets layer (``interactive_output``) that redraws a figure. The static
web book shows the panel's first figure.
"""
from __future__ import annotations


# --- chapter 2: sparsity slider ---------------------------------------------------------------

from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from torch import nn

    from .data import Splits


def sparsity_state(model: nn.Module, data: Splits, sparsity: float,
                   scope: str = "layerwise") -> dict:
    """What the sparsity slider shows: ``model`` magnitude-pruned to ``sparsity``, not retrained.

    ``model``: a trained network (not changed); ``data``: a :class:`lth_utils.data.Splits` whose
    test set is evaluated; ``sparsity``: fraction of all prunable weights to remove, in [0, 1);
    ``scope``: "layerwise" (every layer loses that fraction) or "global" (one threshold for all).
    Returns ``{"sparsity", "scope", "test_acc", "dense_acc", "threshold", "thresholds",
    "fraction_remaining", "masks", "weights"}``: ``thresholds`` maps each weight name to its
    magnitude cut-off (kept weights have |w| >= it, pruned ones |w| <= it; 0.0 if nothing is
    pruned; under "global" every layer shares one), ``threshold`` is the first layer's (the one the
    histogram shows), ``fraction_remaining`` maps each weight name and "all" to the fraction kept,
    ``masks`` are the masks (name -> 0/1 tensor of the weight's shape) and ``weights`` the trained
    weights they apply to (name -> tensor, not copied).
    """
    import torch

    from . import masks as masks_
    from . import pruning

    dense = masks_.ones(model)
    m = pruning.to_sparsity(model, dense, sparsity, scope)   # checks sparsity and scope
    weights = {n: model.get_parameter(n).detach() for n in m}
    pruned = {n: weights[n].abs()[m[n] == 0] for n in m}
    thresholds = {n: float(p.max()) if p.numel() else 0.0 for n, p in pruned.items()}
    if scope == "global":
        thresholds = dict.fromkeys(m, max(thresholds.values()))
    report = masks_.sparsity_report(m)

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            params = dict(model.named_parameters())
            dense_logits = model(data.test_x)
            sparse_logits = torch.func.functional_call(
                model, {**params, **{n: weights[n] * m[n] for n in m}}, (data.test_x,))
    finally:
        model.train(was_training)
    acc = lambda logits: (logits.argmax(1) == data.test_y).float().mean().item()  # noqa: E731
    return {"sparsity": float(sparsity), "scope": scope,
            "test_acc": acc(sparse_logits), "dense_acc": acc(dense_logits),
            "threshold": thresholds[next(iter(m))], "thresholds": thresholds,
            "fraction_remaining": {r["layer"]: r["fraction_remaining"] for r in report},
            "masks": m, "weights": weights}


def sparsity_explorer(model: nn.Module, data: Splits, sparsity: float = 0.9,
                      scope: str = "layerwise"):
    """'Try it': a sparsity slider (0–99%) and a layerwise/global toggle for a trained ``model``.

    Shows the pruned network's test accuracy (no retraining), the weights remaining per layer, the
    first layer's weight histogram with the cut-off marked, and the masks of its first 16 units.
    Starts at ``sparsity`` and ``scope`` and draws that figure at once. Returns a VBox;
    ``box.slider`` (percent) and ``box.scope`` are the controls, ``box.state`` the
    :func:`sparsity_state` on display.
    """
    import io

    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import Image

    from .plots import plot_sparsity_state
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
        # As in round_slider: the figure goes into the Output as a PNG (append_display_data), so
        # that executing the notebook with nbclient (jupyter-book, nbval) cannot stall on it.
        box.state = sparsity_state(model, data, slider.value / 100, toggle.value)
        fig = plt.figure(figsize=(11, 6.6))
        plot_sparsity_state(box.state, fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80)   # no bbox_inches="tight": one draw, not two
        plt.close(fig)
        out.outputs = ()
        out.append_display_data(Image(data=buf.getvalue(), format="png"))

    slider.observe(show, names="value")
    toggle.observe(show, names="value")
    show()
    return box


# --- chapter 5: pruning-round slider -------------------------------------------------------------

def round_state(record: dict, round: int, arms=("ticket", "reinit", "random_mask")) -> dict:
    """What the pruning-round slider shows at ``round`` of a lottery study ``record``.

    Returns ``{"round", "fraction_remaining", "label", "curves", "dense", "early_stop", "ylim"}``:
    ``curves`` maps each arm present in that round to ``{"iteration", "mean", "lo", "hi"}``
    (test accuracy over training: mean and min–max over trials, arrays of shape (E,));
    ``dense`` is the same for the unpruned network (round 0); ``early_stop`` maps each arm to its
    mean test accuracy at early stop; ``ylim`` is fixed for the whole record, so that moving the
    slider moves the curves, not the axis.
    """
    from .plots import _acc_ylim, fraction_label, round_curves
    n = len(record["rounds"]) - 1
    if not 0 <= round <= n:
        raise ValueError(f"round must be between 0 and {n} for this record, got {round}")
    entry = record["rounds"][round]
    present = [a for a in arms if a in entry["arms"]]
    curves = {a: round_curves(record, round, a) for a in present}
    every = [round_curves(record, i, a) for i, e in enumerate(record["rounds"])
             for a in arms if a in e["arms"]]
    return {"round": round, "fraction_remaining": entry["fraction_remaining"],
            "label": fraction_label(entry["fraction_remaining"]),
            "curves": curves, "dense": round_curves(record, 0, "ticket"),
            "early_stop": {a: sum(m["early_stop_test_acc"] for m in entry["arms"][a])
                           / len(entry["arms"][a]) for a in present},
            "ylim": _acc_ylim(every)}


def round_slider(record: dict, value: int | None = None,
                 arms=("ticket", "reinit", "random_mask")):
    """'Try it': a slider over the pruning rounds of ``record``, labelled by weights remaining.

    Shows the ticket's and the controls' test-accuracy curves at the chosen round, with the dense
    network's for reference. Starts at ``value`` (default: the sparsest round) and draws that
    figure at once. Returns a VBox; ``box.slider`` is the slider and ``box.state`` the
    :func:`round_state` on display.
    """
    import io

    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import Image

    from .plots import fraction_label, plot_round_state
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
        # The figure goes into the Output widget as a PNG (append_display_data), not through
        # `with out:` / interactive_output: when a notebook is executed by nbclient (jupyter-book,
        # nbconvert), output captured by an Output widget during a cell makes nbclient write the
        # widget state back on the shell channel, which can stall the cell until its timeout.
        box.state = round_state(record, slider.value, arms)
        fig, ax = plt.subplots(figsize=(6.5, 3.9))
        plot_round_state(box.state, ax)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
        plt.close(fig)
        out.outputs = ()
        out.append_display_data(Image(data=buf.getvalue(), format="png"))

    slider.observe(show, names="value")
    show()
    return box
