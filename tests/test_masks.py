import pytest
import torch
from torch.nn.utils import prune as torch_prune

from lth_utils import masks, models, pruning


def test_conversion_round_trips_with_torch_prune():
    m = models.build("lenet", 0)
    mk = pruning.l1_unstructured(m, masks.ones(m), {"fc1.weight": 0.5, "fc2.weight": 0.3,
                                                   "fc3.weight": 0.1})
    ref = masks.apply(models.build("lenet", 0), mk)
    masks.to_torch_prune(m, mk)
    assert hasattr(m.fc1, "weight_orig") and hasattr(m.fc1, "weight_mask")
    back = masks.from_torch_prune(m)
    assert all(torch.equal(back[n], mk[n]) for n in mk)
    x = torch.randn(8, 1, 28, 28)
    assert torch.allclose(m(x), ref(x))
    for layer in (m.fc1, m.fc2, m.fc3):
        torch_prune.remove(layer, "weight")
    assert torch.equal(m.fc1.weight, ref.fc1.weight)


def test_our_layerwise_pruning_equals_torch_l1_unstructured():
    m = models.build("lenet", 3)
    ours = pruning.l1_unstructured(m, masks.ones(m), 0.37)
    for name in ours:
        layer = getattr(m, name.split(".")[0])
        torch_prune.l1_unstructured(layer, "weight", amount=0.37)
        assert torch.equal(layer.weight_mask, ours[name])


def test_our_global_pruning_equals_torch_global_unstructured():
    m = models.build("lenet", 4)
    ours = pruning.global_unstructured(m, masks.ones(m), 0.8)
    torch_prune.global_unstructured([(m.fc1, "weight"), (m.fc2, "weight"), (m.fc3, "weight")],
                                    pruning_method=torch_prune.L1Unstructured, amount=0.8)
    assert all(torch.equal(masks.from_torch_prune(m)[n], ours[n]) for n in ours)


def test_save_load_and_report(tmp_path):
    m = models.build("lenet")
    mk = pruning.l1_unstructured(m, masks.ones(m), 0.5)
    masks.save(mk, tmp_path / "m.pt")
    back = masks.load(tmp_path / "m.pt")
    assert all(torch.equal(back[n], mk[n]) for n in mk)
    rows = masks.sparsity_report(back)
    assert rows[-1]["layer"] == "all" and rows[0]["remaining"] == 784 * 300 // 2
    assert "fc1.weight" in masks.format_report(back)
    torch.save({"x": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a mask file"):
        masks.load(tmp_path / "other.pt")


def test_mask_that_does_not_fit_the_model():
    lenet, conv = models.build("lenet"), models.build("conv2")
    with pytest.raises(ValueError, match="masks do not fit this model"):
        masks.apply(conv, masks.ones(lenet))
    bad = masks.ones(lenet)
    bad["fc1.weight"] = torch.ones(300, 100)
    with pytest.raises(ValueError, match="shape .* made for another model"):
        masks.apply(lenet, bad)


def test_masked_zeroes_the_pruned_weights_and_keeps_the_rest():
    net = models.build("lenet", seed=0)
    theta0 = {n: p.detach().clone() for n, p in net.named_parameters()}
    m = pruning.l1_unstructured(net, masks.ones(net), 0.5)
    start = masks.masked(theta0, m)
    assert set(start) == set(theta0)
    for n, w in start.items():
        if n in m:
            kept = m[n].bool()
            assert torch.equal(w[kept], theta0[n][kept]) and not w[~kept].any()
        else:                                    # biases: copied, not shared
            assert torch.equal(w, theta0[n]) and w.data_ptr() != theta0[n].data_ptr()
    with pytest.raises(ValueError, match="does not fit"):
        masks.masked({"fc1.weight": torch.ones(3, 3)}, {"fc1.weight": torch.ones(2, 2)})
