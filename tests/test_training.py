import copy
from contextlib import contextmanager

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from lth_utils import masks, models, population, pruning, training


def _masked(name: str, seed: int, **kw):
    m = models.build(name, seed, **kw)
    return m, pruning.l1_unstructured(m, masks.ones(m), 0.6)


def _float64(d, evaluation_images: int | None = None):
    """A copy of the splits ``d`` with float64 images, and at most ``evaluation_images``
    validation and test images."""
    d = copy.copy(d)
    for split in ("train_x", "val_x", "test_x"):
        setattr(d, split, getattr(d, split).double())
    for split in ("val", "test"):
        for part in ("x", "y"):
            setattr(d, f"{split}_{part}", getattr(d, f"{split}_{part}")[:evaluation_images])
    return d


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_pruned_weights_stay_exactly_zero_for_200_steps(mnist_small, optimizer):
    m, mk = _masked("lenet", 0)
    cfg = training.TrainConfig(iterations=200, eval_every=200, optimizer=optimizer,
                               lr=1.2e-3 if optimizer == "adam" else 0.05)
    training.train(m, mnist_small, cfg, masks=mk, progress=False)
    plain, _ = _masked("lenet", 0)
    training.train_plain(plain, mnist_small, cfg, masks=mk)
    for model in (m, plain):
        for n, keep in mk.items():
            w = model.get_parameter(n)
            assert torch.count_nonzero(w[keep == 0]) == 0
            assert torch.count_nonzero(w[keep == 1]) == int(keep.sum())  # survivors did train


@pytest.mark.parametrize("name,optimizer", [("lenet", "adam"), ("lenet", "sgd"),
                                            ("conv2", "adam"), ("conv2", "sgd")])
def test_population_equals_separate_plain_runs(mnist_small, cifar_small, name, optimizer):
    """K networks trained at once = K plain runs. In float64, so that what is compared is the
    arithmetic, not float32 rounding amplified by Adam on near-zero gradients."""
    # float64 convolutions are slow: 200 evaluation images are enough
    d = _float64(mnist_small) if name == "lenet" else _float64(cifar_small, 200)
    lenet = name == "lenet"
    # Conv-2 at the book's stand-in width: the same code path, a quarter of the float64 work
    nets = [_masked(name, s, **({} if lenet else {"width": 0.25})) for s in range(3)]
    nets = [(n.double(), mk) for n, mk in nets]
    cfg = training.TrainConfig(iterations=40 if lenet else 10, batch_size=60 if lenet else 16,
                               eval_every=20 if lenet else 5, optimizer=optimizer,
                               lr=1e-3 if optimizer == "adam" else 0.02)
    seeds = [11, 12, 11]  # members 0 and 2 share a batch order, member 1 has its own
    run = training.train_population(nets[0][0], population.stack([n for n, _ in nets]),
                                    population.stack_masks([mk for _, mk in nets]), d, cfg, seeds,
                                    progress=False)
    for i, (net, mk) in enumerate(nets):
        ref = copy.deepcopy(net)
        hist = training.train_plain(ref, d, cfg, masks=mk, seed=seeds[i])
        for n, p in ref.named_parameters():
            assert torch.allclose(run.params[n][i], p, atol=1e-9, rtol=1e-7), n
            if n in mk:
                assert torch.count_nonzero(run.params[n][i][mk[n] == 0]) == 0
        assert torch.equal(run.history.test_acc[i].float(), hist.test_acc[0].float())
        assert torch.allclose(run.history.val_loss[i].double(), hist.val_loss[0].double(), atol=1e-6)


