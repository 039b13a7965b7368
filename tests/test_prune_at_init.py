"""Tests of lth_utils/prune_at_init.py: every score and mask operation on tiny networks."""
import json
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lth_utils import masks as masks_mod
from lth_utils import models
from lth_utils import prune_at_init as pai


def tiny(seed: int = 0) -> nn.Sequential:
    """A 4-3-2 ReLU network with known random weights."""
    torch.manual_seed(seed)
    return nn.Sequential(OrderedDict([("fc1", nn.Linear(4, 3)), ("relu", nn.ReLU()),
                                      ("fc2", nn.Linear(3, 2))]))


def tiny_data(n: int = 8):
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 4, generator=g), torch.randint(0, 2, (n,), generator=g)


@pytest.fixture(scope="module")
def lenet():
    g = torch.Generator().manual_seed(0)
    return models.build("lenet", 0), torch.randn(32, 1, 28, 28, generator=g), \
        torch.randint(0, 10, (32,), generator=g)


# ----------------------------------------------------------------------------- scores

def test_magnitude_scores_are_abs_weights():
    net = tiny()
    s = pai.magnitude_scores(net)
    assert set(s) == {"fc1.weight", "fc2.weight"}
    assert torch.equal(s["fc1.weight"], net.fc1.weight.detach().abs())


def test_snip_matches_a_hand_computed_gradient():
    net, (x, y) = tiny(), tiny_data()
    s = pai.snip_scores(net, x, y)
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    for name, p in net.named_parameters():
        if name.endswith("weight"):
            assert s[name].shape == p.shape
            assert torch.allclose(s[name], (p.grad * p).abs().detach(), atol=1e-7)
    assert all(p.grad is not None for p in net.parameters())   # our call did not touch them


def test_snip_respects_masks():
    net, (x, y) = tiny(), tiny_data()
    m = masks_mod.ones(net)
    m["fc1.weight"][0] = 0
    s = pai.snip_scores(net, x, y, m)
    assert torch.all(s["fc1.weight"][0] == 0)


def test_grasp_is_weight_times_hessian_gradient_product():
    net, (x, y) = tiny(), tiny_data()
    s = pai.grasp_scores(net, x, y, temperature=1.0)
    params = list(net.parameters())
    weights = [net.fc1.weight, net.fc2.weight]
    loss = F.cross_entropy(net(x), y)
    g = torch.autograd.grad(loss, weights, create_graph=True)
    flat_g = torch.cat([t.reshape(-1) for t in g])
    # the full Hessian of the loss in the two weights, row by row
    rows = [torch.cat([t.reshape(-1) for t in torch.autograd.grad(gi, weights,
                                                                  retain_graph=True)])
            for gi in flat_g]
    hg = torch.stack(rows) @ flat_g.detach()
    expected = torch.cat([w.reshape(-1) for w in weights]).detach() * hg
    got = torch.cat([s["fc1.weight"].reshape(-1), s["fc2.weight"].reshape(-1)])
    assert torch.allclose(got, expected, atol=1e-6)
    assert len(params) == 4 and (got < 0).any() and (got > 0).any()   # signed


def test_synflow_known_value_on_a_chain():
    """Two 1x1 layers w1, w2: R = |w1||w2|, so both scores are |w1 w2|."""
    net = nn.Sequential(OrderedDict([("fc1", nn.Linear(1, 1)), ("relu", nn.ReLU()),
                                     ("fc2", nn.Linear(1, 1))]))
    with torch.no_grad():
        net.fc1.weight.fill_(-2.0), net.fc2.weight.fill_(3.0)
        net.fc1.bias.zero_(), net.fc2.bias.zero_()
    s = pai.synflow_scores(net)
    assert s["fc1.weight"].item() == pytest.approx(6.0)
    assert s["fc2.weight"].item() == pytest.approx(6.0)


def test_synflow_conserves_flow_per_layer(lenet):
    """Tanaka et al.'s conservation law: with zero biases every layer's scores sum to R."""
    model = lenet[0]
    s = pai.synflow_scores(model)
    sums = [v.double().sum().item() for v in s.values()]
    assert sums[0] == pytest.approx(sums[1], rel=1e-4) == pytest.approx(sums[2], rel=1e-4)


def test_synflow_needs_an_input_shape_for_conv():
    with pytest.raises(ValueError, match="input_shape"):
        pai.synflow_scores(models.conv_net("conv2"))


