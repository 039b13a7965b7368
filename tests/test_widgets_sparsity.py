"""Chapter 2's sparsity slider (pruning.sparsity_state, widgets.sparsity_explorer) and the
chapter 1-2 figure helpers, on a small LeNet really trained on MNIST (no browser needed)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lth_utils import data, masks, models, plots, pruning, training, widgets  # noqa: E402


@pytest.fixture(scope="module")
def trained():
    """LeNet-300-100 after 200 iterations on 5,000 MNIST images (test set cut to 2,000 images)."""
    d = data.load("mnist", train_subset=5000)
    d.val_x, d.val_y = d.val_x[:500], d.val_y[:500]
    d.test_x, d.test_y = d.test_x[:2000], d.test_y[:2000]
    init = models.build("lenet", seed=0)
    model = models.build("lenet", seed=0)
    training.train(model, d, training.TrainConfig(iterations=200, eval_every=200), progress=False)
    return init, model, d


@torch.no_grad()
def accuracy(model, d):
    return (model(d.test_x).argmax(1) == d.test_y).float().mean().item()


def test_state_at_90_percent_keeps_10_percent_and_the_threshold_separates(trained):
    _, model, d = trained
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for scope in ("layerwise", "global"):
        s = pruning.sparsity_state(model, d, 0.9, scope)
        assert s["sparsity"] == 0.9 and s["scope"] == scope
        assert s["fraction_remaining"]["all"] == pytest.approx(0.1, abs=1e-4)
        assert masks.fraction_remaining(s["masks"]) == pytest.approx(0.1, abs=1e-4)
        for name, m in s["masks"].items():
            w = model.get_parameter(name).detach().abs()
            t = s["thresholds"][name]
            assert w[m == 1].min() >= t >= w[m == 0].max(), (scope, name)
        assert s["threshold"] == s["thresholds"]["fc1.weight"] > 0
        assert 0.0 <= s["test_acc"] <= s["dense_acc"] + 0.05
    for n, p in model.named_parameters():   # the trained model is not changed
        assert torch.equal(p.detach(), before[n])
    assert len(set(s["thresholds"].values())) == 1   # global: one cut-off for every layer


def test_state_at_zero_is_the_dense_model(trained):
    _, model, d = trained
    s = pruning.sparsity_state(model, d, 0.0)
    assert s["test_acc"] == pytest.approx(accuracy(model, d), abs=1e-6) == s["dense_acc"]
    assert s["test_acc"] > 0.8          # 200 iterations already learn MNIST reasonably
    assert all(v == 1.0 for v in s["fraction_remaining"].values())
    assert all(t == 0.0 for t in s["thresholds"].values())


def test_global_spares_the_small_layers_and_layerwise_does_not(trained):
    _, model, d = trained
    lw = pruning.sparsity_state(model, d, 0.95, "layerwise")["fraction_remaining"]
    gl = pruning.sparsity_state(model, d, 0.95, "global")["fraction_remaining"]
    assert all(lw[n] == pytest.approx(0.05, abs=1e-3) for n in masks.ones(model))
    assert gl["fc1.weight"] < 0.05 < gl["fc2.weight"] < gl["fc3.weight"]
    assert gl["all"] == pytest.approx(lw["all"], abs=1e-4)


def test_state_rejects_bad_arguments(trained):
    _, model, d = trained
    with pytest.raises(ValueError, match="sparsity must be in"):
        pruning.sparsity_state(model, d, 1.0)
    with pytest.raises(ValueError, match="scope must be"):
        pruning.sparsity_state(model, d, 0.5, "per-neuron")


def test_panel_redraws_when_slider_or_toggle_moves(trained, monkeypatch):
    monkeypatch.setenv("LTH_PROGRESS", "1")         # a person is watching: Jupyter, Colab
    _, model, d = trained
    box = widgets.sparsity_explorer(model, d, sparsity=0.5)
    controls, out = box.children
    assert not box.slider.disabled and not box.scope.disabled
    assert box.slider in controls.children and box.scope in controls.children
    assert box.slider.value == 50 and box.scope.value == "layerwise"
    assert box.state["sparsity"] == 0.5 and len(out.outputs) == 1   # drawn at once (static page)
    box.slider.value = 90
    assert box.state["sparsity"] == 0.9 and box.state["scope"] == "layerwise"
    assert box.state["fraction_remaining"]["fc3.weight"] == pytest.approx(0.1, abs=1e-3)
    box.scope.value = "global"
    assert box.state["scope"] == "global" and box.state["sparsity"] == 0.9
    assert box.state["fraction_remaining"]["fc3.weight"] > 0.2
    assert len(out.outputs) == 1 and "image/png" in out.outputs[0]["data"]
    plt.close("all")


def test_panel_on_a_built_page_is_fixed_and_says_where_to_move_it(trained, monkeypatch):
    monkeypatch.setenv("LTH_PROGRESS", "0")         # make book: no kernel behind the page
    _, model, d = trained
    box = widgets.sparsity_explorer(model, d, sparsity=0.5)
    controls, out, note = box.children
    assert box.slider.disabled and box.scope.disabled
    assert "Colab" in note.value and len(out.outputs) == 1   # the figure is still drawn
    plt.close("all")


def test_chapter_figures_have_titles_and_labels(trained):
    init, model, d = trained
    states = [pruning.sparsity_state(model, d, s, "global") for s in (0.5, 0.9)]
    sweep = {"layerwise": [0.9, 0.8, 0.3], "random": [[0.9, 0.5, 0.1], [0.9, 0.4, 0.1]]}
    figures = [plots.plot_parameter_counts(models.count_parameters(model)).figure,
               plots.plot_weight_histograms(init, model),
               plots.plot_sparsity_sweep([0, 0.5, 0.9], sweep, 0.9).figure,
               plots.plot_layer_sensitivity([0, 0.5], {"fc1.weight": [0.9, 0.9]}, 0.9).figure,
               plots.plot_global_allocation([1, 0.5], {"fc1.weight": [1, 0.45]}).figure,
               plots.plot_sparsity_state(states[1]), plots.plot_sparsity_grid(states)]
    for fig in figures:
        titled = [ax for ax in fig.axes if ax.get_title()]
        assert titled or fig._suptitle is not None
        for ax in fig.axes:
            if ax.get_xlabel() or ax.get_ylabel():
                assert ax.get_title() or fig._suptitle is not None
    plt.close("all")