@pytest.mark.parametrize("name", ["conv2", "conv4", "conv6"])
def test_the_channels_last_engine_trains_what_the_plain_loop_trains(cifar_small, name):
    """The engine's conv path in the channels_last layout (images, conv weights, masks and
    activations NHWC; the first linear layer's rows in (H, W, C) order) against
    ``train_plain``, an ``nn.Module`` in NCHW: the same initial weights, masks and batches
    (equal seeds draw equal batches), 50 Adam steps, two members on their own batches.

    In float64, so that what is compared is the arithmetic: the two loops differ only in the
    order of their sums (other convolution kernels, the permuted first linear layer). Measured
    after 50 steps: at most 9e-14 apart (float64 rounding, 1e-16, amplified by Adam); the
    tolerance, 1e-10, leaves a thousandfold margin and still fails on any real difference.
    In float32 (how the engine trains) the same comparison measures Adam, not the code: Adam
    divides a gradient by its running RMS, so a weight whose gradient is nearly zero moves by
    about the learning rate whichever way rounding tips it. Measured after 50 steps (widths
    0.125 and 0.25): most members within 1e-4, some up to 3e-2 apart, the same spread as
    between this engine and an ``nn.Module`` stored channels_last, or the NCHW engine and the
    NCHW ``nn.Module``."""
    # 40 evaluation images and width 0.125 keep the float64 convolutions to seconds
    d = _float64(cifar_small, 40)
    nets = [_masked(name, s, width=0.125) for s in range(2)]
    nets = [(n.double(), mk) for n, mk in nets]
    cfg = training.TrainConfig(iterations=50, batch_size=16, eval_every=50, lr=1.2e-3)
    seeds = [3, 4]
    run = training.train_population(nets[0][0], population.stack([n for n, _ in nets]),
                                    population.stack_masks([mk for _, mk in nets]), d, cfg,
                                    seeds, progress=False, layout="channels_last")
    for i, (net, mk) in enumerate(nets):
        ref = copy.deepcopy(net)
        training.train_plain(ref, d, cfg, masks=mk, seed=seeds[i])
        for n, p in ref.named_parameters():
            assert (run.params[n][i] - p).abs().max() <= 1e-10, (i, n)
            assert not torch.equal(p, net.get_parameter(n).to(p.device)), (i, n)   # it trained
            if n in mk:
                pruned = mk[n] == 0
                assert torch.count_nonzero(run.params[n][i][pruned]) == 0, (i, n)
                assert torch.count_nonzero(p[pruned]) == 0, (i, n)


def test_shared_and_separate_batches_agree(mnist_small):
    nets = [models.build("lenet", s) for s in range(2)]
    mk = population.stack_masks([masks.ones(n) for n in nets])
    cfg = training.TrainConfig(iterations=30, eval_every=30)
    shared = training.train_population(nets[0], population.stack(nets), mk, mnist_small, cfg, [5, 5],
                                       progress=False)
    # the same order, drawn per member (the (K, B, ...) path) instead of shared
    alone = [training.train_population(n, population.stack([n]), population.stack_masks([masks.ones(n)]),
                                       mnist_small, cfg, [5], progress=False) for n in nets]
    for i in range(2):
        assert torch.allclose(shared.params["fc1.weight"][i], alone[i].params["fc1.weight"][0], atol=1e-5)


def test_snapshot_is_a_clone_and_reset_restores_theta0_exactly(mnist_small):
    net, mk = _masked("lenet", 7)
    theta0 = population.stack([net])
    cfg = training.TrainConfig(iterations=50, eval_every=50, snapshot_at=0)
    run = training.train_population(net, theta0, population.stack_masks([mk]), mnist_small, cfg, [0],
                                    progress=False)
    for n in theta0:
        expected = theta0[n] * (population.stack_masks([mk])[n] if n in mk else 1)
        assert torch.equal(run.snapshot[n].cpu(), expected)      # exactly θ0 on the survivors
        assert not torch.equal(run.params[n], run.snapshot[n])   # training did not alias it
    later = training.train_population(net, theta0, population.stack_masks([mk]), mnist_small,
                                      training.TrainConfig(iterations=50, eval_every=50, snapshot_at=20),
                                      [0], progress=False)
    assert not torch.equal(later.snapshot["fc1.weight"], run.snapshot["fc1.weight"])


def test_training_reaches_good_accuracy_and_reports_early_stopping(mnist_small):
    net = models.build("lenet", 0)
    hist = training.train(net, mnist_small, training.TrainConfig(iterations=300, eval_every=50),
                          progress=False)
    assert hist.iterations == [0, 50, 100, 150, 200, 250, 300]
    assert hist.final_test_acc[0] > 0.85
    i = int(hist.val_loss[0].argmin())
    assert hist.early_stop_iteration == [hist.iterations[i]]
    assert hist.early_stop_test_acc[0] == pytest.approx(hist.test_acc[0, i].item())


def test_same_seed_same_numbers(mnist_small):
    runs = []
    for _ in range(2):
        net = models.build("lenet", 3)
        h = training.train(net, mnist_small, training.TrainConfig(iterations=60, eval_every=30),
                           seed=9, progress=False)
        runs.append((net.fc1.weight.clone(), h.test_acc.clone()))
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])


def test_bad_training_input(mnist_small):
    with pytest.raises(ValueError, match="optimizer must be 'adam' or 'sgd'"):
        training.TrainConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="one batch-order seed per member"):
        n = models.build("lenet")
        training.train_population(n, population.stack([n]), population.stack_masks([masks.ones(n)]),
                                  mnist_small, training.TrainConfig(iterations=1), [0, 1])
    lenet = models.build("lenet")
    with pytest.raises(ValueError, match="masks do not fit"):
        training.train(models.build("conv2"), mnist_small, training.TrainConfig(iterations=1),
                       masks=masks.ones(lenet))


