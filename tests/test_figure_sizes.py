"""Every figure of the book fits the ~690 px column with readable text.

The rule (lth_utils/plots.py): at most 7.5 in wide at 100 dpi, including whatever is drawn outside
the axes (the saved image uses bbox_inches="tight"), and no text under 8 pt.
"""
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from lth_utils import finetune_plots, lottery_plots, models, plots, pruning, records  # noqa: E402
from test_records import LATE  # noqa: E402  (a synthetic record with late early stops)


def readable(fig) -> None:
    """Assert ``fig``, as saved with bbox_inches="tight", is ≤ 7.5 in wide with text ≥ 8 pt."""
    fig.canvas.draw()
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    assert fig.get_figwidth() <= plots.MAX_WIDTH
    assert box.width <= plots.MAX_WIDTH + 0.1, f"saved image {box.width:.2f} in wide"
    small = [(t.get_text(), t.get_fontsize()) for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip() and t.get_fontsize() < plots.MIN_FONT]
    assert not small, f"text under {plots.MIN_FONT} pt: {small[:5]}"


@pytest.fixture(scope="module")
def lenet():
    """An untrained LeNet, a slightly changed copy, and 64 random 'test images'."""
    before, after = models.build("lenet", seed=0), models.build("lenet", seed=1)
    g = torch.Generator().manual_seed(0)
    data = SimpleNamespace(test_x=torch.randn(64, 784, generator=g),
                           test_y=torch.randint(0, 10, (64,), generator=g))
    return before, after, data


def chapter_1_2(lenet):
    before, after, data = lenet
    states = [pruning.sparsity_state(after, data, s, scope)
              for s, scope in ((0.5, "layerwise"), (0.9, "layerwise"), (0.98, "global"))]
    sweep = {"layerwise": [0.9, 0.8, 0.3], "global": [0.9, 0.85, 0.5],
             "random": [[0.9, 0.5, 0.1], [0.9, 0.4, 0.1]]}
    return {
        "parameter_counts": plots.plot_parameter_counts(models.count_parameters(after)).figure,
        "weight_histograms": plots.plot_weight_histograms(before, after),
        "first_layer_images": plots.first_layer_images(after.fc1.weight, title="fc1"),
        "sparsity_sweep": plots.plot_sparsity_sweep([0, 0.5, 0.99], sweep, 0.9).figure,
        "layer_sensitivity": plots.plot_layer_sensitivity(
            [0, 0.5, 0.9], {f"fc{i}.weight": [0.9, 0.8, 0.5] for i in (1, 2, 3)}, 0.9).figure,
        "global_allocation": plots.plot_global_allocation(
            [1, 0.5, 0.1], {f"fc{i}.weight": [1, 0.5, 0.1] for i in (1, 2, 3)}).figure,
        "sparsity_state": plots.plot_sparsity_state(states[1]),
        "sparsity_grid": plots.plot_sparsity_grid(states),
    }


def chapter_3_4():
    curves = {"fine-tuned": ([0.6, 0.36, 0.2], [0.98, 0.979, 0.975]),
              "no retraining": ([0.6, 0.36, 0.2], [0.97, 0.95, 0.90])}
    labels = ["Adam, zeroed once", "SGD+momentum, zeroed once", "Adam, gradients masked",
              "SGD+momentum, gradients masked", "fix: Adam, gradients + weights masked",
              "fix: SGD+momentum, gradients + weights masked"]   # chapter 4's six runs
    runs = {k: {"step": [0, 1, 10, 100], "nonzero": [0, 5, 50, 90],
                "mean_abs": [0, 1e-5, 1e-4, 1e-3]} for k in labels}
    return {
        "accuracy_vs_remaining": finetune_plots.plot_accuracy_vs_remaining(
            curves, 0.978, tolerance=0.002, reference=(0.08, "Han et al. 2015: 8% left")),
        "pruned_weight_drift": finetune_plots.plot_pruned_weight_drift(runs, 100),
        "storage": finetune_plots.plot_storage(
            [1.0, 0.1], {"dense weight": [4e6, 4e6], "CSR, int64 indices (PyTorch)": [12e6, 1e6]}),
    }


def chapter_5_6():
    figs = {
        "accuracy_curves": lottery_plots.plot_accuracy_curves(LATE, arms=("ticket", "reinit")),
        "early_stop_iteration": lottery_plots.plot_early_stop(LATE, "early_stop_iteration").figure,
        "early_stop_test_acc": lottery_plots.plot_early_stop(LATE).figure,
        "round_state": lottery_plots.plot_round_state(records.round_state(LATE, 2)).figure,
        "rounds_grid": lottery_plots.plot_rounds_grid(LATE),
        "oneshot_vs_iterative": lottery_plots.plot_oneshot_vs_iterative(LATE),
        "cost": lottery_plots.plot_cost(LATE).figure,
    }
    for fig in figs.values():            # the chapters put the provenance line under each
        plots.add_provenance(fig, LATE)
    # chapter 7's Figure 5 of three networks, one provenance per record
    figs["networks"] = lottery_plots.plot_networks({"Conv-2": LATE, "Conv-4": LATE,
                                                    "Conv-6": LATE})
    plots.add_provenance(figs["networks"], [LATE, LATE, LATE])
    return figs


