"""Unit tests of lth_utils.supermasks: criteria, kept-weight variants, frozen pruned weights,
untrained supermasks and edge-popup, on tiny tensors and a tiny network."""
from __future__ import annotations

import math

import numpy as np

import pytest
import torch
from torch import nn

from lth_utils import masks, models, supermasks as sm
from lth_utils.data import Splits
from lth_utils.training import TrainConfig


def _tiny() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def _data(n: int = 60) -> Splits:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, 2, 2, generator=g)
    y = (x.flatten(1)[:, 0] > 0).long() + (x.flatten(1)[:, 1] > 0).long()
    return Splits("toy", ("a", "b", "c"), x, y, x[:20], y[:20], x[20:], y[20:])


def test_criterion_scores_known_values():
    w0 = torch.tensor([1.0, -2.0, 0.5, -0.1])
    wT = torch.tensor([3.0, 1.0, -0.2, -0.4])
    assert torch.equal(sm.criterion_scores("large_final", w0, wT), wT.abs())
    assert torch.equal(sm.criterion_scores("large_init", w0, wT), w0.abs())
    assert torch.allclose(sm.criterion_scores("magnitude_increase", w0, wT),
                          torch.tensor([2.0, -1.0, -0.3, 0.3]))
    assert torch.allclose(sm.criterion_scores("movement", w0, wT),
                          torch.tensor([2.0, 3.0, 0.7, 0.3]))
    same = sm.criterion_scores("large_final_same_sign", w0, wT)
    # the two weights that kept their sign (0 and 3) rank above the two that flipped
    assert same.argsort(descending=True)[:2].tolist() == [0, 3]


def test_criterion_errors():
    w = torch.zeros(3)
    with pytest.raises(ValueError, match="choose one of"):
        sm.criterion_scores("smallest", w, w)
    with pytest.raises(ValueError, match="Generator"):
        sm.criterion_scores("random", w, w)


def test_top_mask_exact_count_and_ties():
    m = sm.top_mask(torch.tensor([[1.0, 1.0], [1.0, 0.0]]), 0.5)
    assert m.tolist() == [[1.0, 1.0], [0.0, 0.0]]       # ties go to the earlier position
    assert sm.top_mask(torch.rand(10, 10), 0.07).sum() == 7
    with pytest.raises(ValueError, match="keep"):
        sm.top_mask(torch.rand(4), 0.0)


def test_layer_fractions_and_per_layer_counts():
    model = models.build("lenet", 0)
    names = masks.prunable(model)
    fr = sm.layer_fractions(names, 0.2)
    assert fr["fc1.weight"] == 0.2 and fr["fc2.weight"] == 0.2
    # the output layer keeps what 0.9^r leaves when the hidden layers keep 0.8^r
    r = math.log(0.2) / math.log(0.8)
    assert fr["fc3.weight"] == pytest.approx(0.9 ** r)
    w0 = _weights(model)
    wT = {n: t + 0.01 * torch.randn(t.shape, generator=torch.Generator().manual_seed(1))
          for n, t in w0.items()}
    for c in sm.CRITERIA:
        ms = sm.criterion_masks(c, w0, wT, names, 0.2, torch.Generator().manual_seed(0))
        for n in names:
            assert int(ms[n].sum()) == round(fr[n] * ms[n].numel()), (c, n)


def test_criterion_masks_deterministic_and_differ():
    model = models.build("lenet", 0)
    names = masks.prunable(model)
    w0, wT = _weights(model), _weights(models.build("lenet", 1))
    a = sm.criterion_masks("random", w0, wT, names, 0.1, torch.Generator().manual_seed(3))
    b = sm.criterion_masks("random", w0, wT, names, 0.1, torch.Generator().manual_seed(3))
    assert all(torch.equal(a[n], b[n]) for n in names)
    lf = sm.criterion_masks("large_final", w0, wT, names, 0.1)
    li = sm.criterion_masks("large_init", w0, wT, names, 0.1)
    assert not torch.equal(lf["fc1.weight"], li["fc1.weight"])


