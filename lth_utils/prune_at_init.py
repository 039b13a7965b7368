"""Pruning at initialisation: score every weight of θ0, keep the best, train once.

Every method here looks at the *untrained* network (and, for SNIP and GraSP, a few batches of
data), gives each prunable weight a score, and keeps the highest-scoring weights:

* ``magnitude_scores``: |θ0|, the lottery ticket's criterion applied before training;
* ``snip_scores``: |∂L/∂θ ⊙ θ| (Lee et al. 2019), the loss's sensitivity to removing a weight;
* ``grasp_scores``: θ ⊙ Hg (Wang et al. 2020), by double backpropagation; the paper's score is
  its negative, −θ ⊙ Hg, and the paper removes the *highest* of those, so we keep the highest
  θ ⊙ Hg: one convention, "keep the highest", for every method;
* ``synflow_scores``: |θ ⊙ ∂R/∂θ| with R the sum of the outputs of the network with |θ| on an
  all-ones input (Tanaka et al. 2020): no data at all. :func:`synflow` recomputes the scores
  over several rounds of pruning, on an exponential schedule (the paper's Algorithm 1);
* ``random``: each layer keeps the same fraction, chosen at random.

Scores are dicts ``name -> tensor`` of the weight's shape; :func:`global_mask` keeps the top
fraction across all layers (as the papers do), and :func:`prune_at_init` does both steps.

Sanity checks (Frankle, Dziugaite, Roy & Carbin 2021): :func:`shuffle_within_layers`, a fresh
initialisation of the kept weights (variant ``reinit``), :func:`invert_scores`. Layer collapse:
:func:`collapsed_layers`, :func:`connected`. :func:`run_study` trains every method and variant
and an IMP ticket at every sparsity, one population per trial, and caches the record;
:func:`check_costs`, :func:`cost_table`, :func:`check_summary` and :func:`late_stops` read what
each check costs, sparsity by sparsity, and which networks were still improving at the end;
:func:`late_points` (which points to draw hollow), :func:`horizon_verdict` (in words:
:func:`horizon_text`, :func:`late_text`), :func:`standings` (in words: :func:`standing_text`)
and :func:`accuracy_table` read the masks as found against the IMP ticket and random pruning.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import engine, models, pruning, results
from .masks import Masks, check_fits, ones
from .records import compare_ranges, is_late, late_after
from .population import stack_masks
from .training import TrainConfig, train_population

Scores = dict[str, torch.Tensor]
METHODS = ("snip", "grasp", "synflow", "magnitude", "random")
VARIANTS = ("original", "shuffled", "reinit")


def _weights(model: nn.Module, masks: Masks | None) -> dict[str, torch.Tensor]:
    """The parameters of ``model`` with its prunable weights masked (detached copies)."""
    params = {n: p.detach().clone() for n, p in model.named_parameters()}
    for n, m in (masks or {}).items():
        params[n] = params[n] * m
    return params


def _loss(model: nn.Module, params: dict, x: torch.Tensor, y: torch.Tensor,
          temperature: float = 1.0) -> torch.Tensor:
    logits = torch.func.functional_call(model, params, (x,))
    return F.cross_entropy(logits / temperature, y)


def _check(model: nn.Module, masks: Masks | None) -> Masks:
    check_fits(model, masks := ones(model) if masks is None else masks)
    return masks


# ----------------------------------------------------------------------------- scores

def magnitude_scores(model: nn.Module, masks: Masks | None = None) -> Scores:
    """|θ| of every prunable weight of ``model`` (masked weights score 0)."""
    masks = _check(model, masks)
    w = _weights(model, masks)
    return {n: w[n].abs() for n in masks}


def random_scores(model: nn.Module, generator: torch.Generator) -> Scores:
    """Uniform random scores in [0, 1), one per prunable weight, drawn from ``generator``."""
    return {n: torch.rand(m.shape, generator=generator) for n, m in ones(model).items()}


def snip_scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                masks: Masks | None = None) -> Scores:
    """SNIP: |∂L/∂θ ⊙ θ|, L the mean cross-entropy on images ``x`` (N, ...) and labels ``y`` (N,).

    Pass a few batches' worth of images (the paper uses one batch). ``model`` is not changed.
    """
    masks = _check(model, masks)
    params = _weights(model, masks)
    leaves = {n: params[n].requires_grad_(True) for n in masks}
    grads = torch.autograd.grad(_loss(model, params, x, y), list(leaves.values()))
    return {n: (g * leaves[n]).detach().abs() for n, g in zip(leaves, grads)}


def grasp_scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor, masks: Masks | None = None,
                 temperature: float = 200.0) -> Scores:
    """GraSP: θ ⊙ Hg, H the Hessian and g the gradient of the loss on (``x``, ``y``).

    Hg = ∂(gᵀ stop(g))/∂θ, two backward passes. The paper scores −θ ⊙ Hg and removes the
    highest; here higher means keep, so the sign is flipped. ``temperature`` divides the logits,
    as in the authors' code (200). Returns signed scores."""
    masks = _check(model, masks)
    params = _weights(model, masks)
    leaves = [params[n].requires_grad_(True) for n in masks]
    g = torch.autograd.grad(_loss(model, params, x, y, temperature), leaves, create_graph=True)
    stopped = [t.detach() for t in g]
    hg = torch.autograd.grad(sum((a * b).sum() for a, b in zip(g, stopped)), leaves)
    return {n: (h * w).detach() for n, h, w in zip(masks, hg, leaves)}