def test_scores_are_deterministic(lenet):
    model, x, y = lenet
    for fn in (lambda: pai.snip_scores(model, x, y), lambda: pai.grasp_scores(model, x, y),
               lambda: pai.synflow_scores(model)):
        a, b = fn(), fn()
        assert all(torch.equal(a[n], b[n]) for n in a)
    r1 = pai.random_scores(model, torch.Generator().manual_seed(3))
    r2 = pai.random_scores(model, torch.Generator().manual_seed(3))
    assert all(torch.equal(r1[n], r2[n]) and r1[n].shape == r2[n].shape for n in r1)


def test_invert_reverses_the_ranking_even_for_signed_scores():
    s = {"w": torch.tensor([-2.0, -1.0, 1.0, 2.0])}
    inv = pai.invert_scores(s)["w"]
    assert torch.equal(inv.argsort(), s["w"].argsort().flip(0))
    reciprocal = s["w"] / s["w"] ** 2           # the public SynFlow code's invert()
    assert not torch.equal(reciprocal.argsort(), s["w"].argsort().flip(0))


# ----------------------------------------------------------------------------- masks

def test_global_mask_keeps_the_top_scores_across_layers():
    scores = {"a": torch.tensor([[1.0, 5.0]]), "b": torch.tensor([[3.0, 4.0, 2.0]])}
    m = pai.global_mask(scores, 0.6)         # keep 2 of 5
    assert m["a"].tolist() == [[0.0, 1.0]] and m["b"].tolist() == [[0.0, 1.0, 0.0]]
    alive = {"a": torch.tensor([[1.0, 0.0]]), "b": torch.ones(1, 3)}
    m = pai.global_mask(scores, 0.6, alive)  # 5.0 is already pruned
    assert m["a"].tolist() == [[0.0, 0.0]] and m["b"].tolist() == [[1.0, 1.0, 0.0]]
    with pytest.raises(ValueError, match="sparsity"):
        pai.global_mask(scores, 1.0)


@pytest.mark.parametrize("method", pai.METHODS)
def test_prune_at_init_hits_the_sparsity(lenet, method):
    model, x, y = lenet
    m = pai.prune_at_init(method, model, 0.95, x, y, torch.Generator().manual_seed(0),
                          synflow_rounds=5)
    masks_mod.check_fits(model, m)
    total = sum(v.numel() for v in m.values())
    assert abs(sum(int(v.sum()) for v in m.values()) - round(0.05 * total)) <= 3
    assert all(set(v.unique().tolist()) <= {0.0, 1.0} for v in m.values())


def test_prune_at_init_says_what_is_missing(lenet):
    model = lenet[0]
    with pytest.raises(ValueError, match="need data"):
        pai.prune_at_init("snip", model, 0.9)
    with pytest.raises(ValueError, match="Generator"):
        pai.prune_at_init("random", model, 0.9)
    with pytest.raises(ValueError, match="unknown method"):
        pai.prune_at_init("obd", model, 0.9)


def test_synflow_avoids_layer_collapse_where_magnitude_does_not(lenet):
    model = lenet[0]
    mag = pai.prune_at_init("magnitude", model, 0.999)
    syn = pai.synflow(model, 0.999, rounds=20)
    assert pai.collapsed_layers(mag) == ["fc1.weight"] and not pai.connected(mag)
    assert pai.collapsed_layers(syn) == [] and pai.connected(syn)


def test_random_keeps_every_layer_at_the_same_fraction(lenet):
    m = pai.prune_at_init("random", lenet[0], 0.9, generator=torch.Generator().manual_seed(0))
    fr = pai.kept_fractions(m)
    assert all(abs(f - 0.1) < 1e-3 for f in fr.values())


# ----------------------------------------------------------------------------- sanity checks

def test_shuffle_changes_the_mask_and_keeps_every_layer_count(lenet):
    m = pai.prune_at_init("magnitude", lenet[0], 0.9)
    before = {n: v.clone() for n, v in m.items()}
    sh = pai.shuffle_within_layers(m, torch.Generator().manual_seed(0))
    for n in m:
        assert torch.equal(m[n], before[n])                  # input untouched
        assert int(sh[n].sum()) == int(m[n].sum())           # same count per layer
        assert sh[n].shape == m[n].shape
        assert not torch.equal(sh[n], m[n])                  # new positions
    again = pai.shuffle_within_layers(m, torch.Generator().manual_seed(0))
    assert all(torch.equal(sh[n], again[n]) for n in m)      # seeded


