"""Pruning: from weights and the current masks to new, sparser masks.

Every function prunes only among the weights that still survive, and removes an exact count:
``round(rate * surviving)`` weights, the ones of smallest magnitude (ties broken by position, so
the result is deterministic). Names follow ``torch.nn.utils.prune``: ``l1_unstructured`` prunes
each layer by itself, ``global_unstructured`` ranks all layers together.

* ``rate`` is the fraction of the *surviving* weights to remove in one step (the paper's p%).
* ``sparsity`` is the fraction of *all* weights that should be gone afterwards.
Both must lie in [0, 1).

:func:`sparsity_state` applies :func:`to_sparsity` to a trained network without retraining and
measures what is left (what chapter 2's slider shows).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn

from .masks import Masks, check_fits, check_not_empty, check_weights, ones, sparsity_report

if TYPE_CHECKING:
    from .data import Splits

# Per-layer rates of Frankle & Carbin (2019), Figure 2.
PAPER_RATES = {"lenet": (0.2, 0.1), "conv2": (0.1, 0.2, 0.1), "conv4": (0.1, 0.2, 0.1),
               "conv6": (0.15, 0.2, 0.1)}


def check_fraction(value: float, what: str = "sparsity") -> float:
    """Return ``value`` if it lies in [0, 1), else raise a ``ValueError`` saying what to pass."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value) \
            or not 0.0 <= value < 1.0:
        raise ValueError(f"{what} must be in [0, 1), got {value!r}: pass the fraction to remove, "
                         f"e.g. 0.2 for 20% (1.0 would remove every weight)")
    return float(value)


def paper_rates(model_name: str, masks: Masks) -> dict[str, float]:
    """The paper's per-layer pruning rates for ``model_name``'s weights in ``masks``.

    LeNet: fully connected 20%, output layer 10%. Conv-2/4: conv 10%; Conv-6: conv 15%;
    their fully connected layers 20% and the output layer 10%.
    """
    if model_name not in PAPER_RATES:
        raise ValueError(f"unknown model {model_name!r}: choose one of {', '.join(PAPER_RATES)}")
    rates = PAPER_RATES[model_name]
    names = list(masks)
    out = {}
    for name in names:
        if name == names[-1]:
            out[name] = rates[-1]
        elif masks[name].dim() == 4:
            out[name] = rates[0]
        else:
            out[name] = rates[-2]
    return out


def _weights(source: nn.Module | dict[str, torch.Tensor], masks: Masks) -> dict[str, torch.Tensor]:
    """The weights (name -> tensor) of ``source``, checked against ``masks``: not empty, and
    one weight of the mask's shape per mask."""
    check_not_empty(masks)
    if isinstance(source, nn.Module):
        check_fits(source, masks)
        return {n: p.detach() for n, p in source.named_parameters()}
    check_weights(source, masks)
    return source


def _rates(rate: float | dict[str, float], masks: Masks) -> dict[str, float]:
    """One pruning rate per mask: ``rate`` for every layer, or the dict ``rate``."""
    rates = rate if isinstance(rate, dict) else {n: rate for n in masks}
    missing = [n for n in masks if n not in rates]
    if missing:
        raise ValueError(f"no pruning rate for {', '.join(missing)}: give a rate for every "
                         f"masked layer, or one number for all of them")
    return rates


def _prune_scores(scores: torch.Tensor, mask: torch.Tensor, count: int) -> torch.Tensor:
    """New flat mask: ``mask`` with the ``count`` surviving entries of smallest score removed."""
    flat_mask = mask.reshape(-1).clone()
    if count <= 0:
        return flat_mask
    alive = flat_mask.nonzero().squeeze(1)
    scores = scores.reshape(-1).to(mask.device)   # compared where the mask lives
    order = torch.sort(scores[alive], stable=True).indices
    flat_mask[alive[order[:count]]] = 0.0
    return flat_mask


def l1_unstructured(weights: nn.Module | dict[str, torch.Tensor], masks: Masks,
                    rate: float | dict[str, float]) -> Masks:
    """Layerwise magnitude pruning: in each layer remove ``rate`` of its surviving weights.

    ``rate`` is one number for every layer or a dict per layer name (see :func:`paper_rates`).
    Returns new masks; the inputs are not changed.
    """
    w = _weights(weights, masks)
    rates = _rates(rate, masks)
    out = {}
    for name, m in masks.items():
        r = check_fraction(rates[name], f"pruning rate for {name}")
        count = round(r * int(m.sum().item()))
        out[name] = _prune_scores(w[name].abs(), m, count).view_as(m)
    return out


def global_unstructured(weights: nn.Module | dict[str, torch.Tensor], masks: Masks,
                        rate: float) -> Masks:
    """Global magnitude pruning: remove ``rate`` of the surviving weights, ranked across layers."""
    w = _weights(weights, masks)
    check_fraction(rate, "pruning rate")
    alive = sum(int(m.sum().item()) for m in masks.values())
    return global_by_scores({n: w[n].abs() for n in masks}, masks, round(rate * alive))


