"""lth_utils.instability: the path between two networks, its error, and the two copies."""
import pytest
import torch

from lth_utils import instability as ins
from lth_utils import models
from lth_utils.training import TrainConfig


def weights(seed: int) -> dict:
    return {n: p.detach().clone() for n, p in models.build("lenet", seed).named_parameters()}


def test_interpolate_ends_and_midpoint():
    a, b = weights(0), weights(1)
    path = ins.interpolate(a, b, [0, 0.5, 1])
    for n in a:
        assert path[n].shape == (3, *a[n].shape)
        assert torch.equal(path[n][0], a[n]) and torch.allclose(path[n][2], b[n])
        assert torch.allclose(path[n][1], (a[n] + b[n]) / 2)
    with pytest.raises(ValueError, match="same architecture"):
        ins.interpolate(a, {"fc1.weight": a["fc1.weight"]}, [0, 1])


def test_instability_is_the_bump_above_the_ends():
    assert ins.instability([0.1, 0.5, 0.3]) == pytest.approx(0.3)
    assert ins.instability([0.2, 0.1, 0.2]) == pytest.approx(0.0)   # the ends are the highest
    with pytest.raises(ValueError, match="two ends"):
        ins.instability([0.1])


def test_a_path_from_a_network_to_itself_is_flat(mnist_small):
    net, a = models.build("lenet", 0), weights(0)
    alphas, errors = ins.path_error(net, a, a, mnist_small.test_x, mnist_small.test_y, 5)
    assert alphas == [0, 0.25, 0.5, 0.75, 1.0] and len(set(errors)) == 1
    assert ins.instability(errors) == pytest.approx(0.0)


def test_two_random_networks_are_not_on_one_flat_path(mnist_small):
    # untrained networks: every point near chance, so nothing to find; trained copies from
    # different initialisations are separated by a barrier
    cfg = TrainConfig(iterations=60, eval_every=30)
    net = models.build("lenet", 0)
    _, a, _ = ins.spawn(net, weights(0), mnist_small, cfg, 0, (1, 1))
    _, b, _ = ins.spawn(net, weights(5), mnist_small, cfg, 0, (1, 1))
    _, errors = ins.path_error(net, a, b, mnist_small.test_x, mnist_small.test_y)
    assert max(errors) > max(errors[0], errors[-1])


def test_spawn_is_deterministic_and_copies_differ_only_by_batch_order(mnist_small):
    cfg = TrainConfig(iterations=40, eval_every=20)
    net, theta0 = models.build("lenet", 0), weights(0)
    k0, a, b = ins.spawn(net, theta0, mnist_small, cfg, 0, (3, 3))
    assert all(torch.equal(k0[n], theta0[n]) for n in theta0)          # k = 0 is θ0
    # same batches, same network (up to the rounding of a batched sum)
    assert all(torch.allclose(a[n], b[n], atol=1e-6) for n in a)
    k10, c, d = ins.spawn(net, theta0, mnist_small, cfg, 10, (3, 4))
    assert not torch.equal(k10["fc1.weight"], theta0["fc1.weight"])     # θ_k was trained
    assert not torch.equal(c["fc1.weight"], d["fc1.weight"])            # two batch orders
    again = ins.spawn(net, theta0, mnist_small, cfg, 10, (3, 4))[1]
    assert all(torch.equal(again[n], c[n]) for n in c)
    with pytest.raises(ValueError, match="k must be in"):
        ins.spawn(net, theta0, mnist_small, cfg, 40)


def test_instability_at_reports_every_k(mnist_small):
    cfg = TrainConfig(iterations=40, eval_every=20)
    rows = ins.instability_at(models.build("lenet", 0), weights(0), mnist_small, cfg, [0, 20],
                              points=3)
    assert [r["k"] for r in rows] == [0, 20]
    for r in rows:
        assert len(r["errors"]) == 3 and r["alphas"] == [0, 0.5, 1.0]
        assert r["instability"] == pytest.approx(ins.instability(r["errors"]), abs=1e-4)
        assert r["stable"] == (r["instability"] < ins.STABLE)