def synflow_scores(model: nn.Module, masks: Masks | None = None,
                   input_shape: tuple[int, ...] | None = None) -> Scores:
    """SynFlow: |θ ⊙ ∂R/∂θ|, R = 1ᵀ f(1; |θ ⊙ m|), in float64. No data.

    ``input_shape``: the shape of one input, e.g. (1, 28, 28); by default the first linear
    layer's input size (convolutional networks must pass it).
    """
    masks = _check(model, masks)
    if input_shape is None:
        first = next(m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))
        if isinstance(first, nn.Conv2d):
            raise ValueError("synflow_scores needs input_shape for a convolutional network, "
                             "e.g. input_shape=(3, 32, 32)")
        input_shape = (first.in_features,)
    params = {n: p.abs().double() for n, p in _weights(model, masks).items()}
    leaves = {n: params[n].requires_grad_(True) for n in masks}
    out = torch.func.functional_call(model, params, (torch.ones(1, *input_shape,
                                                                dtype=torch.float64),))
    grads = torch.autograd.grad(out.sum(), list(leaves.values()))
    return {n: (g * leaves[n]).detach().abs().float() for n, g in zip(leaves, grads)}


def invert_scores(scores: Scores) -> Scores:
    """Reverse the ranking: the highest score becomes the lowest (−score, not 1/score)."""
    return {n: -s for n, s in scores.items()}

# ----------------------------------------------------------------------------- masks

def global_mask(scores: Scores, sparsity: float, masks: Masks | None = None) -> Masks:
    """Keep the highest scores across all layers so that ``sparsity`` of all weights is gone.

    Only weights alive in ``masks`` (default: all) can be kept; ties go to the earlier position.
    """
    pruning.check_fraction(sparsity, "sparsity")
    masks = masks or {n: torch.ones_like(s) for n, s in scores.items()}
    total = sum(m.numel() for m in masks.values())
    alive = sum(int(m.sum().item()) for m in masks.values())
    keep = round((1 - sparsity) * total)
    return pruning.global_by_scores(scores, masks, max(0, alive - keep))


def synflow(model: nn.Module, sparsity: float, rounds: int = 100,
            input_shape: tuple[int, ...] | None = None) -> Masks:
    """Iterative SynFlow: ``rounds`` rounds, after round k a fraction (1−s)^(k/rounds) is left."""
    if rounds < 1:
        raise ValueError(f"rounds must be a positive integer, got {rounds}")
    density = 1 - pruning.check_fraction(sparsity, "sparsity")
    masks = ones(model)
    for k in range(1, rounds + 1):
        scores = synflow_scores(model, masks, input_shape)
        masks = global_mask(scores, 1 - density ** (k / rounds), masks)
    return masks


def prune_at_init(method: str, model: nn.Module, sparsity: float,
                  x: torch.Tensor | None = None, y: torch.Tensor | None = None,
                  generator: torch.Generator | None = None, synflow_rounds: int = 100) -> Masks:
    """The masks ``method`` ("snip", "grasp", "synflow", "magnitude", "random") keeps at θ0.

    SNIP and GraSP need a few batches of data (``x``, ``y``); "random" keeps the same fraction
    of every layer and needs a ``generator``; the others rank all layers together.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    if method in ("snip", "grasp") and (x is None or y is None):
        raise ValueError(f"{method} scores need data: pass x (N, ...) and y (N,), a few batches")
    if method == "random":
        if generator is None:
            raise ValueError("random pruning needs a torch.Generator (generator=...)")
        return pruning.random_unstructured(ones(model), sparsity, generator)
    if method == "synflow":
        return synflow(model, sparsity, synflow_rounds)
    scores = {"snip": lambda: snip_scores(model, x, y), "grasp": lambda: grasp_scores(model, x, y),
              "magnitude": lambda: magnitude_scores(model)}[method]()
    return global_mask(scores, sparsity)


# ----------------------------------------------------------------------------- sanity checks

def shuffle_within_layers(masks: Masks, generator: torch.Generator) -> Masks:
    """Each layer's mask with its entries permuted at random: same count kept, new positions.
    Returns new tensors (the public SynFlow code's ``shuffle()`` assigns the permuted mask to
    a local variable, so its masks are never shuffled)."""
    # indexing with a permutation copies: the input masks are not changed
    return {n: m.reshape(-1)[torch.randperm(m.numel(), generator=generator)].view(m.shape)
            for n, m in masks.items()}


def kept_fractions(masks: Masks) -> dict[str, float]:
    """Fraction of each layer's weights kept, name -> float."""
    return {n: m.mean().item() for n, m in masks.items()}


def collapsed_layers(masks: Masks) -> list[str]:
    """Names of the layers with no weight left: layer collapse."""
    return [n for n, m in masks.items() if not bool(m.any())]


def connected(masks: Masks) -> bool:
    """Whether any path of kept weights leads from an input to an output (linear layers, in
    order: each mask (out, in)). A network with a collapsed layer is never connected."""
    if any(m.dim() != 2 for m in masks.values()):
        raise ValueError("connected() handles fully connected networks only (2-D masks)")
    reach = torch.ones(next(iter(masks.values())).shape[1])
    for m in masks.values():
        reach = (m @ reach > 0).float()
    return bool(reach.any())


