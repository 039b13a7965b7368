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
lottery engine does when it resets or rewinds). The paper's CIFAR-10 and ImageNet networks, the
ones it finds unstable at initialisation, train with SGD with momentum (``optimizer="sgd"``
here); LeNet, in the same group's earlier work, trains with Adam, as the book does.

:func:`run_study` measures all of it for chapter 8 (dense LeNet and Conv-2 spawned at several k;
a LeNet ticket found by IMP with resetting and with rewinding, and its control) and caches its
record in ``data/results/instability-NETWORK-PROFILE.json``; its figures are in
:mod:`lth_utils.instability_plots`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from . import engine, results
from .data import Splits
from .lottery import check_batches, check_width, derive_seed
from .masks import Masks, fraction_remaining, ones
from .models import build
from .population import Params, evaluate, stack_masks
from .pruning import check_fraction, l1_unstructured
from .training import TrainConfig, train_population

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
               points: int = 11, chunk: int = 1000) -> tuple[list[float], list[float]]:
    """(alphas, error at each alpha) along the line from ``a`` to ``b``, evaluated on (x, y).

    All ``points`` networks are evaluated as one population (one pass over x, ``chunk`` images
    at a time: memory only)."""
    if points < 2:
        raise ValueError(f"points must be at least 2 (the two ends), got {points}")
    alphas = [i / (points - 1) for i in range(points)]
    stacked = {n: v.to(x.device) for n, v in interpolate(a, b, alphas).items()}
    template.eval()
    with torch.no_grad():
        _, acc = evaluate(template, stacked, x, y, chunk)
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


# ----------------------------------------------------------------------------- the study

