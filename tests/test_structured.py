"""lth_utils.structured: removing neurons really shrinks LeNet and keeps the right ones."""
import pytest
import torch

from lth_utils import models, structured


def test_prune_neurons_shapes_and_kept_units():
    model = models.build("lenet", seed=0)
    with torch.no_grad():
        model.fc1.weight[7] *= 100            # the strongest unit of fc1 must survive
    small = structured.prune_neurons(model, [30, 10])
    assert small.fc1.weight.shape == (30, 784)
    assert small.fc2.weight.shape == (10, 30)
    assert small.fc3.weight.shape == (10, 10)
    norms = model.fc1.weight.abs().sum(1)
    keep = torch.topk(norms, 30).indices.sort().values
    assert 7 in keep.tolist()
    assert torch.equal(small.fc1.weight, model.fc1.weight[keep])
    assert structured.count_weights(small) == 30 * 784 + 10 * 30 + 10 * 10
    assert model.fc1.weight.shape == (300, 784)   # the original is untouched


def test_pruned_network_computes_the_same_when_removed_units_are_dead():
    model = models.build("lenet", seed=0)
    with torch.no_grad():
        model.fc1.weight[200:] = 0           # units 200..299 have zero norm and output relu(0)=0
        model.fc1.bias.zero_()
    small = structured.prune_neurons(model, [200, 100])
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(small(x), model(x))


def test_widths_for_fraction():
    w = structured.widths_for_fraction(0.08)
    full = [784, *w, 10]
    n = sum(a * b for a, b in zip(full[:-1], full[1:]))
    assert n <= 0.08 * 266_200 and n > 0.07 * 266_200
    assert structured.widths_for_fraction(1.0) == [300, 100]
    with pytest.raises(ValueError):
        structured.prune_neurons(models.build("lenet"), [10])


def _record(dense, rows, iterations=1000, finetune=200, fractions=(0.2, 0.08),
            n_eval=1000):
    """A chapter 12 record by hand: dense (trial, acc, stop) and rows (trial, fraction,
    method, acc, stop)."""
    return {"config": {"name": "ch12-lenet-test", "trials": len(dense),
                       "iterations": iterations, "finetune_iterations": finetune,
                       "fractions": list(fractions), "n_eval": n_eval},
            "dense": [{"trial": t, "seed": 100 + t, "test_acc": a,
                       "early_stop_iteration": it} for t, a, it in dense],
            "rows": [{"trial": t, "seed": 100 + t, "fraction": f, "method": m,
                      "test_acc": a, "early_stop_iteration": it}
                     for t, f, m, a, it in rows]}


def test_late_stops_reads_each_run_against_its_own_horizon():
    # the dense network trains 1,000 iterations, each fine-tuning 200: late
    # means after 900 for the first, after 180 for the others
    rec = _record([(0, 0.98, 300), (1, 0.98, 950)],      # 300: late only against 200
                  [(0, 0.2, "unstructured", 0.97, 180),  # at 0.9 T: not late
                   (0, 0.2, "structured", 0.96, 190),    # late only against 200
                   (1, 0.08, "structured", 0.9, 50)])
    late = structured.late_stops(rec)
    assert [(r["trial"], r["fraction"], r["method"], r["horizon"]) for r in late] == [
        (1, 1.0, "dense", 1000), (0, 0.2, "structured", 200)]
    assert structured.late_stops(rec, last=0.5)[-1]["method"] == "structured"
    del rec["rows"][0]["early_stop_iteration"]         # an old record
    with pytest.raises(ValueError, match="recompute"):
        structured.late_stops(rec)
    with pytest.raises(ValueError, match="no trials.*recompute"):   # one seed, no trials
        structured.late_stops({"config": {"name": "old"}, "rows": []})