def test_connected_and_collapsed_on_a_tiny_network():
    full = {"fc1.weight": torch.ones(3, 4), "fc2.weight": torch.ones(2, 3)}
    assert pai.connected(full) and pai.collapsed_layers(full) == []
    cut = {"fc1.weight": torch.zeros(3, 4), "fc2.weight": torch.ones(2, 3)}
    cut["fc1.weight"][0, 0] = 1                    # unit 0 is reached ...
    cut["fc2.weight"][:, 0] = 0                    # ... but leads nowhere
    assert not pai.connected(cut) and pai.collapsed_layers(cut) == []
    with pytest.raises(ValueError, match="fully connected"):
        pai.connected({"c": torch.ones(2, 2, 3, 3)})


def test_imp_schedule_reaches_each_target_within_the_rate():
    s = pai.imp_schedule((0.98, 0.9), 0.8)
    assert min(abs(v - 0.9) for v in s) < 1e-9 and abs(s[-1] - 0.98) < 1e-9
    densities = [1.0] + [1 - v for v in s]
    assert all(b / a >= 0.2 - 1e-9 for a, b in zip(densities, densities[1:]))
    assert s == sorted(s)


def test_summary_averages_over_trials():
    rec = {"entries": [
        {"method": "snip", "variant": "original", "sparsity": 0.9, "early_stop_test_acc": 0.8},
        {"method": "snip", "variant": "original", "sparsity": 0.9, "early_stop_test_acc": 0.6},
        {"method": "snip", "variant": "original", "sparsity": 0.5, "early_stop_test_acc": 0.9}]}
    s = pai.summary(rec)[("snip", "original")]
    assert s["sparsity"] == [0.5, 0.9] and s["mean"] == pytest.approx([0.9, 0.7])
    assert s["min"] == [0.9, 0.6] and s["max"] == [0.9, 0.8]


def test_study_config_profiles():
    assert pai.study_config("quick").trials == 1
    std = pai.study_config("standard")
    # the horizon the probe measured: two sparsities, 40K iterations, three trials
    assert (std.trials, std.sparsities, std.iterations) == (3, (0.9, 0.98), 40_000)
    with pytest.raises(ValueError, match="profile"):
        pai.study_config("huge")


def test_layer_state_and_the_explorer_panel(lenet, monkeypatch):
    model, x, y = lenet
    st = pai.layer_state("magnitude", model, 0.999, x, y)
    assert st["collapsed"] == ["fc1.weight"] and not st["connected"]
    assert st["counts"]["fc1.weight"] == 0 and sum(st["counts"].values()) == round(0.001 * 266200)
    from lth_utils import widgets
    box = widgets.prune_at_init_explorer(model, x, y, "magnitude", 0.999, synflow_rounds=5)
    assert box.state["collapsed"] == ["fc1.weight"] and len(box.children[1].outputs) == 1
    box.method.value = "synflow"
    assert box.state["method"] == "synflow" and box.state["connected"]
    box.slider.value = 0.9
    assert box.state["sparsity"] == 0.9 and box.state["collapsed"] == []
    # every bar in the method's own colour (chapter 10's figures), a collapsed one hatched
    from matplotlib.colors import to_hex
    from lth_utils.plots import METHOD_COLORS
    shown = []
    monkeypatch.setattr(widgets, "_show_figure", lambda out, fig, **k: shown.append(fig))
    box.method.value = "magnitude"
    box.slider.value = 0.999
    bars = shown[-1].axes[0].patches
    assert {to_hex(b.get_facecolor()) for b in bars} == {METHOD_COLORS["magnitude"]}
    assert [bool(b.get_hatch()) for b in bars] == [True, False, False]