@dataclass
class InstabilityConfig:
    """Everything that determines chapter 8's numbers for one network (profiles: sizes only).

    Dense part: for each trial and each k of ``ks``, instability of the dense network spawned
    at k (copies trained to ``iterations``). Ticket part (``imp_rounds`` > 0): iterative
    magnitude pruning, two arms on the same batches, one resetting the survivors to θ0, one
    rewinding them to θ_k (k = ``rewind_iteration``); then the instability of the reset
    ticket from θ0, of its mask with a fresh initialisation, and of the rewound ticket."""
    network: str = "lenet"                  # "lenet" (on MNIST) or "conv2" (on CIFAR-10)
    profile: str = "quick"
    trials: int = 2
    iterations: int = 300                   # T: every copy and every IMP training
    ks: tuple[int, ...] = (0, 30, 100)      # spawn points of the dense network
    points: int = 11                        # networks on each path, its two ends included
    batch_size: int = 60
    lr: float = 1.2e-3                      # Adam
    width: float = 1.0                      # conv2: channels x width (0.25: 16 channels)
    train_subset: int | None = 5000
    eval_size: int | None = 1000            # validation and test images (None: all)
    imp_rounds: int = 0                     # rounds of IMP for the ticket part (0: no part)
    imp_rates: tuple[float, float] = (0.8, 0.5)   # per round: other layers, output layer
    rewind_iteration: int = 30
    imp_eval_every: int = 50                # validation (early stop) during IMP trainings
    seed: int = 0
    optimizer: str = "adam"                 # "adam", or "sgd" with momentum (the LMC paper's)
    momentum: float = 0.9                   # SGD only

    # fields added after records were written: stored only when set, so those records stay valid
    OPTIONAL = {"optimizer": "adam", "momentum": 0.9}

    def __post_init__(self) -> None:
        if self.network not in NETWORKS:
            raise ValueError(f"network must be one of {', '.join(NETWORKS)}, "
                             f"got {self.network!r}")
        results.check_counts(self, "trials", "iterations", "batch_size", "imp_eval_every")
        results.check_counts(self, "points", minimum=2)
        results.check_counts(self, "imp_rounds", "rewind_iteration", "seed", minimum=0)
        results.check_counts(self, "train_subset", "eval_size", optional=True)
        results.check_sequences(self, "ks", "imp_rates")
        self.ks, self.imp_rates = tuple(self.ks), tuple(self.imp_rates)
        if len(self.imp_rates) != 2:
            raise ValueError(f"imp_rates must hold 2 pruning rates (other layers, output "
                             f"layer), got {self.imp_rates}")
        if not self.ks or any(not isinstance(k, int) for k in self.ks) \
                or list(self.ks) != sorted(set(self.ks)) \
                or not 0 <= self.ks[0] <= self.ks[-1] < self.iterations:
            raise ValueError(f"ks must be increasing iterations in [0, {self.iterations}), "
                             f"got {self.ks}")
        if self.imp_rounds and not 0 < self.rewind_iteration < self.iterations:
            raise ValueError(f"rewind_iteration must be in (0, {self.iterations}) for the "
                             f"ticket part, got {self.rewind_iteration}")
        for r in self.imp_rates:
            check_fraction(r, "pruning rate")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        results.check_positive(self, "lr")
        if not isinstance(self.momentum, (int, float)) or not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        check_width(self.network, self.width)
        check_batches(self)
        self.copy_config(), self.imp_config()   # checks what TrainConfig checks

    @property
    def name(self) -> str:
        return f"instability-{self.network}"

    def copy_config(self) -> TrainConfig:
        """How every copy trains: T iterations, validation only at the ends (not needed)."""
        return TrainConfig(iterations=self.iterations, batch_size=self.batch_size, lr=self.lr,
                           optimizer=self.optimizer, momentum=self.momentum,
                           eval_every=self.iterations, eval_batch=1000)

    def imp_config(self) -> TrainConfig:
        """How IMP trains: early stop on the validation set, the test set at the end."""
        every = self.imp_eval_every
        return TrainConfig(iterations=self.iterations, batch_size=self.batch_size, lr=self.lr,
                           optimizer=self.optimizer, momentum=self.momentum, eval_every=every, test_every=every * -(-self.iterations // every),
                           eval_batch=1000, snapshot_at=self.rewind_iteration)

    def to_dict(self) -> dict:
        return results.config_dict(self)


NETWORKS = {"lenet": "mnist", "conv2": "cifar10"}
# LeNet: T = 20,000 (chapter 5's measured horizon for this network and optimiser), 3 trials;
# the ticket: 5 rounds of 50% to 3.1% of the hidden weights. Conv-2 at a quarter of its channels, T = 1,000 (chapter 7: 10,000),
# its paths on 5,000 test images: what a shared 2-core CPU affords (see the chapter).
SIZES = {
    ("lenet", "quick"): dict(imp_rounds=2),
    ("lenet", "standard"): dict(trials=3, iterations=20_000, ks=(0, 100, 500, 2000),
                                train_subset=None, eval_size=None, imp_rounds=5, imp_rates=(0.5, 0.25),
                                rewind_iteration=100, imp_eval_every=250),
    ("conv2", "quick"): dict(iterations=100, ks=(0, 20, 50), lr=2e-4, width=0.25,
                             train_subset=2000, eval_size=500),
    ("conv2", "standard"): dict(trials=3, iterations=1000, ks=(0, 100, 300), lr=2e-4, width=0.25,
                                train_subset=None, eval_size=5000),
    # paper: the book's full horizons (chapter 5's LeNet, chapter 7's Conv-2 at width 1), the
    # LMC paper's 30 points a path, more spawn points and trials; for a GPU
    ("lenet", "paper"): dict(trials=3, iterations=20_000, ks=(0, 100, 500, 2000, 5000), points=30,
                             train_subset=None, eval_size=None, imp_rounds=15,
                             imp_rates=(0.2, 0.1), rewind_iteration=500, imp_eval_every=100),
    ("conv2", "paper"): dict(trials=3, iterations=20_000, ks=(0, 100, 500, 2000, 5000),
                             points=30, lr=2e-4, train_subset=None, eval_size=None),
}


def study_config(network: str = "lenet", profile: str | None = None,
                 **overrides) -> InstabilityConfig:
    """The study's config for ``network`` at ``profile`` (default ``$LTH_PROFILE``)."""
    from . import PROFILES
    from . import profile as current
    p = profile or current()
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {', '.join(NETWORKS)}, got {network!r}")
    if p not in PROFILES:
        raise ValueError(f"unknown profile {p!r}: choose one of {', '.join(PROFILES)}")
    sizes = SIZES[(network, p)]
    return InstabilityConfig(network=network, profile=p, **{**sizes, **overrides})


def record_path(cfg: InstabilityConfig) -> Path:
    """Where the study's record lives: ``data/results/instability-NETWORK-PROFILE.json``, with
    ``.variant-KEY`` before ``.json`` for a config that is not the book's
    (:func:`results.variant_path`)."""
    book = study_config(cfg.network, cfg.profile) if (cfg.network, cfg.profile) in SIZES \
        else None
    return results.variant_path(results.results_dir() / f"{cfg.name}-{cfg.profile}.json",
                                cfg, book)


def load_data(cfg: InstabilityConfig) -> Splits:
    """The network's dataset at the config's sizes."""
    from .data import load
    return load(NETWORKS[cfg.network], train_subset=cfg.train_subset, eval_size=cfg.eval_size)


def initial_weights(cfg: InstabilityConfig, *labels) -> Params:
    """θ0 drawn from a seed derived from ``labels`` (e.g. ("init", trial)), on the CPU."""
    net = build(cfg.network, derive_seed(cfg.seed, *labels), width=cfg.width)
    return {n: p.detach().clone() for n, p in net.named_parameters()}


def copy_seeds(cfg: InstabilityConfig, trial: int) -> tuple[int, int]:
    """The two batch orders of trial ``trial`` (order A also trains θ0 to θ_k)."""
    return tuple(derive_seed(cfg.seed, "batches", trial, order) for order in "AB")


def path_row(template: nn.Sequential, a: Params, b: Params, data: Splits, points: int) -> dict:
    """One path as a record row: alphas, test errors, instability, stable."""
    alphas, errors = path_error(template, a, b, data.test_x, data.test_y, points)
    value = round(instability(errors), 5)
    return {"alphas": [round(x, 4) for x in alphas], "errors": [round(e, 5) for e in errors],
            "instability": value, "stable": value < STABLE}


def _prune(cfg: InstabilityConfig, weights: Params, m: Masks) -> Masks:
    last = list(m)[-1]
    return l1_unstructured(weights, m, {n: cfg.imp_rates[n == last] for n in m})


def imp_round(cfg: InstabilityConfig, template: nn.Sequential, data: Splits, state: dict,
              r: int, progress: bool | None = False, trials: list[int] | None = None) -> dict:
    """Round ``r`` of IMP for all trials as one population; updates ``state`` (masks of both
    arms, θ_k) and returns the round's row. Round 0 trains the dense networks (and keeps
    θ_k); round r >= 1 trains the reset arm from θ0 and the rewind arm from θ_k. The row holds,
    per arm and trial, the test accuracy at early stop ("dense", "reset", "rewind") and the
    early-stop iteration ("dense_stop", ...), so that a reader can flag stops at the end.
    ``trials``: the trial indices in the population (default all); the state's lists follow
    their order."""
    trials = list(range(cfg.trials)) if trials is None else trials
    n = len(trials)
    inits = [initial_weights(cfg, "init", t) for t in trials]
    seeds = [copy_seeds(cfg, t)[0] for t in trials]
    if r == 0:
        members = [("dense", inits[t], ones(template)) for t in range(n)]
    else:
        members = ([("reset", inits[t], state["reset"][t]) for t in range(n)]
                   + [("rewind", state["theta_k"][t], state["rewind"][t]) for t in range(n)])
    run = train_population(template, stack_masks([m[1] for m in members]),
                           stack_masks([m[2] for m in members]), data, cfg.imp_config(),
                           seeds * (len(members) // n), progress, f"IMP round {r}")
    acc = [round(a, 5) for a in run.history.early_stop_test_acc]
    stop = [int(i) for i in run.history.early_stop_iteration]
    trained = [{k: v[i].cpu() for k, v in run.params.items()} for i in range(len(members))]
    if r == 0:
        state["theta_k"] = [{k: v[i].cpu() for k, v in run.snapshot.items()} for i in range(n)]
        pruned = [_prune(cfg, trained[t], members[t][2]) for t in range(n)]
        state["reset"], state["rewind"] = pruned, [dict(m) for m in pruned]
        return {"round": 0, "fraction_remaining": 1.0, "dense": acc, "dense_stop": stop}
    row = {"round": r, "fraction_remaining": round(fraction_remaining(state["reset"][0]), 6),
           "reset": acc[:n], "rewind": acc[n:], "reset_stop": stop[:n], "rewind_stop": stop[n:]}
    if r < cfg.imp_rounds:
        state["reset"] = [_prune(cfg, trained[t], state["reset"][t]) for t in range(n)]
        state["rewind"] = [_prune(cfg, trained[n + t], state["rewind"][t]) for t in range(n)]
    return row


def _units(cfg: InstabilityConfig, trials: list[int] | None = None) -> list[str]:
    """The study's units in order (of ``trials``, default all): what a killed run resumes
    after."""
    trials = list(range(cfg.trials)) if trials is None else trials
    out = [f"dense k={k} trial={t}" for k in cfg.ks for t in trials]
    if cfg.imp_rounds:
        out += [f"imp round={r}" for r in range(cfg.imp_rounds + 1)]
        out += [f"{p} trial={t}" for p in TICKET_PARTS for t in trials]
    return out


TICKET_PARTS = ("ticket", "reinit", "rewound")


def _unit(cfg: InstabilityConfig, unit: str, template, data: Splits, state: dict,
          progress: bool | None, trials: list[int]) -> dict:
    """Compute one unit of :func:`_units` (its row for the record)."""
    part, *rest = unit.split()
    args = dict(a.split("=") for a in rest)
    if part == "imp":
        return imp_round(cfg, template, data, state, int(args["round"]), progress, trials)
    t = int(args["trial"])
    i = trials.index(t)            # the trial's place in the state's lists
    k = int(args.get("k", 0))
    theta0, masks = initial_weights(cfg, "init", t), None
    if part in TICKET_PARTS:
        masks = state["rewind" if part == "rewound" else "reset"][i]
        theta0 = {"ticket": theta0, "reinit": initial_weights(cfg, "reinit", t),
                  "rewound": state["theta_k"][i]}[part]
        k = cfg.rewind_iteration if part == "rewound" else 0
    # dense: train θ0 to θ_k, then the copies; tickets: the copies start at the given weights
    _, a, b = spawn(template, theta0, data, cfg.copy_config(), k if part == "dense" else 0,
                    copy_seeds(cfg, t), masks, progress)
    return {"part": part, "k": k, "trial": t, **path_row(template, a, b, data, cfg.points)}


class InstabilityStudy(engine.Study):
    """The instability study as :mod:`lth_utils.engine` runs it: one unit per k of a trial,
    per IMP round and per ticket path (see :func:`_units`)."""
    kind = "instability"

    def __init__(self, cfg: InstabilityConfig, trials: list[int] | None = None,
                 progress: bool | None = False, data: Splits | None = None):
        super().__init__(cfg.to_dict(), cfg.trials, trials)
        self.cfg, self.progress, self.data = cfg, progress, data

    def start(self) -> dict:
        return {"rows": {}}

    def prepare(self, state: dict) -> None:
        self.data = self.data if self.data is not None else load_data(self.cfg)
        self.template = build(self.cfg.network, 0, width=self.cfg.width)

    def device(self) -> str:
        from . import device_name
        return device_name(self.data.device)

    def units(self) -> list[str]:
        return _units(self.cfg, self.trials)

    def step(self, unit: str, state: dict) -> None:
        state["rows"][unit] = _unit(self.cfg, unit, self.template, self.data, state,
                                    self.progress, self.trials)

    def body(self, state: dict) -> dict:
        rows = [state["rows"][u] for u in self.units()]
        return {"paths": [r for r in rows if "part" in r],
                "imp": [r for r in rows if "round" in r]}


def run_study(cfg: InstabilityConfig | None = None, out: str | Path | None = None,
              progress: bool | None = False, data: Splits | None = None, log=print,
              trials: list[int] | None = None) -> dict:
    """The study's record: read from ``out`` (default :func:`record_path`) if it was computed
    with this config, else computed by :mod:`lth_utils.engine`, which checkpoints after every
    unit (one k of one trial, one IMP round, one ticket path), so a killed run resumes at the
    next unit and ends with the same record. ``trials``: compute only these trial indices (a
    part, default name ``...-PROFILE.trials-A-B.json``); :func:`merge` joins the parts into
    what one run writes (a population's members do not depend on each other, so the numbers
    are the same bits)."""
    cfg = results.checked_config(cfg or study_config(), InstabilityConfig,
                                 "instability.study_config(NETWORK, PROFILE)")
    study = InstabilityStudy(cfg, trials, progress, data)
    out = Path(out) if out is not None else results.part_path(record_path(cfg), study.trials,
                                                              cfg.trials)
    return engine.run(study, out, log)


def merge(records: list[dict]) -> dict:
    """The record one run of all the trials writes, from the parts of a study split by trials:
    paths in the order of one run's units, each IMP round's per-trial lists in trial order,
    wall times summed."""
    every, parts = results.check_parts(records, results.held_trials)
    owner = {t: (r, p) for r, p in zip(records, parts) for t in p}
    paths = {(row["part"], row["k"], row["trial"]): row for r in records for row in r["paths"]}
    cfg = records[0]["config"]
    order = [("dense", k, t) for k in cfg["ks"] for t in every]
    if cfg["imp_rounds"]:
        order += [(p, cfg["rewind_iteration"] if p == "rewound" else 0, t)
                  for p in TICKET_PARTS for t in every]
    imp = []
    for j, row in enumerate(records[0]["imp"]):
        new = {}
        for key, value in row.items():
            if isinstance(value, list):   # one entry per trial of the part
                value = [owner[t][0]["imp"][j][key][owner[t][1].index(t)] for t in every]
            new[key] = value
        imp.append(new)
    merged = results.merged_header(records, parts, drop=("trials",))
    merged.update(paths=[paths[key] for key in order], imp=imp)
    return merged


def provenance(record: dict) -> str:
    """Where a figure's numbers come from, parts joined by " · "."""
    c, p = record["config"], results.provenance_parts(record)
    return (f"record instability-{c['network']} · profile {c['profile']}"
            + (f" · SGD (momentum {c.get('momentum', 0.9):g}) at lr {c['lr']:g}"
               if c.get("optimizer") == "sgd" else "")
            + f" · {p['trials']} · {c['iterations']:,} iterations each · "
            f"{c['points']} points a path · {p['code']} · {p['compute']}")