def test_chapter_1_2_figures_fit_the_column(lenet):
    for name, fig in chapter_1_2(lenet).items():
        try:
            readable(fig)
        except AssertionError as err:
            raise AssertionError(f"{name}: {err}") from None
    plt.close("all")


@pytest.mark.parametrize("group", [chapter_3_4, chapter_5_6])
def test_chapter_3_to_6_figures_fit_the_column(group):
    for name, fig in group().items():
        try:
            readable(fig)
        except AssertionError as err:
            raise AssertionError(f"{name}: {err}") from None
    plt.close("all")


def test_provenance_breaks_into_lines_that_fit():
    fig = plt.figure(figsize=(4, 3))
    plots.add_provenance(fig, LATE)
    (text,) = fig.texts
    assert "\n" in text.get_text() and text.get_fontsize() >= plots.MIN_FONT
    assert text.get_text().replace("\n", " · ") == records.provenance(LATE)
    readable(fig)
    plt.close(fig)
    fig = plt.figure(figsize=(4, 3))
    plots.add_provenance(fig, [LATE, LATE])            # several records: each in turn
    (text,) = fig.texts
    assert text.get_text().replace("\n", " · ") == " · ".join([records.provenance(LATE)] * 2)
    plt.close(fig)


@pytest.mark.parametrize("pruned_acc", [0.11, 0.98])
def test_sparsity_state_chance_label_clear_of_the_bars(lenet, pruned_acc):
    """Chapter 2's slider figure: the 'chance' label beside the chance line overlaps no bar,
    whatever the pruned network scores."""
    before, after, data = lenet
    state = dict(pruning.sparsity_state(after, data, 0.9), test_acc=pruned_acc)
    fig = plots.plot_sparsity_state(state)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    (label,) = [t for t in ax.texts if t.get_text() == "chance"]
    box = label.get_window_extent(renderer)
    assert ax.patches and not any(p.get_window_extent(renderer).overlaps(box)
                                  for p in ax.patches)
    plt.close(fig)


@pytest.mark.parametrize("draw", [
    lambda: lottery_plots.plot_networks({"Conv-2": LATE, "Conv-4": LATE, "Conv-6": LATE}),
    lambda: lottery_plots.plot_rounds_grid(LATE, rounds=[1, 3])])
def test_a_figure_legend_sits_just_under_the_panels(draw):
    """Chapters 5 and 7's small multiples: their shared legend fits the width and leaves no
    band of empty page between the panels' x labels and itself (chapter 7's figure of three
    networks had 0.4 in)."""
    fig = draw()
    readable(fig)
    renderer = fig.canvas.get_renderer()
    legend = fig.legends[0].get_window_extent(renderer)
    lowest = min(ax.get_tightbbox(renderer).y0 for ax in fig.axes if ax.axison)
    assert 0 <= (lowest - legend.y1) / fig.dpi < 0.25
    plt.close(fig)


def test_rounds_grid_with_its_legend_in_the_spare_cell_fits():
    """An odd number of rounds (chapter 5's standard record: three): the legend fills the
    empty cell of the grid, and the figure still fits the column."""
    fig = lottery_plots.plot_rounds_grid(LATE, rounds=[1, 2, 3])
    plots.add_provenance(fig, LATE)
    assert not fig.axes[3].axison and fig.axes[3].get_legend() is not None
    readable(fig)
    plt.close(fig)


def test_first_layer_images_on_one_colour_scale(lenet):
    """Chapter 1's rows of fc1 images (initial, trained, change): one ``lim`` puts every row
    on the same scale, from -lim to lim; a figure of its own gets a labelled colour bar and
    still fits the column. Without ``lim`` each call keeps its own largest |value|."""
    before, after, _ = lenet
    fig, axes = plt.subplots(2, 8, figsize=(7.5, 2.4))
    for row, w in zip(axes, (before.fc1.weight, 3 * after.fc1.weight)):
        plots.first_layer_images(w, n=8, ax_grid=row, lim=0.2)
    assert {ax.images[0].get_clim() for ax in axes.flat} == {(-0.2, 0.2)}
    bar = plots.weight_colorbar(fig, axes, 0.2, label="weight, or its change", extend="both")
    assert bar.ax.get_ylabel() == "weight, or its change"
    readable(fig)
    plt.close(fig)
    fig = plots.first_layer_images(after.fc1.weight, title="fc1")     # its own figure
    lim = float(after.fc1.weight.detach()[:16].abs().max())
    assert fig.axes[0].images[0].get_clim() == pytest.approx((-lim, lim))
    assert [ax.get_ylabel() for ax in fig.axes].count("weight value") == 1   # the bar
    readable(fig)
    plt.close(fig)
    with pytest.raises(ValueError, match="lim must be positive"):
        plots.first_layer_images(after.fc1.weight, n=8, ax_grid=axes[0], lim=0)
