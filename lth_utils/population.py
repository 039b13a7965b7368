"""A population: K networks of one architecture stacked into one computation.

A lottery-ticket study trains many small networks of one architecture: trials, the ticket and
its controls. Instead of running them one after another, we stack their parameters (a weight of
shape (out, in) becomes (K, out, in)) and run all K at once: ``baddbmm`` for linear layers (one
batched matrix product), and for conv layers one ordinary convolution per member (a grouped
convolution over all K measured slower per network than K separate ones, and its arithmetic
depends on K). Each member keeps its own loss and gradients, and since Adam and SGD act on every
number separately, one optimiser over the stacked tensors *is* K independent optimisers
(``training.train_population``).

A member's numbers do not depend on which other members share its population: member k of a
population computes bit for bit what it computes alone (``tests/test_population.py``). That is
what lets a study split by trials and merged equal one run.

Inside the engine each linear weight is stored transposed, (K, in, out): the layout in which its
gradient comes out of the matmul, so no step copies it (:func:`engine_layout`).

Conv nets train in one of two memory layouts, chosen per architecture and device in one place
(:func:`conv_layout`, by measurement): ``"contiguous"`` (PyTorch's NCHW) or ``"channels_last"``
(NHWC: a pixel's channels side by side). In channels_last every tensor of the step is stored so:
the images (once per training run), each member's conv weight (the stacked (K, O, I, kH, kW)
tensor kept in memory as (K, O, kH, kW, I)), its mask and optimiser state (the same strides),
and the activations, ReLUs and max-pools (which keep their input's layout). The flatten before
the first linear layer then reads each image in (H, W, C) order, a view with no copy, and that
layer's weight rows are stored in the same order (:func:`engine_layout`), so no step copies a
tensor from one layout to the other.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .masks import Masks

Params = dict[str, torch.Tensor]

CONTIGUOUS, CHANNELS_LAST = "contiguous", "channels_last"
LAYOUTS = (CONTIGUOUS, CHANNELS_LAST)

# The layout a conv net trains in, per (architecture, device type); anything not listed trains
# contiguous (NCHW), the layout the engine had before it was measured. Measured on a CPU (one
# thread, 2 cores, torch 2.14; both layouts and K = 1, 4 interleaved in one process, 7 repeats):
# the engine's training step (forward, backward, fused Adam, remask) at batch 60, time per
# network, channels_last / NCHW (median of the paired ratios; in brackets, a second run on a
# machine five times busier):
#   Conv-2 width 1:    K = 1 0.90 (0.96), K = 4 0.90 (0.90)
#   Conv-2 width 0.25: K = 1 0.89 (0.88), K = 4 0.91 (0.86)
#   Conv-4 width 0.25: K = 1 0.83 (0.88), K = 4 0.90 (0.88)
#   Conv-6 width 0.25: K = 1 0.79 (0.84), K = 4 0.87 (0.84)
# (Flattening channels_last activations in PyTorch's (C, H, W) order instead, a copy each step:
# 0.83-1.22 in a first, component-level measurement, where the (H, W, C) view gave 0.78-0.99.)
# On a GPU (an H200, torch 2.11, fp32 with TF32 off, 2026-12-04; the bench's blocked_autorange
# medians, and a 200-step probe of the engine at width 0.25), channels_last / NCHW per network:
#   Conv-2 width 1:    K = 1 1.12, K = 4 1.17        Conv-2 width 0.25: K = 1 1.01, K = 4 1.31
#   Conv-4 width 0.25: K = 1 0.97, K = 3 1.07        Conv-6 width 0.25: K = 1 1.06, K = 3 1.10
# so CUDA trains NCHW. (There a step of these small networks is bound by kernel launches, about
# 3 ms whatever K: the GPU's lever is the population size, not the layout.)
CONV_LAYOUTS: dict[tuple[str, str], str] = {
    ("conv2", "cpu"): CHANNELS_LAST,
    ("conv4", "cpu"): CHANNELS_LAST,
    ("conv6", "cpu"): CHANNELS_LAST,
    ("conv2", "cuda"): CONTIGUOUS,
    ("conv4", "cuda"): CONTIGUOUS,
    ("conv6", "cuda"): CONTIGUOUS,
}


def conv_layout(template: nn.Module, device: torch.device | str) -> str:
    """The memory layout the engine trains ``template``'s architecture in on ``device``:
    ``"channels_last"`` or ``"contiguous"`` (see :data:`CONV_LAYOUTS`, the measured choice).
    A network without conv layers (LeNet) is always ``"contiguous"``."""
    convs = sum(isinstance(m, nn.Conv2d) for m in template.modules())
    if convs == 0:
        return CONTIGUOUS
    return CONV_LAYOUTS.get((f"conv{convs}", torch.device(device).type), CONTIGUOUS)


def check_layout(layout: str) -> str:
    """``layout`` if it is one of :data:`LAYOUTS`, else a ``ValueError`` that lists them."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    return layout