def test_kept_weight_variants():
    model = _tiny()
    w0 = _weights(model)
    ms = {n: (torch.rand(w0[n].shape, generator=torch.Generator().manual_seed(0)) > 0.5)
          .float() for n in masks.prunable(model)}
    for v in sm.VARIANTS:
        w = sm.kept_weights(v, w0, ms, torch.Generator().manual_seed(0))
        for n, m in ms.items():
            keep = m.bool()
            assert torch.equal(w[n][~keep], w0[n][~keep])          # pruned entries untouched
            if v == "theta0":
                assert torch.equal(w[n], w0[n])
            if v == "reshuffle":                                   # same values, other places
                assert torch.equal(w[n][keep].sort().values, w0[n][keep].sort().values)
            if v == "constant_sign":
                assert torch.allclose(w[n][keep].abs(), w0[n].std().expand(int(keep.sum())))
                assert torch.equal(torch.sign(w[n][keep]), torch.sign(w0[n][keep]))
            if v == "random_sign":
                assert torch.equal(w[n][keep].abs(), w0[n][keep].abs())
        assert torch.equal(w["1.bias"], w0["1.bias"])
    flips = sm.kept_weights("random_sign", w0, ms, torch.Generator().manual_seed(0))
    assert not torch.equal(flips["1.weight"], w0["1.weight"])
    with pytest.raises(ValueError, match="choose one of"):
        sm.kept_weights("shuffle", w0, ms, torch.Generator())


def test_frozen_pruned_keeps_initial_values():
    model = _tiny()
    w0 = _weights(model)
    ms = {n: (w0[n].abs() > w0[n].abs().median()).float() for n in masks.prunable(model)}
    data = _data()
    cfg = TrainConfig(iterations=20, batch_size=10, eval_every=10, lr=0.05)
    sm.train_frozen(model, ms, w0, data, cfg)
    assert all(torch.equal(p, w0[n]) for n, p in model.named_parameters())  # not changed
    # rerun by hand to read the trained effective weights
    import copy

    from torch.nn.utils import parametrize
    net = copy.deepcopy(model)
    layer = net[1]
    parametrize.register_parametrization(layer, "weight",
                                         sm.FrozenPruned(ms["1.weight"], w0["1.weight"]))
    with torch.no_grad():
        layer.parametrizations.weight.original.add_(1.0)          # move every raw weight
    pruned = ms["1.weight"] == 0
    assert torch.equal(layer.weight[pruned], w0["1.weight"][pruned])
    assert torch.allclose(layer.weight[~pruned], w0["1.weight"][~pruned] + 1.0)


def test_untrained_accuracy_matches_masked_model():
    model = _tiny()
    w0 = _weights(model)
    data = _data()
    ms = {n: torch.ones_like(w0[n]) for n in masks.prunable(model)}
    acc = sm.untrained_accuracy(model, [w0, w0], [ms, ms], data.test_x, data.test_y)
    with torch.no_grad():
        ref = (model(data.test_x).argmax(1) == data.test_y).float().mean()
    assert acc.shape == (2,) and torch.allclose(acc, ref.expand(2))
    with pytest.raises(ValueError, match="one weight set per mask set"):
        sm.untrained_accuracy(model, [w0], [ms, ms], data.test_x, data.test_y)


def test_edge_popup_shapes_counts_and_determinism():
    model = _tiny()
    w0 = _weights(model)
    data = _data()
    cfg = TrainConfig(iterations=30, batch_size=10, eval_every=10)
    a = sm.edge_popup(model, w0, [0.5, 0.25], data, cfg, seed=0)
    b = sm.edge_popup(model, w0, [0.5, 0.25], data, cfg, seed=0)
    assert a["iteration"] == [0, 10, 20, 30]
    assert a["test_acc"].shape == (2, 4) and torch.equal(a["test_acc"], b["test_acc"])
    assert a["masks"]["1.weight"].shape == (2, 6, 4)
    assert int(a["masks"]["1.weight"][0].sum()) == 12 and int(a["masks"]["1.weight"][1].sum()) == 6
    assert all(torch.equal(a["masks"][n], b["masks"][n]) for n in a["masks"])
    # the weights themselves are never trained
    assert all(torch.equal(p, w0[n]) for n, p in model.named_parameters())