def test_engine_layout_is_its_own_inverse_and_transposes_only_linear_weights():
    nets = [models.build("conv2", s) for s in range(2)]
    stacked = population.stack(nets)
    inside = population.engine_layout(nets[0], stacked)
    assert inside["fc1.weight"].shape == stacked["fc1.weight"].transpose(1, 2).shape
    assert inside["fc1.weight"].is_contiguous()
    assert inside["conv1.weight"].shape == stacked["conv1.weight"].shape
    back = population.engine_layout(nets[0], inside)
    assert all(torch.equal(back[n], stacked[n]) for n in stacked)
    back["fc1.weight"].zero_()                    # a copy: the caller's tensors are untouched
    assert stacked["fc1.weight"].abs().sum() > 0


@pytest.mark.parametrize("name", ["conv2", "conv6"])
def test_channels_last_layout_is_a_permutation_undone_exactly(name):
    """``engine_layout(..., "channels_last")`` keeps every number: conv weights keep their shape
    and are stored (K, O, kH, kW, I) (each member's weight a channels_last view), the first
    linear layer's rows are reordered; ``inverse`` gives back PyTorch's tensors exactly, and
    the network computes the same logits (float rounding apart) for shared and own batches."""
    nets = [models.build(name, s, width=0.25) for s in range(3)]
    stacked = population.stack(nets)
    inside = population.engine_layout(nets[0], stacked, "channels_last")
    assert inside["conv1.weight"].shape == stacked["conv1.weight"].shape
    assert inside["conv1.weight"][2].is_contiguous(memory_format=torch.channels_last)
    assert inside["fc1.weight"].shape == stacked["fc1.weight"].transpose(1, 2).shape
    back = population.engine_layout(nets[0], inside, "channels_last", inverse=True)
    assert all(torch.equal(back[n], stacked[n]) and back[n].is_contiguous() for n in stacked)
    x = torch.randn(3, 5, 3, 32, 32)
    own = x.movedim(2, -1).contiguous().movedim(-1, 2)      # each member's batch NHWC
    with torch.no_grad():
        ref = torch.stack([n(xx) for n, xx in zip(nets, x)])
        for xx, members in ((own, slice(None)), (own[0], slice(None)), (own[:1], slice(0, 1))):
            params = {n: t[members] for n, t in inside.items()}
            out = population.population_forward(nets[0], params, xx, True, "channels_last")
            expected = ref[members] if xx.dim() == 5 else torch.stack(
                [n(own[0]) for n in nets])
            assert torch.allclose(out, expected, atol=1e-5)


def test_forward_agrees_in_both_layouts_for_shared_and_own_batches(mnist_small):
    nets = [models.build("lenet", s).to(mnist_small.device) for s in range(3)]
    stacked = population.stack(nets)
    inside = population.engine_layout(nets[0], stacked)
    with torch.no_grad():
        for x in (mnist_small.test_x[:50], mnist_small.test_x[:2000],       # shared: both paths
                  mnist_small.test_x[:150].view(3, 50, 1, 28, 28)):           # one batch each
            a = population.population_forward(nets[0], stacked, x)
            b = population.population_forward(nets[0], inside, x, transposed=True)
            own = x if x.dim() == 5 else x.expand(3, *x.shape)
            ref = torch.stack([n(xx) for n, xx in zip(nets, own)])
            assert torch.allclose(a, ref, atol=1e-5) and torch.allclose(b, ref, atol=1e-5)


# ----------------------------------------------------------------------------- host syncs

class HostSync(RuntimeError):
    """An operation inside a training step that makes a GPU wait for the host."""


aten = torch.ops.aten
# a number read back (.item(), bool(t), float(t), int(t)), or an output whose size depends on
# the data: on a GPU each waits for every queued kernel
_READS_BACK = {aten._local_scalar_dense, aten.nonzero, aten.masked_select, aten.unique_dim,
               aten._unique, aten._unique2, aten.unique_consecutive, aten.bincount}


