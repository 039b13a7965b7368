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
