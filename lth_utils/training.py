"""Training: one loop for a *population* of masked networks trained side by side.

:func:`train_population` trains K networks of one architecture at once, stacked into one
computation (see ``population.py``: why, and the layout it trains in); each member has its own
batches, loss, gradients and optimiser state. K = 1 is the ordinary single network
(:func:`train`). Weights go in and come out in PyTorch's layout, stacked: (K, *shape).
Training runs where the data is (``data.load(..., device=...)``, default ``$LTH_DEVICE``).

Pruned weights must stay exactly zero. Zeroing them once is not enough: their gradients are not
zero, so Adam's running averages (or SGD's momentum) would move them again. The engine multiplies
the weights by their masks after every step, which keeps them exactly zero whatever the
optimiser's state holds. (Masking the gradients too, as :func:`train_plain` does, changes no
surviving weight: the optimisers act on each number separately. The engine skips it: one pass
over all K networks' weights fewer per step.)

:func:`train_plain` is the textbook loop for one ``nn.Module``: the reference the population
engine is tested against, and the loop the chapters show.

On a GPU the steps between two evaluations never wait on the host: each epoch's batch order is
drawn on the CPU (the same order on every device) and copied to the GPU once, and a step reads
no number back (no ``.item()``, ``bool(tensor)`` or ``.cpu()``: ``tests/test_training.py``
fails if one enters :func:`_step`). Only evaluations read numbers back.
"""
from __future__ import annotations

import ctypes
import sys
from dataclasses import asdict, dataclass, field, replace
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from .data import Splits
from .masks import Masks, check_fits
from .population import (CHANNELS_LAST, Params, check_layout, conv_layout, engine_layout,
                         evaluate, population_forward, stack, stack_masks)


