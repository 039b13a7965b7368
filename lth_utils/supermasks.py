"""Zeros, signs and supermasks (chapter 9): what a winning ticket's mask and values need.

Zhou et al. (2019) took the lottery ticket apart. Three questions, one function each:

* **Which mask?** :func:`criterion_masks` keeps, in every layer, the weights with the largest
  score under a *mask criterion* (:data:`CRITERIA`): final magnitude |w_T| (the paper's), initial
  magnitude |w_0|, magnitude increase |w_T| - |w_0|, movement |w_T - w_0|, random, and "large
  final, same sign" (|w_T| where w_T kept w_0's sign, else last).
* **Which kept values?** :func:`kept_weights` rewrites the survivors of θ0 (:data:`VARIANTS`):
  as is, reinitialised, reshuffled within the layer, a constant ±σ with θ0's signs, θ0's
  magnitudes with random signs.
* **Which pruned values?** :func:`train_frozen` trains with the pruned weights frozen at θ0
  instead of zero (a ``torch.nn.utils.parametrize`` on each weight, then ``train_plain``).

:func:`untrained_accuracy` scores masks applied to θ0 with no training (supermasks), and
:func:`edge_popup` *learns* a mask over frozen random weights (Ramanujan et al., 2020).
:func:`run_study` runs all of it for a few seeds and caches a record in ``data/results/``.
Weights are name -> tensor dicts in PyTorch's layout; stacked ones are (K, *shape).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from . import engine, results
from .masks import Masks, fraction_remaining
from .population import Params, evaluate, population_forward, stack_masks

CRITERIA = ("large_final", "large_init", "magnitude_increase", "movement", "random",
            "large_final_same_sign")
VARIANTS = ("theta0", "reinit", "reshuffle", "constant_sign", "random_sign")
# LeNet rates of Frankle & Carbin: hidden layers lose 20% per round, the output layer 10%
OUTPUT_EXPONENT = math.log(0.9) / math.log(0.8)


def _check_keep(keep: float) -> float:
    if not isinstance(keep, (int, float)) or isinstance(keep, bool) or not 0.0 < keep <= 1.0:
        raise ValueError(f"keep must be the fraction of weights to keep, in (0, 1], got {keep!r}")
    return float(keep)


def layer_fractions(names: list[str], keep: float) -> dict[str, float]:
    """Fraction kept per layer: ``keep`` in every layer but the last, which keeps
    ``keep ** 0.47``: what the paper's iterative rates (20% hidden, 10% output per round) leave."""
    _check_keep(keep)
    return {n: keep ** OUTPUT_EXPONENT if n == names[-1] else keep for n in names}