def layer_state(method: str, model: nn.Module, sparsity: float, x: torch.Tensor | None = None,
                y: torch.Tensor | None = None, synflow_rounds: int = 100, seed: int = 0) -> dict:
    """What ``method`` keeps of ``model`` at ``sparsity`` (what the chapter's panel shows):
    ``{"method", "sparsity", "fractions", "counts"}`` (per layer) and ``"collapsed"``, the
    layers with nothing left, and ``"connected"`` (see :func:`connected`)."""
    m = prune_at_init(method, model, sparsity, x, y, torch.Generator().manual_seed(seed),
                      synflow_rounds)
    return {"method": method, "sparsity": sparsity, "fractions": kept_fractions(m),
            "counts": {n: int(v.sum()) for n, v in m.items()},
            "collapsed": collapsed_layers(m), "connected": connected(m)}


def imp_schedule(sparsities, max_rate: float) -> list[float]:
    """The sparsities an IMP run visits to reach each of ``sparsities`` (ascending), removing at
    most ``max_rate`` of the survivors per round, in equal geometric steps between targets."""
    if not pruning.check_fraction(max_rate, "max_rate") > 0:
        raise ValueError(f"max_rate must be in (0, 1): IMP must remove something each round, "
                         f"got {max_rate!r}")
    out, density = [], 1.0
    for s in sorted(pruning.check_fraction(v) for v in sparsities):
        target = 1 - s
        steps = max(1, math.ceil(math.log(target / density) / math.log(1 - max_rate) - 1e-9))
        out += [1 - density * (target / density) ** (k / steps) for k in range(1, steps + 1)]
        density = target
    return out


# ----------------------------------------------------------------------------- the study

@dataclass
class StudyConfig:
    """Everything that determines the study's numbers (profiles change sizes only)."""
    name: str = "prune-at-init"
    profile: str = "quick"
    sparsities: tuple[float, ...] = (0.9, 0.98)
    methods: tuple[str, ...] = METHODS
    trials: int = 1
    iterations: int = 300
    eval_every: int = 100
    batch_size: int = 60
    lr: float = 1.2e-3
    val_size: int | None = 2000
    train_subset: int | None = 5000
    score_batches: int = 1           # SNIP and GraSP look at this many batches
    synflow_rounds: int = 20
    imp_max_rate: float = 0.8        # IMP removes at most this much of the survivors a round
    seed: int = 0

    def __post_init__(self) -> None:
        from . import PROFILES
        if self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}: choose one of "
                             f"{', '.join(PROFILES)}")
        results.check_sequences(self, "sparsities", "methods")
        if not self.sparsities:
            raise ValueError("sparsities is empty: give at least one, e.g. sparsities=(0.9, 0.98)")
        self.sparsities, self.methods = tuple(self.sparsities), tuple(self.methods)
        results.check_counts(self, "trials", "iterations", "eval_every", "batch_size",
                             "score_batches", "synflow_rounds")
        results.check_counts(self, "val_size", "train_subset", optional=True)
        results.check_positive(self, "lr")
        if not isinstance(self.imp_max_rate, (int, float)) or not 0 < self.imp_max_rate < 1:
            raise ValueError(f"imp_max_rate must be in (0, 1) (the share of the survivors IMP "
                             f"removes a round, e.g. 0.8), got {self.imp_max_rate!r}")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ValueError(f"methods must be some of {', '.join(METHODS)}, got {self.methods}")
        for s in self.sparsities:
            pruning.check_fraction(s, "sparsity")
        pruning.check_fraction(self.imp_max_rate, "imp_max_rate")

    def to_dict(self) -> dict:
        return results.config_dict(self)

    def train_config(self) -> TrainConfig:
        return TrainConfig(iterations=self.iterations, batch_size=self.batch_size, lr=self.lr,
                           eval_every=self.eval_every, test_every=self.iterations)


SIZES = {
    "quick": dict(),
    # the horizon the probe measured (horizon-prune-at-init: minima up to 33.5K of 40K at 98%
    # pruned); two sparsities at 40K iterations and 3 trials rather than five at a clipped 4K
    "standard": dict(sparsities=(0.9, 0.98), trials=3, iterations=40_000, eval_every=500,
                     train_subset=None, synflow_rounds=100, imp_max_rate=0.6),
    "paper": dict(sparsities=(0.9, 0.95, 0.98, 0.99, 0.995), trials=5, iterations=20_000,
                  eval_every=250, val_size=5000, train_subset=None, synflow_rounds=100,
                  imp_max_rate=0.2),
}


def study_config(profile: str | None = None, **overrides) -> StudyConfig:
    """The study's config at ``profile`` (default ``$LTH_PROFILE``)."""
    from . import profile as current
    profile = profile or current()
    if profile not in SIZES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(SIZES)}")
    return StudyConfig(profile=profile, **{**SIZES[profile], **overrides})


def _train(template, cfg, data, members, seed, desc, progress):
    """Train (init params, masks) members as one population, on the same batches."""
    from .lottery import derive_seed
    return train_population(template, stack_masks([m[0] for m in members]),
                            stack_masks([m[1] for m in members]), data, cfg.train_config(),
                            [derive_seed(cfg.seed, "batches", seed)] * len(members),
                            progress=progress, desc=desc)


