"""A member's numbers do not depend on its population (lth_utils/population.py, training.py).

This is what makes a study split by trials and merged equal one run bit for bit: member k of a
K-member population must compute exactly (torch.equal, float32) what it computes alone.

On a CPU. On a GPU, cuBLAS and cuDNN pick their kernels (and so the order of a sum) by the shapes
they are given, and a population's shapes are not a member's: there, measured on an H200
(2026-12-04), a member and itself alone differ in float32 after 30 steps. The GPU check runs the
same comparison in float64 with a tolerance of 1e-10: float64 rounding (1e-16) amplified by Adam
stays far below it, and a member that saw other batches or weights is far above it.
"""
import copy

import pytest
import torch

from lth_utils import masks, models, population, pruning, training


def _member(name: str, seed: int):
    kw = {} if name == "lenet" else {"width": 0.25}
    m = models.build(name, seed, **kw)
    return m, pruning.l1_unstructured(m, masks.ones(m), 0.5)


@pytest.mark.parametrize("name,optimizer", [("lenet", "adam"), ("lenet", "sgd"),
                                            ("conv2", "adam"), ("conv4", "adam"),
                                            ("conv6", "sgd")])
def test_member_of_a_population_computes_what_it_computes_alone(mnist_small, cifar_small,
                                                                name, optimizer):
    d = mnist_small if name == "lenet" else cifar_small
    nets = [_member(name, s) for s in range(3)]
    cfg = training.TrainConfig(iterations=30, batch_size=20, eval_every=10,
                               optimizer=optimizer, lr=1e-3 if optimizer == "adam" else 0.02)
    if d.device.type == "cpu":
        same = torch.equal
    else:   # see the module's docstring
        d = copy.copy(d)
        for split in ("train_x", "val_x", "test_x"):
            setattr(d, split, getattr(d, split).double())
        nets = [(n.double(), mk) for n, mk in nets]

        def same(a, b):
            return bool((a.double() - b.double()).abs().max() <= 1e-10)

    def run(idx, seeds):
        return training.train_population(
            nets[0][0], population.stack([nets[i][0] for i in idx]),
            population.stack_masks([nets[i][1] for i in idx]), d, cfg, seeds, progress=False)

    together = run([0, 1, 2], [5, 6, 7])
    for i in (1, 2):
        alone = run([i], [5 + i])
        for n in alone.params:
            assert same(together.params[n][i], alone.params[n][0]), (i, n)
        h, a = together.history, alone.history
        assert same(h.val_loss[i], a.val_loss[0])
        assert torch.equal(h.es_test_acc[i], a.es_test_acc[0])
    # a shared batch (all seeds equal) is the same arithmetic as a member's own
    shared = run([0, 1], [5, 5])
    own = run([1], [5])
    for n in own.params:
        assert same(shared.params[n][1], own.params[n][0]), n


def test_the_layout_is_chosen_in_one_place():
    """``population.conv_layout`` reads the measured table ``CONV_LAYOUTS``: LeNet (no conv
    layers) and every device not in it train contiguous; the engine uses the choice."""
    assert population.conv_layout(models.build("lenet"), "cpu") == "contiguous"
    for name in ("conv2", "conv4", "conv6"):
        net = models.build(name, width=0.25)
        assert population.conv_layout(net, "cpu") == population.CONV_LAYOUTS.get(
            (name, "cpu"), "contiguous")
        assert population.conv_layout(net, "meta") == "contiguous"    # not measured there
    with pytest.raises(ValueError, match="layout must be one of"):
        population.check_layout("nhwc")


@pytest.mark.parametrize("name", ["lenet", "conv2"])
def test_early_stop_weights_are_the_ones_the_early_stop_accuracy_was_measured_on(
        mnist_small, cifar_small, name):
    # returned in PyTorch's layout (conv2 trains channels_last on a CPU), for a chapter that
    # evaluates them image by image; a member stopping before the end has other final weights
    d = mnist_small if name == "lenet" else cifar_small
    nets = [_member(name, s) for s in range(2)]
    cfg = training.TrainConfig(iterations=60, batch_size=20, eval_every=10, lr=3e-3)
    run = training.train_population(
        nets[0][0], population.stack([n for n, _ in nets]),
        population.stack_masks([m for _, m in nets]), d, cfg, [1, 2], progress=False)
    best = run.early_stop_params
    assert set(best) == set(run.params)
    for n, t in best.items():
        assert t.shape == run.params[n].shape, n
    _, acc = population.evaluate(nets[0][0], best, d.test_x, d.test_y)
    assert torch.allclose(acc.cpu(), run.history.es_test_acc.to(acc.dtype), atol=1e-6)
    # image by image, in chunks that do not divide the test set: the same accuracies
    right = population.correct(nets[0][0], best, d.test_x, d.test_y, chunk=333)
    assert right.shape == (2, len(d.test_y)) and set(right.unique().tolist()) <= {0.0, 1.0}
    assert torch.allclose(right.mean(1), acc, atol=1e-6)
    for k, stop in enumerate(run.history.early_stop_iteration):
        moved = any(not torch.equal(best[n][k], run.params[n][k]) for n in best)
        assert moved == (stop < cfg.iterations), (k, stop)
    # pruned weights are zero at the early stop too
    for k, (_, m) in enumerate(nets):
        assert all(bool((best[n][k][m[n] == 0] == 0).all()) for n in m)