def criterion_scores(criterion: str, w0: torch.Tensor, wT: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """The score of every weight under ``criterion`` (higher is kept first); shape of ``w0``."""
    if criterion == "large_final":
        return wT.abs()
    if criterion == "large_init":
        return w0.abs()
    if criterion == "magnitude_increase":
        return wT.abs() - w0.abs()
    if criterion == "movement":
        return (wT - w0).abs()
    if criterion == "large_final_same_sign":
        # weights that flipped sign rank below every weight that kept it
        return torch.where(torch.sign(wT) == torch.sign(w0), wT.abs(), -1.0 - wT.abs())
    if criterion == "random":
        if generator is None:
            raise ValueError("the random criterion needs a torch.Generator (seed it)")
        return torch.rand(w0.shape, generator=generator)
    raise ValueError(f"unknown criterion {criterion!r}: choose one of {', '.join(CRITERIA)}")


def top_mask(scores: torch.Tensor, fraction: float) -> torch.Tensor:
    """0/1 mask keeping exactly ``round(fraction * numel)`` (at least 1) entries of highest
    score; ties go to the earlier position, so the result is deterministic."""
    count = max(1, round(_check_keep(fraction) * scores.numel()))
    order = torch.sort(scores.reshape(-1), descending=True, stable=True).indices
    flat = torch.zeros(scores.numel())
    flat[order[:count]] = 1.0
    return flat.view(scores.shape)


def criterion_masks(criterion: str, theta0: Params, thetaT: Params, names: list[str],
                    keep: float, generator: torch.Generator | None = None) -> Masks:
    """Masks for the weights ``names`` (e.g. ``masks.prunable(model)``) keeping in each layer
    its :func:`layer_fractions` share, ranked by ``criterion`` on ``theta0`` and ``thetaT``."""
    fractions = layer_fractions(names, keep)
    return {n: top_mask(criterion_scores(criterion, theta0[n].cpu(), thetaT[n].cpu(),
                                         generator), fractions[n]) for n in names}


def kept_weights(variant: str, theta0: Params, masks: Masks, generator: torch.Generator
                 ) -> Params:
    """New initial weights: θ0 with the kept weights of each masked layer rewritten by
    ``variant`` (pruned entries stay θ0's; masking zeroes them). Biases and unmasked tensors
    are copied. σ is the standard deviation of the layer's θ0."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    out = {n: t.detach().clone() for n, t in theta0.items()}
    for n, m in masks.items():
        w, keep = out[n], m.bool()
        sigma = theta0[n].std()
        sign = torch.sign(w)
        if variant == "reinit":    # a fresh Gaussian of θ0's scale
            w[keep] = torch.randn(int(keep.sum()), generator=generator) * sigma
        elif variant == "reshuffle":    # θ0's kept values, permuted among the kept positions
            values = w[keep]
            w[keep] = values[torch.randperm(len(values), generator=generator)]
        elif variant == "constant_sign":
            w[keep] = sign[keep] * sigma
        elif variant == "random_sign":
            flip = torch.randint(0, 2, (int(keep.sum()),), generator=generator) * 2.0 - 1.0
            w[keep] = w[keep].abs() * flip
    return out


# ----------------------------------------------------------------------------- pruned weights

class FrozenPruned(nn.Module):
    """Parametrization ``weight = mask * weight + (1 - mask) * frozen``: the pruned entries
    keep the values ``frozen`` (e.g. θ0) instead of zero and receive no update."""

    def __init__(self, mask: torch.Tensor, frozen: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask.detach().clone())
        self.register_buffer("frozen", (frozen.detach() * (1 - mask)).clone())

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * self.mask + self.frozen


def train_frozen(model: nn.Module, masks: Masks, frozen: Params, data, cfg, seed: int = 0):
    """Train ``model`` (not changed) with its pruned weights frozen at ``frozen`` (not zero),
    with ``training.train_plain``'s batches and evaluations. Returns its ``History``."""
    import copy

    from .training import train_plain
    net = copy.deepcopy(model).to(data.train_x.device)
    modules = dict(net.named_modules())
    for n, m in masks.items():
        parametrize.register_parametrization(
            modules[n.rsplit(".", 1)[0]], "weight",
            FrozenPruned(m.to(data.train_x.device), frozen[n].to(data.train_x.device)))
    return train_plain(net, data, cfg, seed=seed)


# ----------------------------------------------------------------------------- supermasks

def untrained_accuracy(template: nn.Sequential, weights: list[Params], masks: list[Masks],
                       x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(K,) test accuracy of K masked networks ``masks[k] ⊙ weights[k]``, with no training.

    ``x``: (N, C, H, W) images, ``y``: (N,) labels."""
    if len(weights) != len(masks):
        raise ValueError(f"need one weight set per mask set: {len(weights)} and {len(masks)}")
    stacked = {n: torch.stack([w[n].to(x.device) * (m[n].to(x.device) if n in m else 1)
                               for w, m in zip(weights, masks)]) for n in weights[0]}
    return evaluate(template, stacked, x, y)[1].cpu()


def _score_masks(scores: Params, names: list[str], keep: float) -> Params:
    """Straight-through top-k: the forward pass sees the 0/1 mask of the largest |score|s, the
    backward pass hands the mask's gradient to |score| unchanged (edge-popup)."""
    out = {}
    for n, frac in layer_fractions(names, keep).items():
        a = scores[n].abs()
        count = max(1, round(frac * a.numel()))
        # the count-th largest |score| (kthvalue: faster than a sort; scores rarely tie)
        thr = a.detach().reshape(-1).kthvalue(a.numel() - count + 1).values
        out[n] = (a.detach() >= thr).to(a.dtype) + a - a.detach()
    return out


def edge_popup(template: nn.Sequential, weights: Params, keeps: list[float], data, cfg,
               seed: int = 0, lr: float = 0.1) -> dict:
    """Learn one mask per kept fraction in ``keeps`` over the frozen ``weights`` (θ0; biases
    are set to zero) with edge-popup: scores s, forward ``w * top_k(|s|)``, straight-through
    backward, SGD (momentum 0.9). ``cfg``: a ``TrainConfig`` (iterations, batch_size,
    eval_every). Returns ``{"keeps", "iteration", "test_acc" (K, E), "masks" (K stacked),
    "scores" (K stacked, after the last step)}``."""
    from .training import batch_indices
    dev = data.train_x.device
    names = [n for n, t in weights.items() if t.dim() > 1]
    g = torch.Generator().manual_seed(seed)
    k = len(keeps)
    w = {n: t.detach().to(dev).expand(k, *t.shape) for n, t in weights.items()}
    zero_b = {n: torch.zeros_like(t) for n, t in w.items() if n not in names}
    scores = {n: (torch.rand((k, *weights[n].shape), generator=g) * 0.01 + 1e-3).to(dev)
              .requires_grad_(True) for n in names}
    opt = torch.optim.SGD(list(scores.values()), lr=lr, momentum=0.9)
    stream = batch_indices(len(data.train_y), cfg.batch_size, g)

    def current(hard: bool) -> Params:
        per = [_score_masks({n: s[i] for n, s in scores.items()}, names, keeps[i])
               for i in range(k)]
        m = stack_masks(per)
        return {n: m[n].detach() if hard else m[n] for n in names}

    iters, accs = [], []
    for t in range(cfg.iterations + 1):
        if t % cfg.eval_every == 0 or t == cfg.iterations:
            with torch.no_grad():
                m = current(True)
                p = {**zero_b, **{n: w[n] * m[n] for n in names}}
                accs.append(evaluate(template, p, data.test_x, data.test_y)[1].cpu())
                iters.append(t)
        if t == cfg.iterations:
            break
        idx = next(stream).to(dev)
        m = current(False)
        logits = population_forward(template, {**zero_b, **{n: w[n] * m[n] for n in names}},
                                    data.train_x[idx])
        loss = F.cross_entropy(logits.flatten(0, 1), data.train_y[idx].repeat(k),
                               reduction="sum") / cfg.batch_size
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return {"keeps": list(keeps), "iteration": iters, "test_acc": torch.stack(accs, 1),
            "masks": {n: t.cpu() for n, t in current(True).items()},
            "scores": {n: s.detach().cpu() for n, s in scores.items()}}


# ----------------------------------------------------------------------------- the study

@dataclass
class SupermaskConfig:
    """Sizes of the chapter's study (one profile each, see :func:`study_config`)."""
    profile: str = "quick"
    trials: int = 1
    iterations: int = 200
    eval_every: int = 50
    train_subset: int | None = 5000
    eval_size: int | None = 2000     # validation and test images (None: all)
    keeps: tuple = (0.2, 0.05)       # hidden-layer fractions kept (criteria, supermasks)
    variant_keep: float = 0.05       # kept-weight variants and pruned-weight study
    popup_keeps: tuple = (0.5, 0.3, 0.1)
    popup_iterations: int = 200

    def __post_init__(self) -> None:
        from .results import check_counts, check_sequences
        check_counts(self, "trials", "iterations", "eval_every", "popup_iterations")
        check_counts(self, "train_subset", "eval_size", optional=True)
        check_sequences(self, "keeps", "popup_keeps")
        for name in ("keeps", "popup_keeps"):
            if not getattr(self, name):
                raise ValueError(f"{name} is empty: give at least one fraction to keep, "
                                 f"e.g. {name}=(0.2, 0.05)")
        for keep in (*self.keeps, self.variant_keep, *self.popup_keeps):
            _check_keep(keep)
        if self.variant_keep not in self.keeps:
            raise ValueError(f"variant_keep={self.variant_keep!r} must be one of keeps="
                             f"{tuple(self.keeps)} (the variants are compared with that "
                             f"criterion run)")

    def train_config(self):
        """The ``TrainConfig`` of every training run (test set only at the end and early stop)."""
        from .training import TrainConfig
        return TrainConfig(iterations=self.iterations, eval_every=self.eval_every,
                           test_every=self.iterations)

    def to_dict(self) -> dict:
        from .results import config_dict
        return config_dict(self)


# the study's sizes per profile (the quick ones are SupermaskConfig's defaults; "paper" trains
# as "standard" for now)
SIZES = {
    "quick": dict(),
    # 20,000 iterations: chapter 5's measured horizon for this LeNet, optimiser and batch
    # size; three kept fractions (was five) and 3 trials, to fit a 2-core CPU session
    "standard": dict(trials=3, iterations=20_000, eval_every=250, train_subset=None,
                     eval_size=None, keeps=(0.2, 0.05, 0.02), variant_keep=0.05,
                     popup_keeps=(0.5, 0.2, 0.05), popup_iterations=20_000),
}
SIZES["paper"] = SIZES["standard"]


def study_config(profile: str | None = None) -> SupermaskConfig:
    """The study's sizes for ``profile`` (default ``$LTH_PROFILE``)."""
    from . import profile as current
    p = profile or current()
    if p not in SIZES:
        raise ValueError(f"unknown profile {p!r}: choose one of {', '.join(SIZES)}")
    return SupermaskConfig(profile=p, **SIZES[p])


def load_data(cfg: SupermaskConfig):
    """MNIST at the study's sizes."""
    from .data import load
    return load("mnist", train_subset=cfg.train_subset, eval_size=cfg.eval_size)


def train_dense(seed: int, data, cfg: SupermaskConfig) -> tuple[nn.Sequential, Params, Params]:
    """Train LeNet ``seed`` densely: (model, θ0, θ_T) with weights on the CPU."""
    from .models import build
    from .training import train
    model = build("lenet", seed)
    theta0 = {n: p.detach().clone() for n, p in model.named_parameters()}
    hist = train(model, data, cfg.train_config(), seed=seed, progress=False)
    thetaT = {n: p.detach().cpu().clone() for n, p in model.named_parameters()}
    model.dense_acc = hist.early_stop_test_acc[0]
    model.dense_stop = hist.early_stop_iteration[0]
    return model, theta0, thetaT


def _trial(seed: int, data, cfg: SupermaskConfig) -> dict:
    from .masks import prunable
    from .training import TrainConfig, train_plain, train_population
    model, theta0, thetaT = train_dense(seed, data, cfg)
    names = prunable(model)
    g = torch.Generator().manual_seed(1000 + seed)
    tcfg = cfg.train_config()
    arms, inits, ms = [], [], []
    grid = {c: {kp: criterion_masks(c, theta0, thetaT, names, kp, g) for kp in cfg.keeps}
            for c in CRITERIA}
    untrained = {c: [round(a, 5) for a in untrained_accuracy(
        model, [theta0] * len(cfg.keeps), list(grid[c].values()), data.test_x,
        data.test_y).tolist()] for c in CRITERIA}
    for c in CRITERIA[:5]:
        for kp in cfg.keeps:
            arms.append(("criterion", c, kp)), inits.append(theta0), ms.append(grid[c][kp])
    mask_v = criterion_masks("large_final", theta0, thetaT, names, cfg.variant_keep)
    for v in VARIANTS[1:]:
        arms.append(("variant", v, cfg.variant_keep))
        inits.append(kept_weights(v, theta0, mask_v, g)), ms.append(mask_v)
    run = train_population(model, stack_masks(inits),
                           stack_masks(ms), data, tcfg, [seed] * len(ms), progress=False)
    acc, stop = run.history.early_stop_test_acc, run.history.early_stop_iteration
    out = {"seed": seed, "dense_acc": model.dense_acc, "dense_stop": model.dense_stop,
           "criteria": {}, "variants": {}, "criteria_stop": {}, "variants_stop": {},
           "untrained": untrained,
           "fraction_remaining": [fraction_remaining(grid["random"][kp]) for kp in cfg.keeps]}
    for (kind, name, kp), a, it in zip(arms, acc, stop):
        if kind == "criterion":
            out["criteria"].setdefault(name, []).append(round(a, 5))
            out["criteria_stop"].setdefault(name, []).append(it)
        else:
            out["variants"][name] = round(a, 5)
            out["variants_stop"][name] = it
    j = cfg.keeps.index(cfg.variant_keep)
    out["variants"]["theta0"] = out["criteria"]["large_final"][j]
    out["variants_stop"]["theta0"] = out["criteria_stop"]["large_final"][j]
    from .models import build
    fresh = build("lenet", seed)
    zero = train_plain(fresh, data, tcfg, masks=mask_v, seed=seed)
    frozen = train_frozen(build("lenet", seed), mask_v, theta0, data, tcfg, seed)
    out["pruned"] = {"zero": round(zero.early_stop_test_acc[0], 5),
                     "frozen": round(frozen.early_stop_test_acc[0], 5)}
    out["pruned_stop"] = {"zero": zero.early_stop_iteration[0],
                          "frozen": frozen.early_stop_iteration[0]}
    pop = edge_popup(model, theta0, list(cfg.popup_keeps), data,
                     TrainConfig(iterations=cfg.popup_iterations, eval_every=cfg.eval_every),
                     seed)
    out["popup"] = {"iteration": pop["iteration"],
                    "test_acc": [[round(v, 5) for v in r] for r in pop["test_acc"].tolist()]}
    return out


def record_path(cfg: SupermaskConfig, trials: list[int] | None = None) -> Path:
    """Where the study's record lives: ``data/results/supermasks-lenet-mnist-PROFILE.json``
    (a part of the trials: ``...-PROFILE.trials-A-B.json``, see :func:`merge`; a config that
    is not the book's: ``...-PROFILE.variant-KEY.json``, see :func:`results.variant_path`)."""
    from .results import part_path, results_dir, variant_path
    book = study_config(cfg.profile) if cfg.profile in SIZES else None
    path = variant_path(results_dir() / f"supermasks-lenet-mnist-{cfg.profile}.json", cfg, book)
    return part_path(path, trials, cfg.trials)


def held_trials(record: dict) -> list[int]:
    """The trial indices a record (or checkpoint) holds: each trial's seed is its index."""
    return [t["seed"] for t in record["trials"]]


class SupermaskStudy(engine.Study):
    """The supermask study as :mod:`lth_utils.engine` runs it: one unit per trial."""
    kind = "supermasks"

    def __init__(self, cfg: SupermaskConfig, trials: list[int] | None = None, data=None):
        super().__init__(cfg.to_dict(), cfg.trials, trials)
        self.cfg, self.data = cfg, data

    def held(self, record: dict) -> list[int]:
        return held_trials(record)

    def start(self) -> dict:
        return {"rows": []}

    def prepare(self, state: dict) -> None:
        self.data = self.data if self.data is not None else load_data(self.cfg)

    def units(self) -> list[str]:
        return [f"trial {t}" for t in self.trials]

    def step(self, unit: str, state: dict) -> None:
        state["rows"].append(_trial(int(unit.split()[1]), self.data, self.cfg))

    def body(self, state: dict) -> dict:
        return {"trials": state["rows"]}


def run_study(cfg: SupermaskConfig | None = None, path=None, data=None,
              trials: list[int] | None = None) -> dict:
    """The chapter's study, read from its record if one with this config exists, else run by
    :mod:`lth_utils.engine` and saved to ``data/results/supermasks-lenet-mnist-PROFILE.json``.
    The trials done so far are kept beside it (``.ckpt.pt``) after each one, so a killed
    study resumes at the next trial. ``data``: splits to use instead of :func:`load_data`
    (tests). ``trials``: compute only these trial indices, a part that :func:`merge` joins
    with the others (each trial trains apart, so a part holds the same numbers as one run)."""
    from .results import checked_config
    cfg = checked_config(cfg or study_config(), SupermaskConfig,
                         "supermasks.study_config(PROFILE)")
    study = SupermaskStudy(cfg, trials, data)
    return engine.run(study, Path(path or record_path(cfg, study.trials)))


def merge(records: list[dict]) -> dict:
    """The record one run of all the trials writes, from the parts of a study split by trials
    (``run_study(..., trials=[...])``): trials in order, wall times summed."""
    from .results import check_parts, merged_header
    every, parts = check_parts(records, held_trials)
    by_index = {t["seed"]: t for r in records for t in r["trials"]}
    merged = merged_header(records, parts, drop=("trials",))
    merged["trials"] = [by_index[t] for t in every]
    return merged


def provenance(record: dict) -> str:
    """Where a figure's numbers come from, parts joined by " · "."""
    c, p = record["config"], results.provenance_parts(record)
    return (f"record supermasks-lenet-mnist · profile {c['profile']} · {p['trials']} · "
            f"{c['iterations']:,} iterations each · {p['code']} · {p['compute']}")


def early_stops(record: dict) -> dict[str, list] | None:
    """Every trained arm's early-stop iterations, arm -> one entry per trial: ``"dense"``,
    ``"zero"`` and ``"frozen"`` (the pruned-weight study) an int, each criterion a list (one
    per kept fraction), each variant but θ0 an int (θ0 is large final's run). ``None`` for a
    record written before the study stored them."""
    trials = record["trials"]
    if not all("criteria_stop" in t for t in trials):
        return None
    out = {"dense": [t["dense_stop"] for t in trials]}
    for c in trials[0]["criteria_stop"]:
        out[c] = [t["criteria_stop"][c] for t in trials]
    for v in VARIANTS[1:]:
        out[v] = [t["variants_stop"][v] for t in trials]
    for k in ("zero", "frozen"):
        out[k] = [t["pruned_stop"][k] for t in trials]
    return out


def late_stops(record: dict, last: float = 0.1) -> dict | None:
    """The early stops in the last ``last`` of training (``records.is_late``, chapter 5's rule):
    ``"by_arm"`` (arm -> (late, total), arms of :func:`early_stops`), ``"late"``, ``"total"``,
    ``"flags"`` (criterion -> (trials, kept fractions) booleans, for hollow points),
    ``"horizon"`` and ``"threshold"``. ``None`` if the record stores no early stops."""
    from .records import late_after
    stops = early_stops(record)
    if stops is None:
        return None
    T = record["config"]["iterations"]
    threshold = late_after(T, last)
    by, flags = {}, {}
    for arm, its in stops.items():
        late = np.asarray(its) > threshold
        by[arm] = (int(late.sum()), int(late.size))
        if late.ndim == 2:
            flags[arm] = late
    return {"by_arm": by, "late": sum(n for n, _ in by.values()),
            "total": sum(n for _, n in by.values()), "flags": flags,
            "horizon": T, "threshold": threshold}


def popup_gain(record: dict, last: float = 0.1) -> list[float]:
    """Per kept fraction of edge-popup, the mean over trials of the test accuracy gained in the
    last ``last`` of its training (last evaluation minus the one at ``(1 - last) T``): how much
    the mask was still improving when it stopped (edge-popup has no early stop)."""
    from .records import late_after
    out = []
    for j in range(len(record["config"]["popup_keeps"])):
        gains = []
        for t in record["trials"]:
            its, acc = np.asarray(t["popup"]["iteration"]), t["popup"]["test_acc"][j]
            i = int(np.searchsorted(its, late_after(its[-1], last), side="right")) - 1
            gains.append(acc[-1] - acc[i])
        out.append(float(np.mean(gains)))
    return out


# ----------------------------------------------------------------------------- "Try it"

def supermask_state(template: nn.Sequential, theta0: Params, thetaT: Params, data,
                    criterion: str, keep: float, seed: int = 0) -> dict:
    """The supermask of ``criterion`` at ``keep`` applied to θ0, untrained: ``{"criterion",
    "keep", "fraction_remaining", "untrained_acc", "pixel_map"}``; ``pixel_map`` (28, 28) is
    the fraction of each input pixel's first-layer weights the mask keeps."""
    from .masks import prunable
    names = prunable(template)
    m = criterion_masks(criterion, theta0, thetaT, names, keep,
                        torch.Generator().manual_seed(seed))
    acc = untrained_accuracy(template, [theta0], [m], data.test_x, data.test_y)[0]
    return {"criterion": criterion, "keep": keep, "fraction_remaining": fraction_remaining(m),
            "untrained_acc": float(acc), "pixel_map": m[names[0]].mean(0).reshape(28, 28)}


def draw_state(state: dict, ax, vmax: float | None = None):
    """Draw a :func:`supermask_state` on ``ax``: the pixel map, the accuracy in the title.

    The colour scale runs from 0 to ``vmax`` (default: this map's maximum); give several maps
    one ``vmax`` to compare them, and the returned image to ``fig.colorbar`` to show it."""
    pix = state["pixel_map"].detach().cpu().numpy()
    if vmax is None:
        vmax = max(float(pix.max()), 1e-6)
    elif not vmax > 0:
        raise ValueError(f"vmax must be positive (the colour scale runs from 0 to vmax), "
                         f"got {vmax!r}")
    image = ax.imshow(pix, cmap="viridis", vmin=0, vmax=vmax)
    ax.set_title(f"{state['criterion'].replace('_', ' ')}\n"
                 f"untrained: {100 * state['untrained_acc']:.1f}%", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return image