@dataclass
class TrainConfig:
    """Hyperparameters of one training run (defaults: the paper's LeNet on MNIST)."""
    iterations: int = 50_000
    batch_size: int = 60
    optimizer: str = "adam"          # "adam" or "sgd" (with momentum)
    lr: float = 1.2e-3
    momentum: float = 0.9
    eval_every: int = 100            # evaluate on the validation set every N iterations
    # test-set curve every N iterations (None: at every evaluation). The test accuracy at early
    # stop is always exact: the weights at each new validation minimum are kept and tested.
    test_every: int | None = None
    eval_batch: int = 5000           # images per evaluation chunk (memory, not results)
    snapshot_at: int | None = None   # keep a copy of the weights at this iteration (rewinding)

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        for name in ("iterations", "batch_size", "eval_every", "eval_batch"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.test_every is not None and (self.test_every < 1
                                            or self.test_every % self.eval_every):
            raise ValueError(f"test_every must be a positive multiple of eval_every="
                             f"{self.eval_every} (or None), got {self.test_every}")
        if self.snapshot_at is not None and not 0 <= self.snapshot_at <= self.iterations:
            raise ValueError(f"snapshot_at must be in [0, iterations={self.iterations}], "
                             f"got {self.snapshot_at}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class History:
    """Evaluation curves of K networks.

    Validation curves have shape (K, E) at ``iterations``; test curves (K, E') at
    ``test_iterations`` (every evaluation, or every ``test_every``). ``es_test_loss`` and
    ``es_test_acc`` (K,) are measured on the weights of each member's early stop.
    """
    iterations: list[int] = field(default_factory=list)
    val_loss: torch.Tensor = field(default_factory=lambda: torch.empty(0, 0))
    val_acc: torch.Tensor = field(default_factory=lambda: torch.empty(0, 0))
    test_loss: torch.Tensor = field(default_factory=lambda: torch.empty(0, 0))
    test_acc: torch.Tensor = field(default_factory=lambda: torch.empty(0, 0))
    test_iterations: list[int] | None = None    # None: the same as ``iterations``
    es_test_loss: torch.Tensor | None = None
    es_test_acc: torch.Tensor | None = None

    @property
    def early_stop_index(self) -> torch.Tensor:
        """(K,) index of the evaluation with the lowest validation loss (the paper's criterion)."""
        return self.val_loss.argmin(dim=1)

    @property
    def early_stop_iteration(self) -> list[int]:
        return [self.iterations[i] for i in self.early_stop_index.tolist()]

    @property
    def early_stop_test_acc(self) -> list[float]:
        if self.es_test_acc is not None:
            return self.es_test_acc.tolist()
        idx = self.early_stop_index
        return self.test_acc[torch.arange(len(idx)), idx].tolist()

    @property
    def final_test_acc(self) -> list[float]:
        return self.test_acc[:, -1].tolist()

    def member(self, k: int) -> dict:
        """Member ``k``'s curves and summary as plain lists (for JSON records).

        ``test_iteration`` is only there when the test curve has its own, coarser grid."""
        out = {"iteration": list(self.iterations),
               "val_loss": [round(v, 5) for v in self.val_loss[k].tolist()],
               "val_acc": [round(v, 5) for v in self.val_acc[k].tolist()],
               "test_acc": [round(v, 5) for v in self.test_acc[k].tolist()],
               "early_stop_iteration": self.early_stop_iteration[k],
               "early_stop_test_acc": round(self.early_stop_test_acc[k], 5),
               "final_test_acc": round(self.final_test_acc[k], 5)}
        if self.test_iterations is not None and self.test_iterations != self.iterations:
            out["test_iteration"] = list(self.test_iterations)
        return out


# ----------------------------------------------------------------------------- batches

def batch_indices(n: int, batch_size: int, generator: torch.Generator,
                  device: torch.device | str | None = None) -> Iterator[torch.Tensor]:
    """Endless stream of (batch_size,) index tensors: a fresh shuffle of range(n) every epoch.

    The last incomplete batch of an epoch is dropped, so every batch has ``batch_size`` images.
    The shuffle is drawn on the CPU from ``generator`` (the same order whatever the device) and,
    with ``device``, moved there once per epoch: on CUDA from pinned memory without waiting, so
    that no training step waits for a copy.
    """
    if batch_size > n:
        raise ValueError(f"batch_size {batch_size} is larger than the training set ({n} images)")
    device = None if device is None else torch.device(device)
    while True:
        perm = torch.randperm(n, generator=generator)
        if device is not None and device.type == "cuda":
            perm = perm.pin_memory().to(device, non_blocking=True)
        elif device is not None:
            perm = perm.to(device)
        for start in range(0, n - batch_size + 1, batch_size):
            yield perm[start:start + batch_size]


def _population_batches(data: Splits, seeds: list[int], batch_size: int
                       ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless training batches of K members, on the device of ``data``: ``(x, y)``.

    One batch-order seed per member. If all seeds are equal the batch is shared: x is
    (B, C, H, W); otherwise each member has its own: x is (K, B, C, H, W). y is (K * B,), the
    labels member after member (the order of the population's flattened logits).
    """
    n, dev, k = len(data.train_y), data.train_x.device, len(seeds)
    if len(set(seeds)) == 1:
        for idx in batch_indices(n, batch_size, torch.Generator().manual_seed(seeds[0]), dev):
            yield data.train_x[idx], data.train_y[idx].repeat(k)
    else:
        streams = [batch_indices(n, batch_size, torch.Generator().manual_seed(s), dev)
                   for s in seeds]
        while True:
            idx = torch.stack([next(s) for s in streams])                 # (K, B)
            yield data.train_x[idx], data.train_y[idx].reshape(-1)


def images_in_layout(data: Splits, layout: str) -> Splits:
    """``data`` with its images (N, C, H, W) stored in ``layout`` (``"channels_last"``: NHWC in
    memory; ``"contiguous"``: as they are). A copy of the images, once per training run, unless
    they are stored so already (then ``data`` itself): a caller that trains many runs on the
    same data can convert it once. Batches gathered from channels_last images are channels_last
    (``train_x[idx]`` keeps the layout), so no step converts a batch."""
    if check_layout(layout) != CHANNELS_LAST or data.train_x.dim() != 4:
        return data
    fmt, splits = torch.channels_last, ("train_x", "val_x", "test_x")
    if all(getattr(data, s).is_contiguous(memory_format=fmt) for s in splits):
        return data
    return replace(data, **{s: getattr(data, s).contiguous(memory_format=fmt) for s in splits})


# ----------------------------------------------------------------------------- training

def _optimizer(params: list[torch.Tensor], cfg: TrainConfig,
               fused: bool | None = None) -> torch.optim.Optimizer:
    # fused: one pass over memory per step (the stacked state of K networks is large)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, fused=fused)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, fused=fused)


# Fused Adam/SGD on a CPU walk a tensor in 16-float units (one 64-byte cache line; SIMD vectors
# are at most that wide), rounding a unit's numbers the same way wherever it lies. Member k's
# slice of a stacked tensor therefore computes as it would alone only if every member's slice
# is a whole number of units. Other weights (LeNet's biases, its 10 x 100 output layer) are kept
# as K separate tensors and stacked in the forward pass (a copy of a few thousand numbers).
_UNIT = 16


def member_leaves(params: Params, device: torch.device | str):
    """The tensors an optimiser steps for stacked ``params`` (name -> (K, *shape)), and a
    function that returns the stacked weights (differentiable, for the forward pass).

    Returns ``(leaves, weights)``: ``leaves[name]`` is one (K, *shape) tensor, or a list of K
    (*shape) tensors where a member's slice is not a whole number of fused-optimiser units (see
    above), so that each member's arithmetic does not depend on K."""
    k = next(iter(params.values())).shape[0]
    leaves: dict[str, torch.Tensor | list[torch.Tensor]] = {}
    for n, t in params.items():
        t = t.detach().to(device)
        if k == 1 or t[0].numel() % _UNIT == 0:
            leaves[n] = t.clone().requires_grad_(True)
        else:
            leaves[n] = [m.clone().requires_grad_(True) for m in t.unbind(0)]

    def weights() -> Params:
        return {n: torch.stack(v) if isinstance(v, list) else v for n, v in leaves.items()}
    return leaves, weights


def use_device_settings(dev: torch.device) -> None:
    """The settings every run of the engine trains with on ``dev`` (set here and nowhere else;
    ``bench`` sets them too, for every loop it times).

    On CUDA: ``cudnn.benchmark``: cuDNN times its convolution algorithms once per shape and
    keeps the fastest (one population has one shape per layer). TF32 off, for matmuls and
    convolutions: it rounds float32 inputs to 10 mantissa bits, and no test shows that tickets
    and their controls come out the same with it; the records say ``precision: fp32``.

    On a CPU with glibc (Linux): freed memory is kept for reuse (``mallopt``: no ``mmap`` below
    1 GiB, no trimming of the heap). A step frees and allocates the same large activations and
    gradients every time; by default glibc hands large blocks back to the system and the next
    step touches fresh pages (a page fault every 4 KB). Measured (Conv-2 width 1, batch 60, one
    thread, K = 1 and 4 interleaved): K = 4 took 1.4-2.4 x K = 1's time per network without
    this, 1.0 x with it. The process then keeps its peak memory. The numbers computed are the
    same: only where memory comes from changes."""
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    elif dev.type == "cpu":
        _keep_freed_memory()


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3   # glibc's mallopt parameters (malloc.h)
_memory_kept = False


def _keep_freed_memory() -> None:
    global _memory_kept
    if _memory_kept or not sys.platform.startswith("linux"):
        return
    _memory_kept = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 2 ** 30)
        libc.mallopt(_M_TRIM_THRESHOLD, 2 ** 31 - 1)
    except (OSError, AttributeError):   # not glibc (e.g. musl): nothing to set
        pass


def _step(template: nn.Sequential, weights, batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
          opt: torch.optim.Optimizer, remask, batch_size: int, layout: str) -> None:
    """One training step of the population in ``layout`` (see ``population.conv_layout``):
    next batch, forward, loss, backward, optimiser step, pruned weights back to zero. It reads
    no number back to the host (no ``.item()``, ``bool(tensor)``, ``.cpu()`` or data-dependent
    shape), so on a GPU the steps between two evaluations are queued without waiting
    (``tests/test_training.py`` checks it)."""
    x, y = next(batches)
    logits = population_forward(template, weights(), x, True, layout)  # (K, B, classes)
    # sum over members of each member's mean loss: member k's gradient is its own
    loss = F.cross_entropy(logits.flatten(0, 1), y, reduction="sum") / batch_size
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    remask()


@dataclass
class PopulationRun:
    """What :func:`train_population` returns: final stacked weights, curves, optional snapshot,
    and the stacked weights at each member's early stop (its lowest validation loss), the ones
    ``history.early_stop_test_acc`` was measured on."""
    params: Params
    history: History
    snapshot: Params | None = None
    early_stop_params: Params | None = None


def train_population(template: nn.Sequential, params: Params, masks: Masks, data: Splits,
                     cfg: TrainConfig, seeds: list[int], progress: bool | None = None,
                     desc: str = "training", layout: str | None = None) -> PopulationRun:
    """Train K masked networks of ``template``'s architecture side by side.

    ``params``: stacked initial weights, name -> (K, *shape) (not modified; see :func:`stack`).
    ``masks``: stacked masks for the prunable weights, name -> (K, *shape).
    ``seeds``: K batch-order seeds. Members with equal seeds see the same batches; if all are
    equal the batch is shared, which is faster.
    Training runs on the device of ``data`` (see ``data.load``); the returned weights live there.
    ``template`` is read for its architecture only: it stays where it is, on whatever device.
    ``progress``: a progress bar (default: :func:`lth_utils.progress_bars`).
    ``layout``: the memory layout to train in, ``"channels_last"`` or ``"contiguous"`` (default:
    ``population.conv_layout``, the measured choice for this architecture and device). Results
    agree across layouts up to float rounding; within one layout a member computes bit for bit
    what it computes alone.
    """
    from tqdm.auto import tqdm

    from . import progress_bars

    k = next(iter(params.values())).shape[0]
    if len(seeds) != k:
        raise ValueError(f"need one batch-order seed per member: {k} members, {len(seeds)} seeds")
    check_fits(template, {n: m[0] for n, m in masks.items()})
    if any(masks[n].shape[0] != k for n in masks):
        raise ValueError(f"masks are stacked for another population size than K={k}")
    dev = data.train_x.device
    use_device_settings(dev)
    # the template is read for its architecture only: never moved (moving the caller's module
    # to the GPU mixed devices in every caller that kept using it; seen on a GPU, 2026-12-04)
    layout = check_layout(conv_layout(template, dev) if layout is None else layout)
    data = images_in_layout(data, layout)
    masks = {n: m.to(dev) for n, m in engine_layout(template, masks, layout).items()}
    leaves, weights = member_leaves(engine_layout(template, params, layout), dev)
    names = [n for n in masks if not bool(masks[n].all())]   # all-ones masks need no work
    pruned = [(t, m.to(t.dtype)) for n in names for t, m in
              (zip(leaves[n], masks[n]) if isinstance(leaves[n], list) else [(leaves[n], masks[n])])]

    @torch.no_grad()
    def remask() -> None:  # pruned weights back to exactly zero
        if pruned:
            torch._foreach_mul_([t for t, _ in pruned], [m for _, m in pruned])

    remask()
    opt = _optimizer([t for v in leaves.values() for t in (v if isinstance(v, list) else [v])],
                     cfg, fused=True)

    batches = _population_batches(data, seeds, cfg.batch_size)
    template.train()
    torch.manual_seed(seeds[0])  # only dropout draws from the global generator
    history = History(test_iterations=[])
    vals: list[tuple[torch.Tensor, torch.Tensor]] = []
    tests: list[tuple[torch.Tensor, torch.Tensor]] = []
    test_every = cfg.test_every or cfg.eval_every
    # the weights at each member's lowest validation loss so far (its early stop)
    best_loss = torch.full((k,), float("inf"), device=dev)
    with torch.no_grad():
        best = {n: v.detach().clone() for n, v in weights().items()}
    snapshot = None

    def test(weights: Params) -> tuple[torch.Tensor, torch.Tensor]:
        return evaluate(template, weights, data.test_x, data.test_y, cfg.eval_batch, True,
                        layout)

    @torch.no_grad()
    def record(t: int) -> None:
        template.eval()
        p = weights()
        vl, va = evaluate(template, p, data.val_x, data.val_y, cfg.eval_batch, True, layout)
        better = vl < best_loss                    # strict: the first minimum, as argmin
        if bool(better.any()):
            best_loss.copy_(torch.where(better, vl, best_loss))
            for n, v in p.items():
                best[n][better] = v[better]
        if t % test_every == 0 or t == cfg.iterations:
            tests.append(test(p))
            history.test_iterations.append(t)
        template.train()
        history.iterations.append(t)
        vals.append((vl, va))

    bar = tqdm(total=cfg.iterations, desc=desc, leave=False,
               disable=not (progress_bars() if progress is None else progress))
    for t in range(cfg.iterations + 1):
        if cfg.snapshot_at == t:
            with torch.no_grad():
                snapshot = engine_layout(template, weights(), layout, inverse=True)
        if t % cfg.eval_every == 0 or t == cfg.iterations:
            record(t)
            bar.set_postfix(val_acc=f"{vals[-1][1].mean():.4f}")
        if t == cfg.iterations:
            break
        _step(template, weights, batches, opt, remask, cfg.batch_size, layout)
        if t % 20 == 0:
            bar.update(min(20, cfg.iterations - bar.n))
    bar.close()
    template.eval()
    history.es_test_loss, history.es_test_acc = (v.cpu() for v in test(best))
    template.train()
    history.val_loss, history.val_acc = (torch.stack(c, dim=1).cpu() for c in zip(*vals))
    history.test_loss, history.test_acc = (torch.stack(c, dim=1).cpu() for c in zip(*tests))
    with torch.no_grad():
        final = engine_layout(template, weights(), layout, inverse=True)
        best = engine_layout(template, best, layout, inverse=True)
    return PopulationRun(final, history, snapshot, best)


def train(model: nn.Sequential, data: Splits, cfg: TrainConfig, masks: Masks | None = None,
          seed: int = 0, progress: bool | None = None, desc: str = "training") -> History:
    """Train one (optionally masked) network in place with the population engine at K = 1.
    The model ends on the data's device (as in ``train_plain``), ready to evaluate there.

    Returns its :class:`History` (curves of shape (1, E)).
    """
    from .masks import ones
    masks = ones(model) if masks is None else masks
    run = train_population(model, stack([model]), stack_masks([masks]), data, cfg, [seed],
                           progress, desc)
    model.to(data.train_x.device)
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(run.params[n][0].to(p.device))
    return run.history


def train_plain(model: nn.Module, data: Splits, cfg: TrainConfig, masks: Masks | None = None,
                seed: int = 0) -> History:
    """The textbook loop for one ``nn.Module`` (in-memory batches, masks kept at zero).

    Same batches, optimiser and evaluation points as :func:`train`, so results agree.
    """
    model.to(data.train_x.device)
    params = dict(model.named_parameters())
    if masks is not None:
        check_fits(model, masks)
        masks = {n: m.to(data.train_x.device) for n, m in masks.items()}
    opt = _optimizer(list(model.parameters()), cfg)
    stream = batch_indices(len(data.train_y), cfg.batch_size, torch.Generator().manual_seed(seed),
                           data.train_x.device)
    curves: list[list[float]] = []
    iterations = []

    def apply_masks(grads: bool) -> None:
        for n, m in (masks or {}).items():
            (params[n].grad if grads else params[n]).mul_(m)

    with torch.no_grad():
        apply_masks(grads=False)
    for t in range(cfg.iterations + 1):
        if t % cfg.eval_every == 0 or t == cfg.iterations:
            model.eval()
            with torch.no_grad():
                row = []
                for x, y in ((data.val_x, data.val_y), (data.test_x, data.test_y)):
                    logits = model(x)
                    row += [F.cross_entropy(logits, y).item(),
                            (logits.argmax(1) == y).float().mean().item()]
            model.train()
            curves.append(row)
            iterations.append(t)
        if t == cfg.iterations:
            break
        idx = next(stream)
        loss = F.cross_entropy(model(data.train_x[idx]), data.train_y[idx])
        opt.zero_grad()
        loss.backward()
        with torch.no_grad():
            apply_masks(grads=True)
            opt.step()
            apply_masks(grads=False)
    c = torch.tensor(curves).T.unsqueeze(1)  # (4, 1, E)
    return History(iterations, c[0], c[1], c[2], c[3])