def _entry(t: int, method: str, variant: str, s: float, masks: Masks, history, k: int) -> dict:
    """One trained network's row of the record."""
    return {"trial": t, "sparsity": s, "method": method, "variant": variant,
            "layers": kept_fractions(masks), **{key: history.member(k)[key] for key in (
                "early_stop_test_acc", "early_stop_iteration", "final_test_acc")}}


def _theta(t: int, cfg: StudyConfig, which: str) -> dict[str, torch.Tensor]:
    from .lottery import derive_seed
    return {n: p.detach().clone() for n, p in
            models.build("lenet", derive_seed(cfg.seed, which, t)).named_parameters()}


def scoring_start(cfg: StudyConfig, t: int, data):
    """What every method of trial ``t`` scores with: the network at θ0, the trial's mask
    generator, and the scoring batch it draws first (``cfg.score_batches`` batches of the
    training set, on the CPU). The generator goes on to draw the random masks and shuffles."""
    from .lottery import derive_seed
    model = models.build("lenet", derive_seed(cfg.seed, "init", t))
    gen = torch.Generator().manual_seed(derive_seed(cfg.seed, "masks", t))
    idx = torch.randperm(len(data.train_y), generator=gen)[:cfg.score_batches * cfg.batch_size]
    idx = idx.to(data.device)
    return model, gen, data.train_x[idx].cpu(), data.train_y[idx].cpu()


class PruneAtInitStudy(engine.Study):
    """The study as :mod:`lth_utils.engine` runs it. Units of each trial ``t``: ``t dense``
    (the dense network), ``t imp i`` (round i of the IMP chain: global magnitude pruning of
    the last round's trained weights, reset to θ0) and ``t methods`` (every method and
    variant at every sparsity, trained as one population)."""
    kind = "prune-at-init"

    def __init__(self, cfg: StudyConfig, trials: list[int] | None = None, data=None,
                 progress: bool | None = None):
        super().__init__(cfg.to_dict(), cfg.trials, trials)
        self.cfg, self.data, self.progress = cfg, data, progress
        self.schedule = imp_schedule(cfg.sparsities, cfg.imp_max_rate)

    def start(self) -> dict:
        # chain: trial -> the last trained weights and mask of its IMP chain; imp: trial ->
        # sparsity -> the IMP mask at each of the study's sparsities
        return {"entries": [], "chain": {}, "imp": {}}

    def prepare(self, state: dict) -> None:
        from . import data as data_mod
        self.data = self.data or data_mod.load("mnist", val_size=self.cfg.val_size,
                                               train_subset=self.cfg.train_subset)
        self.template = models.build("lenet")

    def device(self) -> str:
        from . import device_name
        return device_name(self.data.device)

    def units(self) -> list[str]:
        return [u for t in self.trials for u in [f"{t} dense"] + [
            f"{t} imp {i}" for i in range(1, len(self.schedule) + 1)] + [f"{t} methods"]]

    def _train(self, members, t: int, desc: str):
        return _train(self.template, self.cfg, self.data, members, t, desc, self.progress)

    def step(self, unit: str, state: dict) -> None:
        t, what, *i = unit.split()
        cfg, theta0 = self.cfg, _theta(int(t), self.cfg, "init")
        if what == "dense":
            masks = ones(self.template)
            h = self._train([(theta0, masks)], int(t), "dense")
            state["entries"].append(_entry(int(t), "dense", "original", 0.0, masks,
                                           h.history, 0))
        elif what == "imp":
            s = self.schedule[int(i[0]) - 1]
            masks = pruning.to_sparsity(state["chain"][t]["trained"],
                                        state["chain"][t]["masks"], s, scope="global")
            h = self._train([(theta0, masks)], int(t), f"IMP {100 * s:.1f}%")
            if any(abs(s - v) < 1e-9 for v in cfg.sparsities):
                s = min(cfg.sparsities, key=lambda v: abs(v - s))
                state["imp"].setdefault(t, {})[str(s)] = masks
                state["entries"].append(_entry(int(t), "imp", "original", s, masks,
                                               h.history, 0))
        else:
            state["entries"] += self._methods(int(t), theta0, state["imp"][t])
            del state["chain"][t], state["imp"][t]
            return
        state["chain"][t] = {"trained": {n: v[0].cpu() for n, v in h.params.items()},
                             "masks": masks}

    def _methods(self, t: int, theta0, imp: dict[str, Masks]) -> list[dict]:
        """Every method and variant at every sparsity of trial ``t``: one population."""
        cfg = self.cfg
        model, gen, x, y = scoring_start(cfg, t, self.data)
        reinit = _theta(t, cfg, "reinit")
        members, labels = [], []
        for s in cfg.sparsities:
            for method in cfg.methods:
                m = prune_at_init(method, model, s, x, y, gen, cfg.synflow_rounds)
                variants = ("original", "reinit") if method == "random" else VARIANTS
                for v in variants:
                    labels.append((method, v, s))
                    members.append((reinit if v == "reinit" else theta0,
                                    shuffle_within_layers(m, gen) if v == "shuffled" else m))
            labels += [("imp", "shuffled", s), ("imp", "reinit", s)]
            members += [(theta0, shuffle_within_layers(imp[str(s)], gen)),
                        (reinit, imp[str(s)])]
        run = self._train(members, t, f"trial {t}: {len(members)} networks")
        return [_entry(t, method, v, s, members[k][1], run.history, k)
                for k, (method, v, s) in enumerate(labels)]

    def body(self, state: dict) -> dict:
        return {"trials_done": len(self.trials),
                "rounds": [{"round": i, "fraction_remaining": 1 - s}
                           for i, s in enumerate([0.0] + self.schedule)],
                "entries": state["entries"]}