def test_study_config_profiles():
    q, s = sm.study_config("quick"), sm.study_config("standard")
    assert q.iterations < s.iterations and len(q.keeps) <= len(s.keeps)
    assert q.variant_keep in q.keeps and s.variant_keep in s.keeps
    assert q.to_dict()["keeps"] == list(q.keeps)


def test_run_study_tiny_real_record_and_cache(tmp_path, mnist_small):
    cfg = sm.SupermaskConfig(profile="test", iterations=20, eval_every=10, keeps=(0.2, 0.05),
                             variant_keep=0.05, popup_keeps=(0.3,), popup_iterations=20)
    path = tmp_path / "r.json"
    rec = sm.run_study(cfg, path, data=mnist_small)
    t = rec["trials"][0]
    assert rec["complete"] and rec["config"] == cfg.to_dict() and path.exists()
    assert set(t["criteria"]) == set(sm.CRITERIA[:5])
    assert all(len(v) == 2 for v in t["criteria"].values())
    assert set(t["variants"]) == set(sm.VARIANTS) and set(t["pruned"]) == {"zero", "frozen"}
    # the ticket arm of the variants is the large-final criterion at the same keep
    assert t["variants"]["theta0"] == t["criteria"]["large_final"][1]
    assert t["fraction_remaining"][0] > t["fraction_remaining"][1]
    assert len(t["popup"]["test_acc"]) == 1 and t["popup"]["iteration"] == [0, 10, 20]
    assert all(0.0 <= a <= 1.0 for a in t["untrained"]["large_final_same_sign"])
    assert "record supermasks-lenet-mnist" in sm.provenance(rec)
    # every trained arm's early stop is stored and read by the late-stop rule (> 0.9 T)
    stops = sm.early_stops(rec)
    assert stops["large_final"] == [t["criteria_stop"]["large_final"]]
    assert stops["reinit"][0] in (0, 10, 20) and t["variants_stop"]["theta0"] == \
        t["criteria_stop"]["large_final"][1]
    late = sm.late_stops(rec)
    n_late = sum(i > 18 for v in stops.values() for i in np.ravel(v))
    assert late["late"] == n_late and late["total"] == 5 * 2 + 4 + 3
    assert late["flags"]["random"].shape == (1, 2)
    assert len(sm.popup_gain(rec)) == 1
    assert sm.run_study(cfg, path, data=mnist_small) == rec          # read from the cache


def test_late_stops_and_popup_gain_read_a_record():
    trial = {"dense_stop": 100, "criteria_stop": {"large_final": [950, 400]},
             "variants_stop": {v: 901 if v == "reinit" else 10 for v in sm.VARIANTS},
             "pruned_stop": {"zero": 900, "frozen": 1000},
             "popup": {"iteration": [0, 800, 900, 1000],
                       "test_acc": [[0.1, 0.5, 0.6, 0.65]]}}
    rec = {"config": {"iterations": 1000, "popup_keeps": [0.5]}, "trials": [trial]}
    late = sm.late_stops(rec)
    # 900 is not after 0.9 T; 901, 950 and 1000 are
    assert late["by_arm"]["large_final"] == (1, 2) and late["by_arm"]["reinit"] == (1, 1)
    assert late["by_arm"]["zero"] == (0, 1) and late["by_arm"]["frozen"] == (1, 1)
    assert late["late"] == 3 and late["threshold"] == 900
    assert late["flags"]["large_final"].tolist() == [[True, False]]
    assert sm.popup_gain(rec) == [pytest.approx(0.05)]     # 0.65 at T against 0.6 at 0.9 T
    del trial["criteria_stop"]                             # a record from before the stops
    assert sm.late_stops(rec) is None and sm.early_stops(rec) is None