def test_run_study_writes_resumes_and_caches(tmp_path, monkeypatch):
    """A study killed in its last unit (trial 1's population) resumes there, unit by unit,
    then loads from cache."""
    from lth_utils.data import Splits
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path))
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(180, 1, 28, 28, generator=g), torch.randint(0, 10, (180,), generator=g)
    data = Splits("mnist", tuple("0123456789"), x[:120], y[:120], x[120:150], y[120:150],
                  x[150:], y[150:])
    cfg = pai.study_config("quick", name="pai-test", sparsities=(0.9,), trials=2, iterations=2,
                           eval_every=1, synflow_rounds=2, imp_max_rate=0.9)
    calls, real = [], pai.PruneAtInitStudy.step

    def dies_in_trial_1s_population(self, unit, state):
        calls.append(unit)
        if unit == "1 methods" and calls.count(unit) == 1:
            raise KeyboardInterrupt
        return real(self, unit, state)

    monkeypatch.setattr(pai.PruneAtInitStudy, "step", dies_in_trial_1s_population)
    with pytest.raises(KeyboardInterrupt):
        pai.run_study(cfg, data, progress=False, log=lambda s: None)
    path = tmp_path / "pai-test-quick.json"
    assert not path.exists() and path.with_suffix(".ckpt.pt").exists()
    rec = pai.run_study(cfg, data, progress=False, log=lambda s: None)
    units = [f"{t} {u}" for t in (0, 1) for u in ("dense", "imp 1", "methods")]
    assert calls == units + ["1 methods"] and rec["complete"] and rec["trials_done"] == 2
    assert not path.with_suffix(".ckpt.pt").exists()
    # per trial: dense, IMP, 4 methods x 3 variants, random x 2, IMP shuffled and reinit
    assert len(rec["entries"]) == 2 * (1 + 1 + 4 * 3 + 2 + 2)
    assert pai.run_study(cfg, data, progress=False) == rec and len(calls) == 7


def test_split_by_trials_then_merge_equals_one_run(tmp_path, monkeypatch):
    """Trials 0 and 1 run apart (each its own part record) merge into the record one run of
    both writes, entry for entry; a part refuses an --out that holds the other part."""
    from lth_utils.data import Splits
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path))
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(180, 1, 28, 28, generator=g), torch.randint(0, 10, (180,), generator=g)
    data = Splits("mnist", tuple("0123456789"), x[:120], y[:120], x[120:150], y[120:150],
                  x[150:], y[150:])
    cfg = pai.study_config("quick", name="pai-split", sparsities=(0.9,), trials=2,
                           iterations=3, eval_every=1, synflow_rounds=2, imp_max_rate=0.9)
    quiet = dict(progress=False, log=lambda s: None)
    parts = [pai.run_study(cfg, data, trials=[t], **quiet) for t in (0, 1)]
    assert [p["trials"] for p in parts] == [[0], [1]]
    assert (tmp_path / "pai-split-quick.trials-1-1.json").exists()
    with pytest.raises(ValueError, match="holds trials"):
        pai.run_study(cfg, data, trials=[1], out=tmp_path / "pai-split-quick.trials-0-0.json",
                      **quiet)
    whole = pai.run_study(cfg, data, **quiet)
    merged = pai.merge(parts[::-1])
    assert merged["entries"] == whole["entries"] and merged["complete"]
    assert [p["trials"] for p in merged["merged_from"]] == [[1], [0]]
    with pytest.raises(ValueError, match="exactly once"):
        pai.merge([parts[0], parts[0]])


# --- reading the record: what each sanity check costs, sparsity by sparsity

def made_up_record(acc: dict, stops: dict | None = None, iterations: int = 1000) -> dict:
    """A prune-at-init record: ``acc`` maps (method, variant, sparsity) to each trial's accuracy;
    every network stops at ``stops`` (same key) or at iteration 100."""
    entries = [{"method": m, "variant": v, "sparsity": s, "trial": t,
                "early_stop_test_acc": a,
                "early_stop_iteration": (stops or {}).get((m, v, s), [100] * len(accs))[t]}
               for (m, v, s), accs in acc.items() for t, a in enumerate(accs)]
    sparsities = sorted({s for (_, _, s) in acc if s > 0})
    methods = sorted({m for (m, _, _) in acc if m not in ("dense", "imp")})
    return {"config": {"sparsities": sparsities, "methods": methods, "iterations": iterations,
                       "trials": max(len(v) for v in acc.values())}, "entries": entries}


def made_up_study(imp_shuffle: float, snip_shuffle: float) -> dict:
    """Two sparsities, two trials; the costs at the sparser one are the arguments (fractions)."""
    acc = {("dense", "original", 0.0): [0.98, 0.98]}
    for s, snip_cost, imp_cost in ((0.9, 0.002, 0.02), (0.99, snip_shuffle, imp_shuffle)):
        for m in ("snip", "grasp", "synflow", "magnitude", "imp"):
            acc[m, "original", s] = [0.95, 0.96]
            acc[m, "reinit", s] = [0.95, 0.96] if m != "imp" else [0.94, 0.95]
            cost = imp_cost if m == "imp" else snip_cost if m == "snip" else 0.0
            acc[m, "shuffled", s] = [0.95 - cost, 0.96 - cost]
        acc["random", "original", s] = [0.5, 0.6]
        acc["random", "reinit", s] = [0.5, 0.6]
    return made_up_record(acc)