def test_compare_methods_needs_apart_ranges_and_a_gap_beyond_two_se():
    u, s = "unstructured", "structured"
    rows = [(0, 0.2, u, 0.95, 10), (1, 0.2, u, 0.97, 10),   # ranges overlap:
            (0, 0.2, s, 0.90, 10), (1, 0.2, s, 0.96, 10),   # within, gap 3 pp
            (0, 0.08, u, 0.92, 10), (1, 0.08, u, 0.93, 10),  # apart and 4.5 pp:
            (0, 0.08, s, 0.88, 190), (1, 0.08, s, 0.88, 10)]  # beyond, one late
    rec = _record([(0, 0.98, 10), (1, 0.98, 10)], rows)
    st = structured.trial_stats(rec)
    assert st[(0.2, s)]["values"] == [0.90, 0.96] and st[(0.2, s)]["lo"] == 0.90
    assert st[(0.08, s)]["late"] == 1 and st[(1.0, "dense")]["mean"] == 0.98
    c20, c8 = structured.compare_methods(rec)
    assert not c20["apart"] and c20["verdict"] == "within"
    assert c20["gap"] == pytest.approx(0.03) and c20["margin"] == pytest.approx(
        2 * (0.93 * 0.07 / 1000) ** 0.5)
    assert c8["apart"] and c8["verdict"] == "beyond" and c8["ahead"] == u
    assert c8["late"] == [s]
    # apart but within two standard errors of 100 test images: within
    assert structured.compare_methods(rec, n_test=100)[1]["verdict"] == "within"
    # structured ahead beyond the margin is read as such
    swapped = _record([(0, 0.98, 10), (1, 0.98, 10)],
                      [(t, f, {u: s, s: u}[m], a, it) for t, f, m, a, it in rows])
    assert structured.compare_methods(swapped)[1]["ahead"] == s


def test_trials_have_their_own_seeds_and_parts_merge_into_one_run(
        tmp_path, mnist_small, monkeypatch):
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path))
    cfg = {**structured.study_config("quick"), "name": "ch12-lenet-test",
           "trials": 2, "iterations": 30, "finetune_iterations": 20,
           "train_subset": 2000}
    whole = structured.run_study(cfg, data=mnist_small)
    seeds = [d["seed"] for d in whole["dense"]]
    assert seeds == [structured.trial_seed(cfg, t) for t in (0, 1)]
    assert len(set(seeds)) == 2
    for f in cfg["fractions"]:
        for m in ("unstructured", "structured"):
            got = [r for r in whole["rows"] if (r["fraction"], r["method"]) == (f, m)]
            assert [r["trial"] for r in got] == [0, 1]
            assert [r["seed"] for r in got] == seeds
    assert whole["compressed"]["trial"] == 0
    assert (tmp_path / "ch12-lenet-test.lthc").exists()
    part1 = structured.run_study(cfg, trials=[1], data=mnist_small)
    assert (tmp_path / "ch12-lenet-test.trials-1-1.json").exists()
    assert "compressed" not in part1
    part0 = structured.run_study(cfg, path=tmp_path / "p0.json", trials=[0],
                                 data=mnist_small)
    merged = structured.merge([part1, part0])
    for key in ("config", "dense", "rows", "compressed"):
        assert merged[key] == whole[key], key
    with pytest.raises(ValueError, match="missing"):
        structured.merge([part1])
    # a complete record of trial 0 alone extends by trial 1 of two
    one = structured.run_study({**cfg, "trials": 1}, path=tmp_path / "one.json",
                               data=mnist_small)
    extended = structured.merge([one, part1])
    for key in ("config", "dense", "rows", "compressed"):
        assert extended[key] == whole[key], key


@pytest.mark.parametrize("profile", ["quick", "standard"])
def test_the_committed_records_hold_every_trial(profile):
    from lth_utils import results
    cfg = structured.study_config(profile)
    assert cfg["trials"] >= (2 if profile == "quick" else 3)
    rec = results.load_record(structured.record_path(cfg["name"]))
    assert rec["config"] == cfg and rec["complete"]
    assert [d["trial"] for d in rec["dense"]] == list(range(cfg["trials"]))
    assert len({d["seed"] for d in rec["dense"]}) == cfg["trials"]
    stats = structured.trial_stats(rec)
    for f in cfg["fractions"]:
        for m in ("unstructured", "structured"):
            assert len(stats[(f, m)]["values"]) == cfg["trials"]