def test_supermask_state_and_explorer(mnist_small):
    import matplotlib
    matplotlib.use("Agg")
    from lth_utils import widgets
    model = models.build("lenet", 0)
    w0 = _weights(model)
    wT = _weights(models.build("lenet", 1))
    st = sm.supermask_state(model, w0, wT, mnist_small, "large_final", 0.1)
    assert st["pixel_map"].shape == (28, 28) and 0 <= st["untrained_acc"] <= 1
    assert abs(float(st["pixel_map"].mean()) - 0.1) < 1e-6      # 10% of fc1 kept on average
    box = widgets.supermask_explorer(model, w0, wT, mnist_small, keep=0.1)
    assert box.state["criterion"] == "large_final"
    box.criterion.value = "random"
    assert box.state["criterion"] == "random"


def test_killed_study_resumes_at_the_next_trial(tmp_path, mnist_small, monkeypatch):
    cfg = sm.SupermaskConfig(profile="test", trials=2, iterations=20, eval_every=10,
                             keeps=(0.2, 0.05), variant_keep=0.05, popup_keeps=(0.3,),
                             popup_iterations=20)
    path, real, ran = tmp_path / "r.json", sm._trial, []

    def killed_in_trial_1(seed, *args):
        if seed == 1:
            raise KeyboardInterrupt("killed")
        ran.append(seed)
        return real(seed, *args)

    monkeypatch.setattr(sm, "_trial", killed_in_trial_1)
    with pytest.raises(KeyboardInterrupt):
        sm.run_study(cfg, path, data=mnist_small)
    assert not path.exists() and path.with_suffix(".ckpt.pt").exists()
    monkeypatch.setattr(sm, "_trial", lambda seed, *a: ran.append(seed) or real(seed, *a))
    rec = sm.run_study(cfg, path, data=mnist_small)
    assert ran == [0, 1] and len(rec["trials"]) == 2 and rec["complete"]
    assert not path.with_suffix(".ckpt.pt").exists()


def test_split_by_trials_merges_into_one_run_and_a_truncated_checkpoint_is_moved_aside(
        tmp_path, mnist_small, monkeypatch):
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path))
    cfg = sm.SupermaskConfig(profile="test", trials=2, iterations=20, eval_every=10,
                             keeps=(0.2, 0.05), variant_keep=0.05, popup_keeps=(0.3,),
                             popup_iterations=20)
    part1 = sm.run_study(cfg, data=mnist_small, trials=[1])
    assert sm.held_trials(part1) == [1]
    assert (tmp_path / "supermasks-lenet-mnist-test.trials-1-1.json").exists()
    whole_path = tmp_path / "whole.json"
    whole_path.with_suffix(".ckpt.pt").write_bytes(b"PK\x03\x04trunc")     # truncated
    whole = sm.run_study(cfg, whole_path, data=mnist_small)
    assert (tmp_path / "whole.ckpt.pt.corrupt").exists()
    part0 = sm.run_study(cfg, data=mnist_small, trials=[0])
    merged = sm.merge([part1, part0])
    assert merged["trials"] == whole["trials"] and merged["config"] == whole["config"]
    with pytest.raises(ValueError, match="missing"):
        sm.merge([part1])


def test_a_study_without_trials_is_refused():
    from lth_utils.supermasks import SupermaskConfig
    with pytest.raises(ValueError, match="trials must be a whole number >= 1, got 0"):
        SupermaskConfig(trials=0)


def test_draw_state_shares_one_colour_scale():
    """Chapter 9's six pixel maps: a common ``vmax`` puts every map on one colour scale (0 to
    vmax), and the image is returned for a colour bar; without one, each map keeps its own."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    states = [{"criterion": "large_final", "untrained_acc": 0.5,
               "pixel_map": torch.linspace(0, top, 784).reshape(28, 28)} for top in (0.1, 0.4)]
    fig, axes = plt.subplots(1, 2)
    images = [sm.draw_state(st, ax, vmax=0.4) for st, ax in zip(states, axes)]
    assert [im.get_clim() for im in images] == [(0, 0.4), (0, 0.4)]
    assert fig.colorbar(images[0], ax=axes).vmax == pytest.approx(0.4)
    own = sm.draw_state(states[0], axes[0])                  # the widget's default
    assert own.get_clim() == pytest.approx((0, 0.1))
    with pytest.raises(ValueError, match="vmax must be positive"):
        sm.draw_state(states[0], axes[0], vmax=0)
    plt.close(fig)