def record_path(cfg: StudyConfig, trials: list[int] | None = None) -> Path:
    """Where the study's record lives: ``data/results/prune-at-init-PROFILE.json`` (a part of
    the trials: ``...-PROFILE.trials-A-B.json``, see :func:`merge`; a config that is not the
    book's: ``...-PROFILE.variant-KEY.json``, see :func:`results.variant_path`)."""
    book = study_config(cfg.profile) if cfg.profile in SIZES else None
    path = results.variant_path(results.results_dir() / f"{cfg.name}-{cfg.profile}.json",
                                cfg, book)
    return results.part_path(path, trials, cfg.trials)


def run_study(cfg: StudyConfig, data=None, progress: bool | None = None, log=print,
              out: str | Path | None = None, trials: list[int] | None = None) -> dict:
    """Run (or load from ``data/results/prune-at-init-PROFILE.json``, or resume) the study
    with :mod:`lth_utils.engine`: a checkpoint after every unit (the dense network, each IMP
    round, the population of one trial), so a killed run resumes at the next unit.

    Its ``entries`` hold one dict per trained network: trial, sparsity, method ("dense", "imp"
    or one of :data:`METHODS`), variant, per-layer kept fractions and test accuracies.
    ``trials``: compute only these trial indices (a part; :func:`merge` joins the parts into
    the record one run writes: each trial is its own population, so a part's numbers are
    the same bits as in one run).
    """
    cfg = results.checked_config(cfg, StudyConfig, "prune_at_init.study_config(PROFILE)")
    study = PruneAtInitStudy(cfg, trials, data, progress)
    path = Path(out) if out is not None else record_path(cfg, study.trials)
    return engine.run(study, path, log, verbose=False)


def merge(records: list[dict]) -> dict:
    """The record one run of all the trials writes, from the parts of a study split by trials
    (``run_study(..., trials=[...])``): entries in trial order, wall times summed."""
    every, parts = results.check_parts(records, results.held_trials)
    owner = {t: r for r, ts in zip(records, parts) for t in ts}
    merged = results.merged_header(records, parts, drop=("entries", "trials"))
    merged.update(trials_done=len(every), complete=True,
                  entries=[e for t in every for e in owner[t]["entries"] if e["trial"] == t])
    return merged


def summary(record: dict, key: str = "early_stop_test_acc") -> dict[tuple[str, str], dict]:
    """(method, variant) -> {"sparsity": [...], "mean": [...], "min": [...], "max": [...]}
    over trials, sparsities ascending (the dense network: ("dense", "original") at 0)."""
    groups: dict[tuple[str, str], dict[float, list[float]]] = {}
    for e in record["entries"]:
        groups.setdefault((e["method"], e["variant"]), {}).setdefault(e["sparsity"], []) \
            .append(e[key])
    out = {}
    for k, by_s in groups.items():
        s = sorted(by_s)
        out[k] = {"sparsity": s, "mean": [sum(by_s[v]) / len(by_s[v]) for v in s],
                  "min": [min(by_s[v]) for v in s], "max": [max(by_s[v]) for v in s]}
    return out


# ----------------------------------------------------------------------------- reading the checks
# What each sanity check costs, per method, check and sparsity, read from the record (pure
# functions: numbers and rows of strings). Frankle et al. (2021) report that the checks leave
# the methods at initialisation the same or better, unlike pruning after training; chapter 10
# reads, sparsity by sparsity and with the trials' range, where that holds on LeNet.

CHECKS = ("shuffled", "reinit")
SCORED = ("snip", "grasp", "synflow", "magnitude")     # the methods that score weights at θ0
NAMES = {"snip": "SNIP", "grasp": "GraSP", "synflow": "SynFlow", "magnitude": "magnitude",
         "random": "random", "imp": "the IMP ticket"}


def _by_trial(record: dict, method: str, variant: str, sparsity: float) -> dict[int, float]:
    """trial -> test accuracy at early stop of one (method, variant, sparsity) of ``record``."""
    return {e["trial"]: e["early_stop_test_acc"] for e in record["entries"]
            if e["method"] == method and e["variant"] == variant
            and abs(e["sparsity"] - sparsity) < 1e-9}