class _RefuseHostSyncs(TorchDispatchMode):
    """Raises :class:`HostSync` on every operation that waits for the host: those above,
    indexing with a boolean mask, and a copy between devices unless it is a non-blocking copy
    from pinned memory to a device. On a CPU nothing waits, but the same operations show here:
    the check runs on every machine."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        op = func.overloadpacket
        if op in _READS_BACK:
            raise HostSync(f"host sync: {func} reads data back")
        if op in (aten.index, aten.index_put, aten.index_put_) and any(
                i is not None and i.dtype == torch.bool for i in args[1]):
            raise HostSync(f"host sync: {func} with a boolean mask")
        if op in (aten._to_copy, aten.copy_):
            if op is aten._to_copy:
                src, dst = args[0], torch.device(kwargs.get("device") or args[0].device)
            else:
                src, dst = args[1], args[0].device
            non_blocking = kwargs.get("non_blocking", len(args) > 2 and args[2])
            if dst != src.device and not (src.device.type == "cpu" and non_blocking
                                          and src.is_pinned()):
                raise HostSync(f"host sync: copy {src.device} -> {dst}")
        return func(*args, **kwargs)


@contextmanager
def no_host_sync(device: torch.device):
    """Inside: any host synchronisation raises. Everywhere the dispatch check above and a
    refusal of ``Tensor.cpu``, ``.tolist`` and ``.numpy`` (on a CPU tensor they dispatch
    nothing); on CUDA also PyTorch's own ``torch.cuda.set_sync_debug_mode("error")``."""
    def refuse(name):
        def method(*args, **kwargs):
            raise HostSync(f"host sync: Tensor.{name}()")
        return method

    names = ("cpu", "tolist", "numpy")
    own = {n: torch.Tensor.__dict__.get(n) for n in names}   # None: inherited from TensorBase
    cuda = device.type == "cuda"
    before = torch.cuda.get_sync_debug_mode() if cuda else 0
    try:
        for n in names:
            setattr(torch.Tensor, n, refuse(n))
        if cuda:
            torch.cuda.set_sync_debug_mode("error")
        with _RefuseHostSyncs():
            yield
    finally:
        if cuda:
            torch.cuda.set_sync_debug_mode(before)
        for n, method in own.items():
            if method is None:
                delattr(torch.Tensor, n)
            else:
                setattr(torch.Tensor, n, method)


SYNC_ERROR = "host sync|synchronizing CUDA operation"


@pytest.mark.parametrize("plant", ["item", "bool", "float", "tolist", "cpu", "mask", "nonzero",
                                   "copy"])
def test_the_guard_catches_each_kind_of_host_sync(mnist_small, plant):
    x = mnist_small.train_x[:8]
    # "copy": a blocking copy to another device ("meta" stands in for one on any machine)
    act = {"item": lambda: x.sum().item(), "bool": lambda: bool(x.any()),
           "float": lambda: float(x.sum()), "tolist": lambda: x[0, 0, 0].tolist(),
           "cpu": lambda: x.cpu(), "mask": lambda: x[x > 0], "nonzero": lambda: x.nonzero(),
           "copy": lambda: x.to("meta")}
    with pytest.raises(RuntimeError, match=SYNC_ERROR), no_host_sync(x.device):
        act[plant]()
    act[plant]()   # outside the guard: allowed again


@pytest.mark.parametrize("name", ["lenet", "conv2"])
def test_a_training_step_never_waits_on_the_host(mnist_small, cifar_small, monkeypatch, name):
    """Every step of train_population runs under :func:`no_host_sync` (evaluations, which read
    numbers back, do not): own batches (K = 2), a shared batch, K = 1; across an epoch boundary,
    where the next shuffle moves to the device. Then a host sync planted in the step fails."""
    d = mnist_small if name == "lenet" else cifar_small
    nets = [_masked(name, s, **({} if name == "lenet" else {"width": 0.25})) for s in range(2)]
    batch = len(d.train_y) // 4            # 4 steps an epoch: 6 steps cross into the second
    cfg = training.TrainConfig(iterations=6, batch_size=batch, eval_every=3)
    real_step, steps = training._step, []

    def guarded(*args, **kwargs):
        steps.append(1)
        with no_host_sync(d.device):
            real_step(*args, **kwargs)

    def train(seeds):
        members = nets[:len(seeds)]
        return training.train_population(
            nets[0][0], population.stack([n for n, _ in members]),
            population.stack_masks([mk for _, mk in members]), d, cfg, seeds, progress=False)

    monkeypatch.setattr(training, "_step", guarded)
    for seeds in ([1, 2], [3, 3], [4]):
        train(seeds)
    assert len(steps) == 3 * cfg.iterations

    real_forward = training.population_forward

    def reads_back(*args, **kwargs):
        logits = real_forward(*args, **kwargs)
        if logits.isnan().any():           # a Python branch on a tensor: a host sync
            raise FloatingPointError("NaN logits")
        return logits

    monkeypatch.setattr(training, "population_forward", reads_back)
    with pytest.raises(RuntimeError, match=SYNC_ERROR):
        train([1, 2])
