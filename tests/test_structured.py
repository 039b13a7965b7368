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


def test_late_stops_reads_each_run_against_its_own_horizon():
    # the dense network trains 1,000 iterations, each fine-tuning 200: late
    # means after 900 for the first, after 180 for the others
    rec = {"config": {"name": "ch12-lenet-test", "iterations": 1000,
                      "finetune_iterations": 200},
           "dense_early_stop_iteration": 300,          # late only against 200
           "rows": [{"fraction": 0.2, "method": "unstructured",
                     "early_stop_iteration": 180},     # at 0.9 T: not late
                    {"fraction": 0.2, "method": "structured",
                     "early_stop_iteration": 190},     # late only against 200
                    {"fraction": 0.08, "method": "structured",
                     "early_stop_iteration": 50}]}
    late = structured.late_stops(rec)
    assert [(r["fraction"], r["method"], r["horizon"]) for r in late] == [
        (0.2, "structured", 200)]
    rec["dense_early_stop_iteration"] = 950
    assert [(r["fraction"], r["method"], r["iteration"])
            for r in structured.late_stops(rec)] == [
        (1.0, "dense", 950), (0.2, "structured", 190)]
    assert structured.late_stops(rec, last=0.5)[-1]["method"] == "structured"
    del rec["rows"][0]["early_stop_iteration"]         # an old record
    with pytest.raises(ValueError, match="recompute"):
        structured.late_stops(rec)