def test_check_costs_are_paired_by_trial_with_their_range():
    rec = made_up_record({("snip", "original", 0.9): [0.90, 0.95],
                          ("snip", "shuffled", 0.9): [0.85, 0.94],
                          ("snip", "reinit", 0.9): [0.92, 0.96]})
    rows = {r["check"]: r for r in pai.check_costs(rec)}
    shuffled, reinit = rows["shuffled"], rows["reinit"]
    # trial 0 loses 0.05, trial 1 loses 0.01
    assert (shuffled["mean"], shuffled["lo"], shuffled["hi"]) == \
        pytest.approx((0.03, 0.01, 0.05))
    assert not shuffled["apart"]              # 0.94 (shuffled) is above 0.90 (original)
    assert reinit["mean"] == pytest.approx(-0.015) and not reinit["apart"]
    for check, cell in (("shuffled", "+3.0\n[1.0,5.0]"), ("reinit", "-1.5\n[-2.0,-1.0]")):
        [row] = pai.cost_table(rec, check)      # methods without this check have no row
        assert row == {"method": "SNIP", "90%": cell}
    with pytest.raises(ValueError, match="check must be one of shuffled, reinit"):
        pai.cost_table(rec, "both")


def test_one_trial_is_never_apart():
    rec = made_up_record({("snip", "original", 0.9): [0.95], ("snip", "shuffled", 0.9): [0.5]})
    [row] = pai.check_costs(rec)
    assert row["mean"] == pytest.approx(0.45) and not row["apart"]
    assert pai.cost_table(rec, "shuffled") == [{"method": "SNIP", "90%": "+45.0"}]


def test_summary_separates_the_sparsities_where_the_imp_ticket_loses_most():
    calm = pai.check_summary(made_up_study(imp_shuffle=0.10, snip_shuffle=0.05))
    assert calm["calm"] == [0.9, 0.99] and calm["other_label"] == "none"
    s = pai.check_summary(made_up_study(imp_shuffle=0.10, snip_shuffle=0.12))
    assert s["calm"] == [0.9] and s["other"] == [0.99]
    assert (s["calm_label"], s["other_label"]) == ("90%", "99%")
    assert s["imp_shuffled_lo"] == s["imp_shuffled_hi"] == pytest.approx(2.0)
    assert s["last_shuffled"] == ("SNIP +12.00, GraSP +0.00, SynFlow +0.00 and "
                                  "magnitude +0.00")
    assert s["last_shuffled_imp"] == pytest.approx(10.0)
    assert s["last_shuffled_not_below"] == 1      # SNIP only
    # at 90% pruned: 8 method-check pairs; SNIP's shuffle costs 0.2 points, within range
    assert (s["pairs"], s["lost"]) == (8, 0)
    assert s["calm_worst"] == pytest.approx(0.2)
    # the mean and the worst single trial agree here: both trials lose the same
    assert s["calm_worst_trial"] == pytest.approx(0.2)
    assert s["calm_worst_trial_at"] == "SNIP shuffled at 90% pruned"


def test_the_worst_single_trial_can_exceed_the_worst_mean():
    acc = {("dense", "original", 0.0): [0.98, 0.98]}
    for m in (*pai.SCORED, "imp"):
        acc[m, "original", 0.9] = [0.95, 0.95]
        acc[m, "reinit", 0.9] = [0.95, 0.95] if m != "imp" else [0.90, 0.90]
        acc[m, "shuffled", 0.9] = [0.95, 0.95] if m != "imp" else [0.90, 0.90]
    acc["grasp", "shuffled", 0.9] = [0.96, 0.91]       # costs -1 and +4 points
    acc["snip", "shuffled", 0.9] = [0.935, 0.935]      # costs 1.5 points, both trials
    s = pai.check_summary(made_up_record(acc))
    assert s["calm"] == [0.9]
    assert s["calm_worst"] == pytest.approx(1.5)             # SNIP's mean
    assert s["calm_worst_trial"] == pytest.approx(4.0)       # GraSP's trial 1
    assert s["calm_worst_trial_at"] == "GraSP shuffled at 90% pruned"


