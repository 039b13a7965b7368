import math

import pytest
import torch

from lth_utils import masks, models, pruning


@pytest.fixture
def lenet():
    return models.build("lenet", 0)


def test_layerwise_rates_give_the_requested_sparsity_to_the_weight(lenet):
    mk = masks.ones(lenet)
    rates = pruning.paper_rates("lenet", mk)
    assert rates == {"fc1.weight": 0.2, "fc2.weight": 0.2, "fc3.weight": 0.1}
    for r in range(1, 6):
        mk = pruning.l1_unstructured(lenet, mk, rates)
        for name, rate in rates.items():
            expected = masks.ones(lenet)[name].numel()
            for _ in range(r):
                expected -= round(rate * expected)
            assert int(mk[name].sum()) == expected


def test_pruning_removes_the_smallest_survivors_only(lenet):
    first = pruning.l1_unstructured(lenet, masks.ones(lenet), 0.5)
    second = pruning.l1_unstructured(lenet, first, 0.5)
    for n in first:
        assert torch.all(second[n] <= first[n])          # nothing revived
        w = lenet.get_parameter(n).abs()
        kept, gone = w[second[n] == 1], w[(first[n] == 1) & (second[n] == 0)]
        assert kept.min() >= gone.max()


def test_global_keeps_the_largest_magnitudes_across_layers(lenet):
    mk = pruning.global_unstructured(lenet, masks.ones(lenet), 0.9)
    w = torch.cat([lenet.get_parameter(n).abs().flatten() for n in mk])
    m = torch.cat([mk[n].flatten() for n in mk])
    assert w[m == 1].min() >= w[m == 0].max()
    assert abs(masks.fraction_remaining(mk) - 0.1) < 1e-4
    # global spares the small output layer: it keeps a larger fraction there than in fc1
    assert mk["fc3.weight"].mean() > mk["fc1.weight"].mean()


@pytest.mark.parametrize("scope", ["layerwise", "global"])
def test_to_sparsity_counts_already_pruned_weights(lenet, scope):
    mk = pruning.to_sparsity(lenet, masks.ones(lenet), 0.5, scope)
    mk = pruning.to_sparsity(lenet, mk, 0.9, scope)
    assert abs(masks.fraction_remaining(mk) - 0.1) < 1e-3


def test_random_masks_keep_per_layer_counts(lenet):
    mk = pruning.l1_unstructured(lenet, masks.ones(lenet), {"fc1.weight": 0.9, "fc2.weight": 0.5,
                                                          "fc3.weight": 0.1})
    g = torch.Generator().manual_seed(0)
    rnd = pruning.random_like(mk, g)
    assert all(int(rnd[n].sum()) == int(mk[n].sum()) for n in mk)
    assert not torch.equal(rnd["fc1.weight"], mk["fc1.weight"])
    rnd2 = pruning.random_unstructured(mk, 0.5, torch.Generator().manual_seed(0))
    assert all(torch.all(rnd2[n] <= mk[n]) for n in mk)


@pytest.mark.parametrize("bad", [1.0, 1.5, -0.1, math.nan, "0.5"])
def test_sparsity_outside_unit_interval_is_refused(lenet, bad):
    with pytest.raises(ValueError, match=r"must be in \[0, 1\)"):
        pruning.to_sparsity(lenet, masks.ones(lenet), bad)
    with pytest.raises(ValueError, match=r"must be in \[0, 1\)"):
        pruning.l1_unstructured(lenet, masks.ones(lenet), bad)


def test_rate_for_rounds():
    assert pruning.rate_for_rounds(0.2, 2) == pytest.approx(0.36)