# ----------------------------------------------------------------------------- stacking

def stack(models: list[nn.Module]) -> Params:
    """Stack the parameters of K same-shaped models: name -> tensor of shape (K, *shape)."""
    states = [dict(m.named_parameters()) for m in models]
    return {n: torch.stack([s[n].detach() for s in states]).clone() for n in states[0]}


def unstack(params: Params, template: nn.Module) -> list[nn.Module]:
    """The K models held in stacked ``params``, as copies of ``template``."""
    import copy
    k = next(iter(params.values())).shape[0]
    models = []
    for i in range(k):
        m = copy.deepcopy(template)
        with torch.no_grad():
            for n, p in m.named_parameters():
                p.copy_(params[n][i])
        models.append(m)
    return models


def stack_masks(masks: list[Masks]) -> Masks:
    """Stack K mask sets: name -> (K, *shape)."""
    return {n: torch.stack([m[n] for m in masks]) for n in masks[0]}


# ----------------------------------------------------------------------------- forward

def population_forward(template: nn.Sequential, params: Params, x: torch.Tensor,
                       transposed: bool = False, layout: str = CONTIGUOUS) -> torch.Tensor:
    """Run K stacked networks of ``template``'s architecture.

    ``x`` is (B, C, H, W), the same images for every member, or (K, B, C, H, W), each member its
    own. Returns logits of shape (K, B, classes). Hidden activations are kept either as a list
    of K (B, C, H, W) tensors (conv layers, one convolution per member) or as (K, B, F) (linear
    layers, one batched GEMM).
    ``transposed``: the linear weights are stored as (K, in, out), the engine's training layout
    (see :func:`engine_layout`), instead of PyTorch's (K, out, in).
    ``layout``: ``"channels_last"`` flattens each image in (H, W, C) order, the order of the
    first linear layer's weight rows in the engine's channels_last layout (:func:`engine_layout`);
    a view when the activations are channels_last. The convolutions follow the strides of the
    tensors they are given (an image or weight stored channels_last computes channels_last).
    """
    hwc = check_layout(layout) == CHANNELS_LAST
    k = next(iter(params.values())).shape[0]
    if k == 1 and x.dim() == 5:
        x = x[0]
    # K = 1 is the ordinary network: every layer runs as in nn.Conv2d / nn.Linear
    single = k == 1
    shared = x.dim() == 4
    # conv activations of K > 1 members: a list of K (B, C, H, W) tensors, one per member
    h: torch.Tensor | list[torch.Tensor] = x
    for name, layer in template.named_children():
        if isinstance(layer, nn.Conv2d) and single:
            h = F.conv2d(h, params[f"{name}.weight"][0], params[f"{name}.bias"][0],
                         layer.stride, layer.padding)
        elif isinstance(layer, nn.Linear) and single:
            w, b = params[f"{name}.weight"][0], params[f"{name}.bias"][0]
            h = torch.addmm(b, h, w if transposed else w.t())
        elif isinstance(layer, nn.Conv2d):
            ws, bs = params[f"{name}.weight"].unbind(0), params[f"{name}.bias"].unbind(0)
            if isinstance(h, torch.Tensor):   # the input: shared (B, C, H, W) or (K, B, C, H, W)
                h = [h] * k if shared else list(h.unbind(0))
                shared = False
            h = [F.conv2d(hm, w, b, layer.stride, layer.padding) for hm, w, b in zip(h, ws, bs)]
        elif isinstance(layer, nn.Linear):
            w, b = params[f"{name}.weight"], params[f"{name}.bias"]
            wt = w if transposed else w.transpose(1, 2)            # (K, in, out)
            if shared:  # one batch for every member (evaluation): K x the product of K = 1
                h = torch.stack([torch.addmm(bm, h, wm) for bm, wm in zip(b, wt)])
            else:       # each member its own batch: one batched GEMM
                h = torch.baddbmm(b.unsqueeze(1), h, wt)
            shared = False
        elif isinstance(layer, nn.Flatten):
            if hwc and isinstance(h, list):   # (B, C, H, W) -> (B, H, W, C): a view
                h = [hm.movedim(1, -1) for hm in h]
            elif hwc and h.dim() >= 4:
                h = h.movedim(-3, -1)
            if isinstance(h, list):          # K x (B, C, H, W) -> (K, B, C*H*W)
                h = torch.stack([hm.flatten(1) for hm in h])
            else:
                h = h.flatten(1) if shared else h.flatten(2)
        elif isinstance(layer, (nn.ReLU, nn.MaxPool2d, nn.Dropout)):
            if isinstance(h, list):
                h = [layer(hm) for hm in h]
            elif h.dim() == 5:
                h = layer(h.flatten(0, 1)).unflatten(0, h.shape[:2])
            else:
                h = layer(h)
        else:
            raise TypeError(f"population_forward does not know layer {name}: "
                            f"{type(layer).__name__}")
    return h.unsqueeze(0) if single else h