def test_late_stops_use_chapter_5s_rule():
    acc = {("dense", "original", 0.0): [0.98, 0.98], ("snip", "original", 0.9): [0.9, 0.9],
           ("snip", "shuffled", 0.9): [0.9, 0.9], ("snip", "original", 0.99): [0.8, 0.8]}
    stops = {("dense", "original", 0.0): [950, 500], ("snip", "original", 0.9): [900, 901],
             ("snip", "shuffled", 0.9): [1000, 100], ("snip", "original", 0.99): [100, 100]}
    late = pai.late_stops(made_up_record(acc, stops))
    assert (late["late"], late["total"]) == (2, 6)        # 901 and 1000; 900 is not late
    assert late["by_sparsity"] == {0.9: (2, 4), 0.99: (0, 2)}
    assert (late["dense"], late["dense_late"], late["threshold"]) == ([950, 500], 1, 900)


def test_a_point_is_hollow_when_any_of_its_trials_stopped_late():
    acc = {("dense", "original", 0.0): [0.98, 0.98], ("snip", "original", 0.9): [0.9, 0.9],
           ("snip", "original", 0.99): [0.8, 0.8], ("snip", "shuffled", 0.99): [0.8, 0.8]}
    stops = {("dense", "original", 0.0): [500, 500], ("snip", "original", 0.9): [100, 901],
             ("snip", "original", 0.99): [900, 300], ("snip", "shuffled", 0.99): [1000, 1000]}
    rec = made_up_record(acc, stops)
    flags = pai.late_points(rec)
    # one flag per sparsity of pai.summary, in its order; 900 is not late (> 0.9 T is)
    assert flags == {("dense", "original"): [False], ("snip", "original"): [True, False],
                     ("snip", "shuffled"): [True]}
    assert pai.summary(rec)["snip", "original"]["sparsity"] == [0.9, 0.99]


def test_the_horizon_is_measured_only_long_enough_and_with_few_late_stops():
    acc = {("snip", "original", 0.9): [0.9] * 10}
    few = made_up_record(acc, {("snip", "original", 0.9): [100] * 9 + [950]})
    many = made_up_record(acc, {("snip", "original", 0.9): [100] * 8 + [950] * 2})
    v = pai.horizon_verdict(few, probe_iterations=1000)
    assert v["measured"] and (v["late"], v["total"], v["iterations"]) == (1, 10, 1000)
    assert not pai.horizon_verdict(many, 1000)["measured"]           # 2 of 10 late
    short = pai.horizon_verdict(few, 2000)                            # shorter than the probe
    assert not short["measured"] and not short["long_enough"]


def test_the_horizon_verdict_is_given_sparsity_by_sparsity():
    # 0 of 10 late at 90% pruned, 2 of 10 at 98%: pooled 2 of 20 would pass, 98% does not
    acc = {("snip", "original", 0.9): [0.9] * 10, ("snip", "original", 0.98): [0.8] * 10}
    rec = made_up_record(acc, {("snip", "original", 0.9): [100] * 10,
                               ("snip", "original", 0.98): [100] * 8 + [950] * 2})
    v = pai.horizon_verdict(rec, 1000)
    assert (v["late"], v["total"]) == (2, 20) and not v["measured"]
    assert v["by_sparsity"] == {0.9: {"late": 0, "total": 10, "measured": True},
                                0.98: {"late": 2, "total": 10, "measured": False}}
    assert pai.horizon_text(v) == (
        "This study trains 1,000 iterations, as long as the probe. At 90% pruned none of the "
        "10 pruned networks stop in the last tenth: the comparisons there are between "
        "measured minima. At 98% pruned 2 of the 10 stop in the last tenth, more than one in "
        "ten: the comparisons there are censored, lower bounds after 1,000 iterations, not "
        "each network at its best.")
    assert pai.late_text(v) == (
        "Pruned networks still improving at the end of training (lower bounds, hollow in the "
        "figures): none of the 10 at 90% pruned and 2 of the 10 at 98% pruned; the "
        "comparisons are censored at 98% pruned, between measured minima at 90% pruned.")
    # shorter than the probe: every sparsity is censored, even without a late stop
    short = pai.horizon_verdict(rec, 2000)
    assert not any(b["measured"] for b in short["by_sparsity"].values())
    text = pai.horizon_text(short)
    assert text.startswith("This study trains 1,000 iterations, short of the probe's 2,000.")
    assert "At 90% pruned none of the 10 pruned networks stop in the last tenth, but the " \
        "study is shorter than the probe: the comparisons there are censored" in text
    assert pai.late_text(short).endswith("the comparisons are censored at 90% and 98% pruned.")
    # one late of ten: measured, with that one a lower bound
    one = made_up_record(acc, {("snip", "original", 0.9): [100] * 9 + [950],
                               ("snip", "original", 0.98): [100] * 10})
    assert "between measured minima, except those with the 1 late one (hollow), lower " \
        "bounds." in pai.horizon_text(pai.horizon_verdict(one, 1000))