def check_costs(record: dict) -> list[dict]:
    """What each sanity check costs, per (method, check, sparsity) of the record.

    The cost is the original mask's test accuracy at early stop minus the check's, paired by
    trial (the same θ0 and batches). Rows ``{"method", "check", "sparsity", "mean", "lo",
    "hi", "apart", "trials"}``: mean, min and max over trials of the cost; ``apart`` is True
    when the trials' ranges of the two accuracies do not overlap (never with one trial). The
    IMP ticket is the method "imp"; "random" has no shuffle (it would be random again).
    """
    rows = []
    for s in record["config"]["sparsities"]:
        for m in (*record["config"]["methods"], "imp"):
            orig = _by_trial(record, m, "original", s)
            for v in CHECKS:
                var = _by_trial(record, m, v, s)
                if not var:
                    continue
                cost = np.array([orig[t] - var[t] for t in sorted(var)])
                apart = compare_ranges(list(orig.values()), list(var.values())) != "within"
                rows.append({"method": m, "check": v, "sparsity": s, "mean": float(cost.mean()),
                             "lo": float(cost.min()), "hi": float(cost.max()),
                             "apart": bool(apart), "trials": len(cost)})
    return rows


def cost_table(record: dict, check: str) -> list[dict]:
    """What ``check`` (``"shuffled"`` or ``"reinit"``, see :func:`check_costs`) costs, as rows
    of strings for ``records.Table``: a row per method, a column per sparsity, each cell the
    mean cost in points and, with several trials, the trials' range in brackets under it (a
    line of its own, as in :func:`accuracy_table`). One table per check: with the two checks in
    one table and a column per method it was wider than the book's page."""
    if check not in CHECKS:
        raise ValueError(f"check must be one of {', '.join(CHECKS)}, got {check!r}")

    def cell(r: dict) -> str:
        text = f"{100 * r['mean']:+.1f}"
        return text + (f"\n[{100 * r['lo']:.1f},{100 * r['hi']:.1f}]" if r["trials"] > 1
                       else "")

    costs = [r for r in check_costs(record) if r["check"] == check]
    columns = [f"{100 * s:g}%" for s in sorted({r["sparsity"] for r in costs})]
    rows: dict[str, dict] = {}
    for m in (*SCORED, "random", "imp"):   # rows without a cost (random, shuffled) dropped
        rows[m] = {"method": "IMP" if m == "imp" else NAMES[m], **dict.fromkeys(columns, "")}
    for r in costs:
        rows[r["method"]][f"{100 * r['sparsity']:g}%"] = cell(r)
    return [row for row in rows.values() if any(row[c] for c in columns)]


def _sparsity_label(sparsities) -> str:
    """'90%, 95% and 99%' for sparsities pruned; 'none' for an empty list."""
    s = [f"{100 * v:g}%" for v in sparsities]
    return "none" if not s else s[0] if len(s) == 1 else ", ".join(s[:-1]) + " and " + s[-1]


def check_summary(record: dict) -> dict:
    """What chapter 10 says about the sanity checks, computed from ``record`` (for glue).

    A sparsity is *calm* when, for each check, every method of :data:`SCORED` loses less to it
    than the IMP ticket does (means over trials). Returns ``"calm"`` and ``"other"``
    (sparsities, ascending) and their labels (``"calm_label"``, ``"other_label"``);
    ``"calm_worst"``, the largest mean cost of a method at initialisation at a calm sparsity
    (``nan`` if none); ``"imp_<check>_lo"`` and ``"imp_<check>_hi"``, the IMP ticket's mean
    cost over the calm sparsities; ``"pairs"``, the method-check comparisons at calm
    sparsities, and ``"lost"``, those where the original stays above the check beyond the
    trials' range; ``"calm_worst_trial"``, the largest cost of a single trial there (``nan``
    if none), and ``"calm_worst_trial_at"``, where (e.g. "GraSP shuffled at 98% pruned");
    ``"trials"``; ``"sparsest"`` and, per check there, ``"last_<check>"`` (each
    method's cost, a phrase), ``"last_<check>_imp"`` (the IMP ticket's cost) and
    ``"last_<check>_not_below"`` (how many methods lose as much as the IMP ticket, or less but
    within the trials' range of it: the largest cost of their trials reaches the IMP ticket's
    smallest). Costs in points.
    """
    rows = {(r["method"], r["check"], r["sparsity"]): r for r in check_costs(record)}
    sparsities = sorted(record["config"]["sparsities"])

    def costs(v: str, s: float) -> dict[str, float]:
        return {m: 100 * rows[m, v, s]["mean"] for m in (*SCORED, "imp") if (m, v, s) in rows}

    calm = [s for s in sparsities
            if all(c[m] < c["imp"] for v in CHECKS for c in [costs(v, s)] for m in SCORED)]
    at_calm = [rows[m, v, s] for s in calm for v in CHECKS for m in SCORED]
    nan = float("nan")
    out = {"calm": calm, "other": [s for s in sparsities if s not in calm],
           "calm_worst": max((100 * r["mean"] for r in at_calm), default=nan),
           "pairs": len(at_calm), "lost": sum(r["apart"] and r["mean"] > 0 for r in at_calm),
           "trials": record["config"]["trials"], "sparsest": sparsities[-1]}
    worst = max(at_calm, key=lambda r: r["hi"], default=None)
    out["calm_worst_trial"] = nan if worst is None else 100 * worst["hi"]
    out["calm_worst_trial_at"] = "none" if worst is None else \
        f"{NAMES[worst['method']]} {worst['check']} at {100 * worst['sparsity']:g}% pruned"
    out["calm_label"] = _sparsity_label(out["calm"])
    out["other_label"] = _sparsity_label(out["other"])
    for v in CHECKS:
        imp = [costs(v, s)["imp"] for s in calm]
        out[f"imp_{v}_lo"], out[f"imp_{v}_hi"] = min(imp, default=nan), max(imp, default=nan)
        c = costs(v, sparsities[-1])
        parts = [f"{NAMES[m]} {c[m]:+.2f}" for m in SCORED]
        out[f"last_{v}"] = ", ".join(parts[:-1]) + " and " + parts[-1]
        out[f"last_{v}_imp"] = c["imp"]
        imp_lo = rows["imp", v, sparsities[-1]]["lo"]
        out[f"last_{v}_not_below"] = sum(rows[m, v, sparsities[-1]]["hi"] >= imp_lo
                                         for m in SCORED)
    return out