def engine_layout(template: nn.Module, tensors: Params, layout: str = CONTIGUOUS,
                  inverse: bool = False) -> Params:
    """Stacked weights or masks (name -> (K, *shape)) in the layout the engine trains in, or,
    with ``inverse``, back from it to PyTorch's; always copies.

    * Every linear weight (K, out, in) becomes a contiguous (K, in, out). Why: the weight
      gradient of ``h @ W.T`` comes out of the matmul as (in, out); stored as (out, in), every
      step would copy it once more.
    * ``layout="channels_last"`` (:func:`conv_layout`): each conv weight keeps its shape
      (K, O, I, kH, kW) and is stored as (K, O, kH, kW, I), so that member k's weight is a
      channels_last (O, I, kH, kW) view; the first linear layer's rows (its inputs) are put in
      the order in which :func:`population_forward` flattens channels_last images, (H, W, C)
      instead of (C, H, W). A permutation: every number is kept as it is.

    In the contiguous layout the transformation is its own inverse
    (``engine_layout(t, engine_layout(t, p)) == p``); ``inverse`` undoes the channels_last one.
    """
    hwc = check_layout(layout) == CHANNELS_LAST
    linear = {f"{n}.weight" for n, m in template.named_modules() if isinstance(m, nn.Linear)}
    conv = {f"{n}.weight" for n, m in template.named_modules() if isinstance(m, nn.Conv2d)}
    first, chw = _first_linear_input(template) if hwc else (None, None)
    out = {}
    for n, t in tensors.items():
        if n in linear and inverse and n == first:     # rows (H, W, C) -> (C, H, W)
            c, hh, ww = chw
            t = t.unflatten(1, (hh, ww, c)).permute(0, 3, 1, 2, 4).flatten(1, 3)
        if n in linear:
            t = t.transpose(-1, -2)
        if n in linear and not inverse and n == first:  # rows (C, H, W) -> (H, W, C)
            t = t.unflatten(1, chw).permute(0, 2, 3, 1, 4).flatten(1, 3)
        if n in conv and hwc and not inverse:           # stored (K, O, kH, kW, I)
            out[n] = t.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
        else:
            out[n] = t.clone(memory_format=torch.contiguous_format)
    return out


def _first_linear_input(template: nn.Module) -> tuple[str, tuple[int, int, int]]:
    """The weight name of the linear layer after a conv net's ``Flatten`` and the (C, H, W)
    shape of the images it flattens (square images: H = W)."""
    convs = [m for m in template.modules() if isinstance(m, nn.Conv2d)]
    linear = [(n, m) for n, m in template.named_modules() if isinstance(m, nn.Linear)]
    if not convs or not linear:
        raise ValueError("the channels_last layout is for conv nets (conv layers, then linear)")
    name, first = linear[0]
    c = convs[-1].out_channels
    side = round((first.in_features // c) ** 0.5)
    if c * side * side != first.in_features:
        raise ValueError(f"{name} has {first.in_features} inputs: not {c} square channels")
    return f"{name}.weight", (c, side, side)


@torch.no_grad()
def evaluate(template: nn.Sequential, params: Params, x: torch.Tensor, y: torch.Tensor,
             chunk: int = 5000, transposed: bool = False, layout: str = CONTIGUOUS
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy loss and accuracy of each of K members on (x, y): two (K,) tensors
    on the device of ``x``. ``transposed``, ``layout``: as in :func:`population_forward`."""
    k = next(iter(params.values())).shape[0]
    loss = torch.zeros(k, device=x.device)
    correct = torch.zeros(k, device=x.device)
    for s in range(0, len(y), chunk):
        logits = population_forward(template, params, x[s:s + chunk], transposed,
                                    layout)
        yy = y[s:s + chunk]
        loss += F.cross_entropy(logits.flatten(0, 1), yy.repeat(k), reduction="none") \
            .view(k, -1).sum(1)
        correct += (logits.argmax(-1) == yy).sum(1)
    return loss / len(y), correct / len(y)


@torch.no_grad()
def correct(template: nn.Sequential, params: Params, x: torch.Tensor, y: torch.Tensor,
            chunk: int = 5000) -> torch.Tensor:
    """Each of K members' answers image by image: a (K, N) float tensor, 1 where member k
    classifies image n correctly, 0 where not, on the device of ``x``. ``params`` are stacked
    in PyTorch's layout (e.g. ``PopulationRun.early_stop_params``); the template is evaluated
    in eval mode and left in the mode it was in. Its mean over images is :func:`evaluate`'s
    accuracy; differences between two rows are what :func:`lth_utils.records.paired_two_se`
    reads."""
    was = template.training
    template.eval()
    try:
        return torch.cat([population_forward(template, params, x[s:s + chunk]).argmax(-1)
                          == y[s:s + chunk] for s in range(0, len(y), chunk)], 1).float()
    finally:
        template.train(was)