def test_standings_use_the_trials_range():
    acc = {("imp", "original", 0.9): [0.95, 0.96], ("random", "original", 0.9): [0.80, 0.85],
           ("snip", "original", 0.9): [0.93, 0.94], ("grasp", "original", 0.9): [0.94, 0.955],
           ("synflow", "original", 0.9): [0.965, 0.97], ("magnitude", "original", 0.9): [0.84, 0.9]}
    st = pai.standings(made_up_record(acc))[0.9]
    assert st["imp"] == {"below": ["snip", "magnitude"], "within": ["grasp"],
                         "above": ["synflow"]}
    assert st["random"] == {"below": [], "within": ["magnitude"],
                            "above": ["snip", "grasp", "synflow"]}
    one = {k: v[:1] for k, v in acc.items()}            # one trial: no range, never apart
    assert pai.standings(made_up_record(one))[0.9]["imp"]["within"] == list(pai.SCORED)
    assert pai.standing_text({0.9: st}) == (
        "At 90% pruned, SNIP and magnitude lie below the IMP ticket beyond the trials' "
        "range, SynFlow lies above the IMP ticket beyond the trials' range, GraSP lies within "
        "it; SNIP, GraSP and SynFlow lie above random pruning beyond the trials' range, "
        "magnitude lies within it.")
    assert pai.standing_text(pai.standings(made_up_record(one))) == (
        "At 90% pruned, all four methods lie within the trials' range of the IMP ticket; all "
        "four methods lie within the trials' range of random pruning.")


def test_accuracy_table_gives_ranges_and_marks_late_points():
    acc = {(m, "original", s): [0.9, 0.92] for m in (*pai.METHODS, "imp") for s in (0.9, 0.98)}
    rec = made_up_record(acc, {("snip", "original", 0.98): [100, 950]})
    rows = pai.accuracy_table(rec)
    assert [r["pruned"] for r in rows] == ["90%", "98%"]
    assert rows[0]["snip"] == "91.0\n90.0–92.0" and rows[1]["snip"] == "91.0*\n90.0–92.0"
    assert rows[1]["IMP"] == "91.0\n90.0–92.0"
    one = made_up_record({k: v[:1] for k, v in acc.items()})
    assert pai.accuracy_table(one)[0]["random"] == "90.0"


@pytest.mark.parametrize("profile", ["quick", "standard"])
def test_the_committed_records_read(profile):
    """Chapter 10 reads the committed record of its profile with these functions."""
    import json
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / f"data/results/prune-at-init-{profile}.json"
    rec = json.loads(path.read_text())
    s = pai.check_summary(rec)
    assert sorted(s["calm"] + s["other"]) == sorted(rec["config"]["sparsities"])
    for check in pai.CHECKS:
        table = pai.cost_table(rec, check)
        # a random mask has no shuffle (it would be random again), only a reinitialisation
        random = ["random"] if check == "reinit" else []
        assert [r["method"] for r in table] == ["SNIP", "GraSP", "SynFlow", "magnitude",
                                                 *random, "IMP"]
        assert list(table[0])[1:] == [f"{100 * v:g}%" for v in rec["config"]["sparsities"]]
    late = pai.late_stops(rec)
    assert late["late"] <= late["total"] == sum(n for _, n in late["by_sparsity"].values())


def test_configs_that_cannot_score_are_refused():
    with pytest.raises(ValueError, match="score_batches must be a whole number >= 1, got 0"):
        pai.StudyConfig(score_batches=0)
    with pytest.raises(ValueError, match="methods must be some of"):
        pai.StudyConfig(methods=("snip", "oracle"))