def late_stops(record: dict, last: float = 0.1) -> dict:
    """How many of the record's networks have their early stop in the last ``last`` of
    training (:func:`lth_utils.records.is_late`): their validation loss was still falling when
    training ended, so their accuracy is a lower bound on where they would have ended.

    Returns ``{"late", "total"}`` over the pruned networks, ``"by_sparsity"`` (sparsity ->
    (late, total)), ``"dense"`` (the dense network's early-stop iterations, one per trial),
    ``"dense_late"``, ``"horizon"`` (iterations trained) and ``"threshold"`` (the iteration
    after which a stop is late).
    """
    by_s: dict[float, list[bool]] = {}
    for e in record["entries"]:
        if e["sparsity"] > 0:
            by_s.setdefault(e["sparsity"], []).append(
                is_late(record, e["early_stop_iteration"], last))
    dense = [e["early_stop_iteration"] for e in record["entries"] if e["method"] == "dense"]
    T = record["config"]["iterations"]
    return {"late": sum(sum(v) for v in by_s.values()),
            "total": sum(len(v) for v in by_s.values()),
            "by_sparsity": {s: (sum(v), len(v)) for s, v in sorted(by_s.items())},
            "dense": dense, "dense_late": sum(is_late(record, i, last) for i in dense),
            "horizon": T, "threshold": late_after(T, last)}


def late_points(record: dict, last: float = 0.1) -> dict[tuple[str, str], list[bool]]:
    """Which points of :func:`summary` to draw hollow: (method, variant) -> one bool per
    sparsity (ascending, as in :func:`summary`), True when *any* of its trials has its early
    stop in the last ``last`` of training (:func:`lth_utils.records.is_late`). Such a point's
    mean includes a run still improving when training ended: a lower bound."""
    groups: dict[tuple[str, str], dict[float, list[bool]]] = {}
    for e in record["entries"]:
        groups.setdefault((e["method"], e["variant"]), {}).setdefault(e["sparsity"], []) \
            .append(is_late(record, e["early_stop_iteration"], last))
    return {k: [any(by_s[s]) for s in sorted(by_s)] for k, by_s in groups.items()}


def horizon_verdict(record: dict, probe_iterations: int, last: float = 0.1) -> dict:
    """Whether the record's comparisons are between measured minima (chapter 5's rule),
    sparsity by sparsity.

    ``probe_iterations``: how long the horizon probe trained to find the sparse networks'
    minima. A sparsity is *measured* when the record trains at least that long and at most
    ``last`` of its pruned networks there stop in the last ``last`` of training
    (:func:`late_stops`); else its comparisons are censored. Returns ``{"measured"}`` (at
    every sparsity), ``"long_enough"``, ``"late"`` and ``"total"`` (over all sparsities),
    ``"iterations"``, ``"probe_iterations"``, ``"last"`` and ``"by_sparsity"``: sparsity ->
    ``{"late", "total", "measured"}``, ascending."""
    late = late_stops(record, last)
    T = record["config"]["iterations"]
    long_enough = T >= probe_iterations
    by_s = {s: {"late": k, "total": n, "measured": long_enough and k <= last * n}
            for s, (k, n) in late["by_sparsity"].items()}
    return {"measured": all(v["measured"] for v in by_s.values()),
            "long_enough": long_enough, "late": late["late"], "total": late["total"],
            "iterations": T, "probe_iterations": probe_iterations, "last": last,
            "by_sparsity": by_s}


def _share(late: int, total: int) -> str:
    """'none of the 51', '8 of the 51'."""
    return f"{late or 'none'} of the {total}"


def _fraction_words(last: float) -> tuple[str, str]:
    """("tenth", "one in ten") for last = 0.1; a percentage for an unnamed fraction."""
    words = {0.1: ("tenth", "ten"), 0.2: ("fifth", "five"), 0.25: ("quarter", "four")}
    part, n = words.get(last, (f"{last:.0%}", None))
    return part, f"one in {n}" if n else f"{last:.0%}"


