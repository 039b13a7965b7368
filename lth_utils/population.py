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
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .masks import Masks

Params = dict[str, torch.Tensor]


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
                       transposed: bool = False) -> torch.Tensor:
    """Run K stacked networks of ``template``'s architecture.

    ``x`` is (B, C, H, W), the same images for every member, or (K, B, C, H, W), each member its
    own. Returns logits of shape (K, B, classes). Hidden activations are kept either as a list
    of K (B, C, H, W) tensors (conv layers, one convolution per member) or as (K, B, F) (linear
    layers, one batched GEMM).
    ``transposed``: the linear weights are stored as (K, in, out), the engine's training layout
    (see :func:`engine_layout`), instead of PyTorch's (K, out, in).
    """
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


def engine_layout(template: nn.Module, tensors: Params) -> Params:
    """Stacked weights or masks in the layout the engine trains in: every linear weight
    (K, out, in) becomes a contiguous (K, in, out); other tensors are copied as they are.

    Why: the weight gradient of ``h @ W.T`` comes out of the matmul as (in, out); stored as
    (out, in), every step would copy it once more. The layout is its own inverse
    (``engine_layout(t, engine_layout(t, p)) == p``)."""
    linear = {f"{n}.weight" for n, m in template.named_modules() if isinstance(m, nn.Linear)}
    return {n: (t.transpose(-1, -2) if n in linear else t)
            .clone(memory_format=torch.contiguous_format) for n, t in tensors.items()}


@torch.no_grad()
def evaluate(template: nn.Sequential, params: Params, x: torch.Tensor, y: torch.Tensor,
             chunk: int = 5000, transposed: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy loss and accuracy of each of K members on (x, y): two (K,) tensors
    on the device of ``x``."""
    k = next(iter(params.values())).shape[0]
    loss = torch.zeros(k, device=x.device)
    correct = torch.zeros(k, device=x.device)
    for s in range(0, len(y), chunk):
        logits = population_forward(template, params, x[s:s + chunk], transposed)
        yy = y[s:s + chunk]
        loss += F.cross_entropy(logits.flatten(0, 1), yy.repeat(k), reduction="none") \
            .view(k, -1).sum(1)
        correct += (logits.argmax(-1) == yy).sum(1)
    return loss / len(y), correct / len(y)
