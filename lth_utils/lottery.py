"""The lottery ticket experiment (Frankle & Carbin 2019) and its controls.

Iterative magnitude pruning, for R rounds::

    θ0 = random init;  m = all ones
    train f(x; m ⊙ θ0) → θ_trained
    m = prune p% of the surviving weights of θ_trained, per layer, smallest |θ| first
    reset the survivors to θ0 (or rewind to θk) and train again ... repeat

Controls trained beside the ticket in every round, on the same batches:
* ``reinit``: the ticket's mask with a fresh random initialisation;
* ``random_mask``: the ticket's initialisation with a random mask of the same per-layer sparsity.
One-shot pruning (``oneshot``) prunes the dense trained network once to each target sparsity,
resets to θ0 and retrains.

A study writes its record after every round (atomically) and keeps a checkpoint beside it, so a
killed study resumes from the last finished round and ends with the same record.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from . import data as data_mod
from . import models, pruning, results
from .masks import Masks, fraction_remaining, ones
from .training import TrainConfig, stack, stack_masks, train_population

ARMS = ("ticket", "reinit", "random_mask")
PROFILES = ("quick", "standard", "paper")


@dataclass
class StudyConfig:
    """Everything that determines a study's numbers. Profiles change sizes, never code paths."""
    name: str = "lenet-mnist"
    model: str = "lenet"
    dataset: str = "mnist"
    profile: str = "quick"
    trials: int = 1
    rounds: int = 3
    rates: tuple[float, ...] = (0.2, 0.1)      # per-layer kind, as pruning.PAPER_RATES
    controls: tuple[str, ...] = ("reinit",)
    oneshot_rounds: tuple[int, ...] = ()        # one-shot to the sparsity of these rounds
    rewind_iteration: int = 0                   # 0: reset to θ0 (the original lottery ticket)
    iterations: int = 1000
    batch_size: int = 60
    optimizer: str = "adam"
    lr: float = 1.2e-3
    eval_every: int = 100
    val_size: int | None = None
    train_subset: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.model not in models.MODELS:
            raise ValueError(f"unknown model {self.model!r}: choose one of {', '.join(models.MODELS)}")
        data_mod._check_name(self.dataset)
        bad = [c for c in self.controls if c not in ARMS[1:]]
        if bad:
            raise ValueError(f"unknown control {bad[0]!r}: choose from {', '.join(ARMS[1:])}")
        for r in self.rates:
            pruning.check_fraction(r, "pruning rate")
        if self.trials < 1 or self.rounds < 0:
            raise ValueError("trials must be >= 1 and rounds >= 0")
        self.rates = tuple(self.rates)
        self.controls = tuple(self.controls)
        self.oneshot_rounds = tuple(self.oneshot_rounds)

    def train_config(self) -> TrainConfig:
        return TrainConfig(iterations=self.iterations, batch_size=self.batch_size,
                           optimizer=self.optimizer, lr=self.lr, eval_every=self.eval_every,
                           snapshot_at=self.rewind_iteration)

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


# The studies behind the book, per profile. `quick` runs in CI, `standard` is the published book,
# `paper` is the full protocol (50K iterations, 5 trials).
STUDIES: dict[str, dict] = {
    "lenet-mnist": dict(model="lenet", dataset="mnist", rates=(0.2, 0.1)),
    "lenet-fashion-mnist": dict(model="lenet", dataset="fashion-mnist", rates=(0.2, 0.1)),
    "conv2-cifar10": dict(model="conv2", dataset="cifar10", rates=(0.1, 0.2, 0.1), lr=2e-4),
    "conv4-cifar10": dict(model="conv4", dataset="cifar10", rates=(0.1, 0.2, 0.1), lr=3e-4),
    "conv6-cifar10": dict(model="conv6", dataset="cifar10", rates=(0.15, 0.2, 0.1), lr=3e-4),
}
SIZES = {
    "lenet": {
        "quick": dict(trials=2, rounds=5, iterations=1200, eval_every=200,
                      rates=(0.5, 0.25), controls=("reinit", "random_mask"),
                      oneshot_rounds=(1, 3, 5)),
        "standard": dict(trials=3, rounds=18, iterations=5000, eval_every=100,
                         controls=("reinit", "random_mask"), oneshot_rounds=(2, 4, 7, 10, 13, 16)),
        "paper": dict(trials=5, rounds=24, iterations=50_000, eval_every=100,
                      controls=("reinit", "random_mask"),
                      oneshot_rounds=(2, 4, 7, 10, 13, 16, 19, 22)),
    },
    "conv": {
        "quick": dict(trials=1, rounds=3, iterations=300, eval_every=100, train_subset=5000,
                      rates=(0.3, 0.5, 0.25), controls=("reinit",)),
        "standard": dict(trials=2, rounds=8, iterations=3000, eval_every=250,
                         controls=("reinit", "random_mask"), oneshot_rounds=(2, 4, 8)),
        "paper": dict(trials=5, rounds=20, iterations=25_000, eval_every=100,
                      controls=("reinit", "random_mask"), oneshot_rounds=(2, 5, 10, 15)),
    },
}