def horizon_text(verdict: dict) -> str:
    """:func:`horizon_verdict` in words: how long the study trains against the probe, then
    one sentence per sparsity, measured or censored, e.g. "This study trains 40,000
    iterations, as long as the probe. At 90% pruned none of the 51 pruned networks stop in the
    last tenth: the comparisons there are between measured minima. At 98% pruned 8 of the 51
    stop in the last tenth, more than one in ten: the comparisons there are censored, lower
    bounds after 40,000 iterations, not each network at its best." """
    T, P, last = verdict["iterations"], verdict["probe_iterations"], verdict["last"]
    tenth, one_in = _fraction_words(last)
    how = "as long as" if T == P else "longer than" if T > P else "short of"
    out = [f"This study trains {T:,} iterations, {how} the probe"
           + (f"'s {P:,}." if T < P else ".")]
    for i, (s, v) in enumerate(verdict["by_sparsity"].items()):
        k, n = v["late"], v["total"]
        head = (f"At {100 * s:g}% pruned {_share(k, n)}"
                + (" pruned networks" if i == 0 else "") + f" stop in the last {tenth}")
        if v["measured"]:
            out.append(head + ": the comparisons there are between measured minima" + (
                f", except those with the {k} late one{'s' if k > 1 else ''} (hollow), "
                "lower bounds." if k else "."))
        else:
            why = f", more than {one_in}" if k > last * n else \
                ", but the study is shorter than the probe"
            out.append(head + why + ": the comparisons there are censored, lower bounds "
                       f"after {T:,} iterations, not each network at its best.")
    return " ".join(out)


def late_text(verdict: dict) -> str:
    """:func:`horizon_verdict` in one sentence, for a list of limits or a summary, e.g. "Pruned
    networks still improving at the end of training (lower bounds, hollow in the figures):
    none of the 51 at 90% pruned and 8 of the 51 at 98% pruned; the comparisons are censored
    at 98% pruned, between measured minima at 90% pruned." """
    by_s = verdict["by_sparsity"]
    shares = [f"{_share(v['late'], v['total'])} at {100 * s:g}% pruned"
              for s, v in by_s.items()]
    censored = _sparsity_label([s for s, v in by_s.items() if not v["measured"]])
    measured = _sparsity_label([s for s, v in by_s.items() if v["measured"]])
    where = [f"censored at {censored} pruned" if censored != "none" else "",
             f"between measured minima at {measured} pruned" if measured != "none" else ""]
    listed = shares[0] if len(shares) == 1 else ", ".join(shares[:-1]) + " and " + shares[-1]
    return ("Pruned networks still improving at the end of training (lower bounds, hollow "
            f"in the figures): {listed}; the comparisons are "
            + ", ".join(w for w in where if w) + ".")


def standings(record: dict) -> dict[float, dict[str, dict[str, list[str]]]]:
    """Where each method of :data:`SCORED` stands, per sparsity, against the IMP ticket and
    against random pruning (masks as found, test accuracy at early stop).

    sparsity -> {"imp": {...}, "random": {...}}, each ``{"below", "within", "above"}`` (lists
    of methods): below or above when every trial of the method is below (above) every trial
    of the other, within when the trials' ranges overlap (always with one trial)."""
    out = {}
    for s in sorted(record["config"]["sparsities"]):
        out[s] = {}
        for other in ("imp", "random"):
            o = list(_by_trial(record, other, "original", s).values())
            side = {"below": [], "within": [], "above": []}
            for m in (m for m in SCORED if m in record["config"]["methods"]):
                a = list(_by_trial(record, m, "original", s).values())
                side[compare_ranges(a, o)].append(m)
            out[s][other] = side
    return out


def accuracy_table(record: dict, last: float = 0.1) -> list[dict]:
    """Rows of strings for ``records.Table``: one per sparsity, one column per method (as
    found) and the IMP ticket, each cell the mean test accuracy at early stop in % and, with
    several trials, the trials' range under it ("97.2–97.8", on a line of its own: seven
    columns fit the page's column); ``*`` marks a point with a trial still improving at the end of
    training (:func:`late_points`: a lower bound)."""
    summ, late = summary(record), late_points(record, last)
    rows = []
    for s in sorted(record["config"]["sparsities"]):
        row = {"pruned": f"{100 * s:g}%"}
        for m in (*record["config"]["methods"], "imp"):
            c = summ[m, "original"]
            k = c["sparsity"].index(s)
            text = f"{100 * c['mean'][k]:.1f}" + ("*" if late[m, "original"][k] else "")
            if record["config"]["trials"] > 1:
                text += f"\n{100 * c['min'][k]:.1f}–{100 * c['max'][k]:.1f}"
            row["IMP" if m == "imp" else m] = text
        rows.append(row)
    return rows


def standing_text(standing: dict) -> str:
    """:func:`standings` in words, one sentence per sparsity, e.g. "At 98% pruned, SNIP and
    GraSP lie below the IMP ticket beyond the trials' range, SynFlow and magnitude lie within
    it; all four methods lie above random pruning beyond the trials' range." """
    def who(ms: list[str]) -> str:
        names = [NAMES[m] for m in ms]
        return "all four methods lie" if len(names) == len(SCORED) else \
            names[0] + " lies" if len(names) == 1 else \
            ", ".join(names[:-1]) + " and " + names[-1] + " lie"

    def relation(side: dict, other: str) -> str:
        out = [f"{who(side[w])} {w} {other} beyond the trials' range"
               for w in ("below", "above") if side[w]]
        if side["within"]:
            out.append(f"{who(side['within'])} within "
                       + ("it" if out else f"the trials' range of {other}"))
        return ", ".join(out)

    return " ".join(f"At {100 * s:g}% pruned, {relation(v['imp'], 'the IMP ticket')}; "
                    f"{relation(v['random'], 'random pruning')}." for s, v in standing.items())
