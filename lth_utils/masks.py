"""Masks: one tensor of 0/1 per prunable weight.

A mask set is a plain ``dict`` from parameter name (``"fc1.weight"``) to a float tensor of the
weight's shape, 1.0 where the weight survives and 0.0 where it is pruned. Only the weights of
``nn.Linear`` and ``nn.Conv2d`` layers are prunable; biases are never pruned (as in the paper).

The same masks convert to and from PyTorch's own ``torch.nn.utils.prune`` representation
(``weight_orig`` and a ``weight_mask`` buffer), so a reader can move between the two.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

Masks = dict[str, torch.Tensor]


def prunable(model: nn.Module) -> list[str]:
    """Names of the prunable weights of ``model``, in layer order (e.g. ["fc1.weight", ...])."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a network (an nn.Module, e.g. models.build('lenet')), got "
                        f"{type(model).__name__} {model!r:.40}")
    return [f"{name}.weight" for name, m in model.named_modules()
            if isinstance(m, (nn.Linear, nn.Conv2d))]


def ones(model: nn.Module) -> Masks:
    """The dense mask set: every prunable weight kept."""
    names = prunable(model)   # checks that model is a network
    modules = dict(model.named_modules())
    return {n: torch.ones_like(modules[n.rsplit(".", 1)[0]].weight.detach()) for n in names}


def check_fits(model: nn.Module, masks: Masks) -> None:
    """Raise ``ValueError`` unless ``masks`` has exactly one mask of the right shape per weight."""
    names = prunable(model)
    missing = [n for n in names if n not in masks]
    extra = [n for n in masks if n not in names]
    if missing or extra:
        raise ValueError(f"masks do not fit this model: missing {missing or 'none'}, unexpected "
                         f"{extra or 'none'}; build masks with lth_utils.masks.ones(model) for it")
    modules = dict(model.named_modules())
    shapes = {n: tuple(modules[n.rsplit(".", 1)[0]].weight.shape) for n in names}
    for n in names:
        if tuple(masks[n].shape) != shapes[n]:
            raise ValueError(f"mask {n!r} has shape {tuple(masks[n].shape)} but the weight has "
                             f"{shapes[n]}: the masks were made for another model")


def apply(model: nn.Module, masks: Masks) -> nn.Module:
    """Zero the pruned weights of ``model`` in place; returns ``model``."""
    check_fits(model, masks)
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, m in masks.items():
            params[name].mul_(m)
    return model


def check_weights(weights: dict[str, torch.Tensor], masks: Masks) -> None:
    """Raise ``ValueError`` unless every mask of ``masks`` has a weight of its shape in
    ``weights`` (name -> tensor)."""
    for name, m in masks.items():
        if name not in weights or weights[name].shape != m.shape:
            raise ValueError(f"mask {name!r} does not fit the weights: "
                             f"{tuple(weights[name].shape) if name in weights else 'no weight'}"
                             f" against the mask's {tuple(m.shape)}")


def masked(weights: dict[str, torch.Tensor], masks: Masks) -> dict[str, torch.Tensor]:
    """A new weight dict: ``weights`` (name -> tensor) with the pruned entries of every masked
    tensor set to zero, the other tensors (biases) copied. The start of a ticket: θ0 for a reset,
    θ_k for a rewind. Raises ``ValueError`` if a mask has no weight or another shape."""
    check_weights(weights, masks)
    return {n: w.detach() * masks[n].to(w) if n in masks else w.detach().clone()
            for n, w in weights.items()}


def check_not_empty(masks: Masks) -> None:
    """Refuse an empty mask set (``ValueError``): it prunes nothing and has no sparsity."""
    if not masks:
        raise ValueError("the mask set is empty (no masks): build one for a network with "
                         "lth_utils.masks.ones(model)")


def sparsity_report(masks: Masks) -> list[dict]:
    """Per layer and in total: ``{"layer", "total", "remaining", "fraction_remaining"}``."""
    check_not_empty(masks)
    rows = []
    for name, m in masks.items():
        rows.append({"layer": name, "total": m.numel(), "remaining": int(m.sum().item())})
    total = sum(r["total"] for r in rows)
    rows.append({"layer": "all", "total": total, "remaining": sum(r["remaining"] for r in rows)})
    for r in rows:
        r["fraction_remaining"] = r["remaining"] / r["total"]
    return rows


def fraction_remaining(masks: Masks) -> float:
    """Fraction of prunable weights that survive, over all layers."""
    return sparsity_report(masks)[-1]["fraction_remaining"]


def format_report(masks: Masks) -> str:
    """The sparsity report as an aligned text table."""
    lines = [f"{'layer':<14}{'weights':>10}{'remaining':>11}{'% left':>8}"]
    for r in sparsity_report(masks):
        lines.append(f"{r['layer']:<14}{r['total']:>10,}{r['remaining']:>11,}"
                     f"{100 * r['fraction_remaining']:>7.1f}%")
    return "\n".join(lines)


def save(masks: Masks, path: str | Path) -> None:
    """Save a mask set (as compact booleans) to ``path``."""
    torch.save({"kind": "lth-masks", "masks": {n: m.bool() for n, m in masks.items()}}, path)


def load(path: str | Path) -> Masks:
    """Load a mask set written by :func:`save`."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:  # truncated, corrupt, or holding objects that need unpickling
        raise ValueError(f"{path} is not a mask file written by lth_utils.masks.save (it is "
                         f"unreadable: {type(err).__name__}); save the masks again") from None
    if not isinstance(obj, dict) or obj.get("kind") != "lth-masks":
        raise ValueError(f"{path} is not a mask file written by lth_utils.masks.save")
    return {n: m.float() for n, m in obj["masks"].items()}


def to_torch_prune(model: nn.Module, masks: Masks) -> nn.Module:
    """Attach ``masks`` with ``torch.nn.utils.prune.custom_from_mask``.

    Afterwards each pruned layer has a ``weight_orig`` parameter and a ``weight_mask`` buffer,
    and ``weight`` is recomputed as their product before every forward pass.
    """
    check_fits(model, masks)
    modules = dict(model.named_modules())
    for name, m in masks.items():
        torch_prune.custom_from_mask(modules[name.rsplit(".", 1)[0]], "weight", m.clone())
    return model


def from_torch_prune(model: nn.Module) -> Masks:
    """Read the ``weight_mask`` buffers that ``torch.nn.utils.prune`` attached to ``model``.

    Layers without one count as dense.
    """
    masks = {}
    for name, m in model.named_modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            mask = getattr(m, "weight_mask", None)
            masks[f"{name}.weight"] = (mask.detach().clone().float() if mask is not None
                                       else torch.ones_like(m.weight.detach()))
    return masks