def study_config(name: str = "lenet-mnist", profile: str | None = None, **overrides) -> StudyConfig:
    """The config of study ``name`` at ``profile`` (default: ``$LTH_PROFILE`` or "quick")."""
    profile = profile or os.environ.get("LTH_PROFILE", "quick")
    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}: choose one of {', '.join(STUDIES)}")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    base = STUDIES[name]
    sizes = SIZES["lenet" if base["model"] == "lenet" else "conv"][profile]
    return StudyConfig(name=name, profile=profile, **{**base, **sizes, **overrides})


def derive_seed(*parts: object) -> int:
    """A reproducible 31-bit seed from any labels, e.g. derive_seed(0, "reinit", trial, round)."""
    return int(hashlib.sha256(repr(parts).encode()).hexdigest()[:8], 16) & 0x7FFFFFFF


def layer_rates(cfg: StudyConfig, masks: Masks) -> dict[str, float]:
    """Per-layer pruning rates for ``masks``: conv, fully connected, output (LeNet: fc, output)."""
    names = list(masks)
    conv_rate = cfg.rates[0] if len(cfg.rates) == 3 else None
    return {n: cfg.rates[-1] if n == names[-1] else
            (conv_rate if masks[n].dim() == 4 else cfg.rates[-2]) for n in names}


def _init(cfg: StudyConfig, seed: int) -> dict[str, torch.Tensor]:
    return {n: p.detach() for n, p in models.build(cfg.model, seed).named_parameters()}


def _summary(arms: dict[str, list[dict]]) -> str:
    parts = []
    for arm, members in arms.items():
        acc = sum(m["early_stop_test_acc"] for m in members) / len(members)
        it = sum(m["early_stop_iteration"] for m in members) / len(members)
        parts.append(f"{arm} {100 * acc:.2f}% (early stop {it:,.0f})")
    return " | ".join(parts)


def _train_arms(cfg: StudyConfig, template, data, members: list[tuple[str, int, dict, Masks]],
                snapshot: bool, progress: bool, desc: str):
    """Train (arm, trial, init, masks) members as one population; per-arm lists of results."""
    run = train_population(template, stack_masks([m[2] for m in members]),
                           stack_masks([m[3] for m in members]), data,
                           cfg.train_config() if snapshot else
                           replace(cfg.train_config(), snapshot_at=None),
                           [derive_seed(cfg.seed, "batches", m[1]) for m in members],
                           progress=progress, desc=desc)
    return run


