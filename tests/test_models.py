import pytest
import torch

from lth_utils import masks, models


def test_lenet_has_the_papers_shape():
    m = models.build("lenet")
    counts = models.count_parameters(m)
    assert [counts[n] for n in masks.prunable(m)] == [784 * 300, 300 * 100, 100 * 10]
    assert m(torch.zeros(5, 1, 28, 28)).shape == (5, 10)


@pytest.mark.parametrize("name,flat", [("conv2", 16 * 16 * 64), ("conv4", 8 * 8 * 128),
                                       ("conv6", 4 * 4 * 256)])
def test_conv_nets_match_figure_2(name, flat):
    m = models.build(name)
    assert m.fc1.in_features == flat and m.fc1.out_features == 256 and m.fc3.out_features == 10
    assert m(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_glorot_gaussian_init_is_seeded():
    a, b, c = models.build("lenet", 1), models.build("lenet", 1), models.build("lenet", 2)
    assert torch.equal(a.fc1.weight, b.fc1.weight) and not torch.equal(a.fc1.weight, c.fc1.weight)
    std = (2 / (784 + 300)) ** 0.5
    assert abs(a.fc1.weight.std().item() - std) / std < 0.02
    assert torch.count_nonzero(a.fc1.bias) == 0


def test_unknown_model():
    with pytest.raises(ValueError, match="unknown model 'resnet'.*lenet, conv2"):
        models.build("resnet")


def test_width_scales_the_conv_channels_only():
    quarter = models.build("conv2", width=0.25)
    assert quarter.conv1.out_channels == 16 and quarter.conv2.out_channels == 16
    assert quarter.fc1.in_features == 16 * 16 * 16 and quarter.fc1.out_features == 256
    assert quarter(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert models.build("conv2").conv1.out_channels == 64
    with pytest.raises(ValueError, match="width applies to the conv nets only"):
        models.build("lenet", width=0.5)
    with pytest.raises(ValueError, match="whole channels"):
        models.build("conv2", width=0.3)