def global_by_scores(scores: dict[str, torch.Tensor], masks: Masks, count: int) -> Masks:
    """Remove the ``count`` surviving weights of lowest score, ranked across all layers of
    ``masks`` (ties: the earlier position goes first). Returns new masks."""
    check_not_empty(masks)
    missing = [n for n in masks if n not in scores]
    if missing:
        raise ValueError(f"no scores for {', '.join(missing)}: give a score tensor for every "
                         f"masked layer")
    if not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be a whole number >= 0 of weights to remove, got {count!r}")
    names = list(masks)
    flat_scores = torch.cat([scores[n].reshape(-1) for n in names])
    flat = torch.cat([masks[n].reshape(-1) for n in names])
    new = _prune_scores(flat_scores, flat, count)
    return {n: part.view_as(masks[n])
            for n, part in zip(names, new.split([masks[n].numel() for n in names]))}


def random_unstructured(masks: Masks, rate: float | dict[str, float],
                        generator: torch.Generator) -> Masks:
    """Random pruning: in each layer remove ``rate`` of its surviving weights, chosen at random."""
    check_not_empty(masks)
    rates = _rates(rate, masks)
    out = {}
    for name, m in masks.items():
        r = check_fraction(rates[name], f"pruning rate for {name}")
        scores = torch.rand(m.shape, generator=generator)
        out[name] = _prune_scores(scores, m, round(r * int(m.sum().item()))).view_as(m)
    return out


def random_like(masks: Masks, generator: torch.Generator) -> Masks:
    """A random mask set with the same number of survivors in each layer as ``masks``."""
    out = {}
    for name, m in masks.items():
        keep = int(m.sum().item())
        flat = torch.zeros(m.numel())
        flat[torch.randperm(m.numel(), generator=generator)[:keep]] = 1.0
        out[name] = flat.view_as(m)
    return out


def rate_for_rounds(rate: float, rounds: int) -> float:
    """The one-shot rate that leaves what ``rounds`` iterative steps of ``rate`` leave: 1-(1-rate)^rounds."""
    check_fraction(rate, "pruning rate")
    if not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 0:
        raise ValueError(f"rounds must be a whole number >= 0, got {rounds!r}")
    return 1.0 - (1.0 - rate) ** rounds


def to_sparsity(weights: nn.Module | dict[str, torch.Tensor], masks: Masks, sparsity: float,
                scope: str = "layerwise") -> Masks:
    """Magnitude-prune so that a fraction ``sparsity`` of all weights is gone.

    ``scope="layerwise"`` gives every layer that sparsity; ``"global"`` ranks all weights together.
    Already pruned weights count towards the target.
    """
    check_fraction(sparsity, "sparsity")
    if scope not in ("layerwise", "global"):
        raise ValueError(f"scope must be 'layerwise' or 'global', got {scope!r}")
    if scope == "global":
        total = sum(m.numel() for m in masks.values())
        alive = sum(int(m.sum().item()) for m in masks.values())
        target = total - round((1 - sparsity) * total)
        rate = max(0.0, (target - (total - alive)) / alive) if alive else 0.0
        return global_unstructured(weights, masks, min(rate, 0.999999))
    rates = {}
    for n, m in masks.items():
        alive = int(m.sum().item())
        keep = round((1 - sparsity) * m.numel())
        rates[n] = max(0.0, (alive - keep) / alive) if alive else 0.0
    return l1_unstructured(weights, masks, rates)


def sparsity_state(model: nn.Module, data: Splits, sparsity: float,
                   scope: str = "layerwise") -> dict:
    """``model`` magnitude-pruned to ``sparsity`` and not retrained: what it keeps and scores.

    ``model``: a trained network (not changed); ``data``: a :class:`lth_utils.data.Splits` whose
    test set (``test_x`` (N, ...), ``test_y`` (N,)) is evaluated; ``sparsity``: fraction of all
    prunable weights to remove, in [0, 1); ``scope``: "layerwise" (every layer loses that
    fraction) or "global" (one threshold for all).
    Returns ``{"sparsity", "scope", "test_acc", "dense_acc", "threshold", "thresholds",
    "fraction_remaining", "masks", "weights"}``: ``thresholds`` maps each weight name to its
    magnitude cut-off (kept weights have |w| >= it, pruned ones |w| <= it; 0.0 if nothing is
    pruned; under "global" every layer shares one), ``threshold`` is the first layer's (the one
    chapter 2's histogram shows), ``fraction_remaining`` maps each weight name and "all" to the
    fraction kept, ``masks`` are the masks (name -> 0/1 tensor of the weight's shape) and
    ``weights`` the trained weights they apply to (name -> tensor, not copied).
    """
    m = to_sparsity(model, ones(model), sparsity, scope)   # checks sparsity and scope
    weights = {n: model.get_parameter(n).detach() for n in m}
    pruned = {n: weights[n].abs()[m[n] == 0] for n in m}
    thresholds = {n: float(p.max()) if p.numel() else 0.0 for n, p in pruned.items()}
    if scope == "global":
        thresholds = dict.fromkeys(m, max(thresholds.values()))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            params = dict(model.named_parameters())
            dense_logits = model(data.test_x)
            sparse_logits = torch.func.functional_call(
                model, {**params, **{n: weights[n] * m[n] for n in m}}, (data.test_x,))
    finally:
        model.train(was_training)
    acc = lambda logits: (logits.argmax(1) == data.test_y).float().mean().item()  # noqa: E731
    return {"sparsity": float(sparsity), "scope": scope,
            "test_acc": acc(sparse_logits), "dense_acc": acc(dense_logits),
            "threshold": thresholds[next(iter(m))], "thresholds": thresholds,
            "fraction_remaining": {r["layer"]: r["fraction_remaining"]
                                   for r in sparsity_report(m)},
            "masks": m, "weights": weights}