def run_study(cfg: StudyConfig, out: str | Path | None = None, progress: bool = True,
              data: data_mod.Splits | None = None, log=print) -> dict:
    """Run (or resume, or load from cache) the study ``cfg``; return its record.

    ``out`` defaults to ``data/results/<name>-<profile>.json``. A complete record with the same
    config is returned as is; a record with another config is recomputed.
    """
    out = Path(out) if out is not None else results.results_dir() / f"{cfg.name}-{cfg.profile}.json"
    config = cfg.to_dict()
    cached = results.load_cached(out, config)
    if cached is not None:
        return cached
    ckpt_path = out.with_suffix(".ckpt.pt")
    state = None
    if ckpt_path.exists():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        if state.get("config") != config:
            log(f"{ckpt_path.name}: checkpoint of another config; starting afresh")
            state = None
        else:
            log(f"resuming {cfg.name} ({cfg.profile}) at stage {state['next']}")
    data = data or data_mod.load(cfg.dataset, val_size=cfg.val_size,
                                 train_subset=cfg.train_subset)
    template = models.build(cfg.model)
    trials = range(cfg.trials)
    if state is None:
        record = {"schema": results.SCHEMA, "kind": results.KIND, "config": config,
                  "config_key": results.config_key(config), "code_version": results.code_version(),
                  "complete": False, "wall_time_s": 0.0, "rounds": [], "oneshot": []}
        state = {"config": config, "next": 0, "record": record}
    record = state["record"]
    if state["next"] == "done":  # killed after the last checkpoint, before the record was written
        results.save_record(record, out)
        ckpt_path.unlink(missing_ok=True)
        return record

    def checkpoint(next_stage, started: float, **tensors) -> None:
        record["wall_time_s"] = round(record["wall_time_s"] + time.time() - started, 1)
        state.update(next=next_stage, **tensors)
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, ckpt_path)
        results.save_record(record, out)

    stages = [0] + (["oneshot"] if cfg.oneshot_rounds else []) + list(range(1, cfg.rounds + 1))
    for stage in stages[stages.index(state["next"]):]:
        started = time.time()
        if stage == 0:  # dense networks: θ0, trained weights, rewind point
            inits = [_init(cfg, derive_seed(cfg.seed, "init", t)) for t in trials]
            dense = [ones(template) for _ in trials]
            run = _train_arms(cfg, template, data, [("ticket", t, inits[t], dense[t]) for t in trials],
                              True, progress, "dense")
            rewind = run.snapshot
            trained = run.params
            entry = {"round": 0, "fraction_remaining": 1.0,
                     "layers": {n: 1.0 for n in dense[0]},
                     "arms": {"ticket": [run.history.member(t) for t in trials]}}
            masks = [layer_prune(cfg, {n: v[t] for n, v in trained.items()}, dense[t])
                     for t in trials]
            record["rounds"].append(entry)
            log(f"round 0/{cfg.rounds} · 100.0% weights left · {_summary(entry['arms'])}")
            checkpoint(stages[1] if len(stages) > 1 else "done", started,
                       rewind=rewind, masks=stack_masks(masks), dense_trained=trained)
        elif stage == "oneshot":
            members = []
            for r in cfg.oneshot_rounds:
                for t in trials:
                    w = {n: v[t] for n, v in state["dense_trained"].items()}
                    m = ones(template)
                    rates = {n: pruning.rate_for_rounds(x, r) for n, x in layer_rates(cfg, m).items()}
                    members.append(("oneshot", t, {n: v[t] for n, v in state["rewind"].items()},
                                    pruning.l1_unstructured(w, m, rates)))
            run = _train_arms(cfg, template, data, members, False, progress, "one-shot")
            for i, r in enumerate(cfg.oneshot_rounds):
                sl = range(i * cfg.trials, (i + 1) * cfg.trials)
                mk = members[sl[0]][3]
                record["oneshot"].append({
                    "rounds_equivalent": r, "fraction_remaining": fraction_remaining(mk),
                    "layers": {n: m.mean().item() for n, m in mk.items()},
                    "arms": {"oneshot": [run.history.member(j) for j in sl]}})
                log(f"one-shot to round {r}'s sparsity · "
                    f"{100 * fraction_remaining(mk):.1f}% weights left · "
                    f"{_summary(record['oneshot'][-1]['arms'])}")
            checkpoint(stages[stages.index(stage) + 1] if stage != stages[-1] else "done", started)
        else:  # pruning round `stage`: ticket and controls on the masks from the last round
            r = stage
            masks = [{n: v[t] for n, v in state["masks"].items()} for t in trials]
            rewind = [{n: v[t] for n, v in state["rewind"].items()} for t in trials]
            members = [("ticket", t, rewind[t], masks[t]) for t in trials]
            if "reinit" in cfg.controls:
                members += [("reinit", t, _init(cfg, derive_seed(cfg.seed, "reinit", t, r)), masks[t])
                            for t in trials]
            if "random_mask" in cfg.controls:
                members += [("random_mask", t, rewind[t], pruning.random_like(
                    masks[t], torch.Generator().manual_seed(derive_seed(cfg.seed, "mask", t, r))))
                    for t in trials]
            frac = fraction_remaining(masks[0])
            run = _train_arms(cfg, template, data, members, False, progress,
                              f"round {r}/{cfg.rounds} ({100 * frac:.1f}% left)")
            arms: dict[str, list[dict]] = {}
            for j, (arm, t, _, _) in enumerate(members):
                arms.setdefault(arm, []).append(run.history.member(j))
            entry = {"round": r, "fraction_remaining": frac,
                     "layers": {n: m.mean().item() for n, m in masks[0].items()}, "arms": arms}
            record["rounds"].append(entry)
            new_masks = [layer_prune(cfg, {n: v[t] for n, v in run.params.items()}, masks[t])
                         for t in trials]
            log(f"round {r}/{cfg.rounds} · {100 * frac:.1f}% weights left · {_summary(arms)}")
            if r == cfg.rounds:
                record["complete"] = True
            checkpoint(r + 1 if r < cfg.rounds else "done", started, masks=stack_masks(new_masks))
    if not record["complete"]:  # studies with 0 rounds end after the dense stage / one-shot
        record["complete"] = True
        results.save_record(record, out)
    ckpt_path.unlink(missing_ok=True)
    return record


def layer_prune(cfg: StudyConfig, weights: dict[str, torch.Tensor], masks: Masks) -> Masks:
    """One round of the study's layerwise magnitude pruning of ``weights`` under ``masks``."""
    return pruning.l1_unstructured(weights, masks, layer_rates(cfg, masks))
