"""Instability to SGD noise and linear mode connectivity (for chapter 8).

Frankle, Dziugaite, Roy & Carbin (ICML 2020) ask whether the end of training is decided by
iteration k. Train two copies of the network from its weights at iteration k, θ_k, on two
different batch orders (the "SGD noise"), and walk the straight line between the two results::

    θ_0 --k iterations--> θ_k --(T - k), batch order A--> θ_T^A
                              \\-(T - k), batch order B--> θ_T^B

    error(α) of the network (1 - α) θ_T^A + α θ_T^B,   α = 0, 1/(n-1), ..., 1
    instability = max over α of error(α)  -  mean(error(0), error(1))

If the error never rises along the line (instability near 0) the two copies end in one linearly
connected region: the network is *stable* at k (the paper counts below 2% as stable). A mask
(``masks``) trains a sparse network the same way, e.g. a ticket from θ_0 or rewound to θ_k.

Here the copies start from θ_k with fresh optimiser state (Adam's moments at zero, as the
lottery engine does when it resets or rewinds); the paper's networks continue SGD with momentum.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import nn

from .data import Splits
from .masks import Masks, ones
from .population import Params, evaluate
from .training import TrainConfig, stack_masks, train_population

STABLE = 0.02     # the paper's threshold: instability below 2% counts as stable


def interpolate(a: Params, b: Params, alphas: Sequence[float]) -> Params:
    """The networks (1 - α) a + α b for each α, stacked: name -> (len(alphas), *shape).

    ``a`` and ``b``: one network each, name -> tensor of the same shapes."""
    if set(a) != set(b) or any(a[n].shape != b[n].shape for n in a):
        raise ValueError("interpolate needs two networks of the same architecture")
    if not alphas:
        raise ValueError("alphas is empty: give the points of the path, e.g. [0, 0.5, 1]")
    t = torch.tensor([float(x) for x in alphas])
    return {n: torch.lerp(a[n].unsqueeze(0), b[n].unsqueeze(0),
                          t.view(-1, *[1] * a[n].dim()).to(a[n]))
            for n in a}


def path_error(template: nn.Sequential, a: Params, b: Params, x: torch.Tensor, y: torch.Tensor,
               points: int = 11) -> tuple[list[float], list[float]]:
    """(alphas, error at each alpha) along the line from ``a`` to ``b``, evaluated on (x, y).

    All ``points`` networks are evaluated as one population (one pass over x)."""
    if points < 2:
        raise ValueError(f"points must be at least 2 (the two ends), got {points}")
    alphas = [i / (points - 1) for i in range(points)]
    stacked = {n: v.to(x.device) for n, v in interpolate(a, b, alphas).items()}
    template.eval()
    with torch.no_grad():
        _, acc = evaluate(template, stacked, x, y)
    return alphas, [1.0 - v for v in acc.tolist()]


def instability(errors: Sequence[float]) -> float:
    """The highest error on the path minus the mean error of its two ends."""
    if len(errors) < 2:
        raise ValueError("a path needs at least its two ends")
    return max(errors) - (errors[0] + errors[-1]) / 2


def spawn(template: nn.Sequential, theta0: Params, data: Splits, cfg: TrainConfig, k: int,
          seeds: tuple[int, int] = (1, 2), masks: Masks | None = None,
          progress: bool | None = False) -> tuple[Params, Params, Params]:
    """θ_k and two copies trained from it: returns (θ_k, θ_T^A, θ_T^B), one network each.

    θ_k: ``theta0`` (name -> tensor) trained ``k`` iterations (batch order ``seeds[0]``; k = 0
    is θ_0 itself). The copies train the remaining ``cfg.iterations - k`` iterations from θ_k on
    batch orders ``seeds[0]`` and ``seeds[1]``, under ``masks`` (default: dense)."""
    if not 0 <= k < cfg.iterations:
        raise ValueError(f"k must be in [0, iterations={cfg.iterations}), got {k}")
    masks = masks if masks is not None else ones(template)
    theta_k = {n: v.detach().cpu() for n, v in theta0.items()}
    if k > 0:
        run = train_population(template, stack_masks([theta_k]), stack_masks([masks]), data,
                               replace(cfg, iterations=k, eval_every=k, test_every=None,
                                       snapshot_at=None), [seeds[0]], progress, f"to k={k}")
        theta_k = {n: v[0].detach().cpu() for n, v in run.params.items()}
    rest = replace(cfg, iterations=cfg.iterations - k, test_every=None, snapshot_at=None,
                   eval_every=min(cfg.eval_every, cfg.iterations - k))
    run = train_population(template, stack_masks([theta_k, theta_k]), stack_masks([masks, masks]),
                           data, rest, list(seeds), progress, f"two copies from k={k}")
    a, b = ({n: v[i].detach().cpu() for n, v in run.params.items()} for i in range(2))
    return theta_k, a, b


def instability_at(template: nn.Sequential, theta0: Params, data: Splits, cfg: TrainConfig,
                   ks: Sequence[int], seeds: tuple[int, int] = (1, 2), points: int = 11,
                   masks: Masks | None = None, progress: bool | None = False) -> list[dict]:
    """For each k of ``ks``: {"k", "alphas", "errors" (test error along the path),
    "instability", "stable"}, the two copies spawned by :func:`spawn`."""
    rows = []
    for k in ks:
        _, a, b = spawn(template, theta0, data, cfg, k, seeds, masks, progress)
        alphas, errors = path_error(template, a, b, data.test_x, data.test_y, points)
        value = instability(errors)
        rows.append({"k": k, "alphas": alphas, "errors": [round(e, 5) for e in errors],
                     "instability": round(value, 5), "stable": value < STABLE})
    return rows
