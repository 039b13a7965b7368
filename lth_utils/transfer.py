"""Do tickets transfer? Tickets found on one dataset, trained on another (chapter 11).

Morcos et al. (2019) train a ticket found on a *source* dataset on a *target* dataset. Here:
LeNet-300-100, MNIST and Fashion-MNIST, both directions. For every trial one θ0 is drawn and
iterative magnitude pruning (train, prune per layer, reset to θ0) finds a ticket on *each*
dataset from that same θ0. At a few rounds, four starts with identical per-layer counts are
trained on the target, on the same batches::

    source_ticket   the source's mask, θ0           (the transferred ticket)
    reinit          the source's mask, a new θ0'    (does θ0 still matter on the target?)
    random_mask     a random mask, θ0               (does the source's mask matter?)
    target_ticket   the target's own mask, θ0       (a ticket found on the target itself)

Since both tickets start from the same θ0, the transferred ticket and the target's own ticket
differ in their masks only. :func:`mask_overlap` measures how much two masks share against
chance. :func:`run_transfer` caches its record in ``data/results/transfer-lenet-PROFILE.json``;
the functions after it read that record. Its figures are in :mod:`lth_utils.transfer_plots`.
"""
from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import data as data_mod
from . import engine, models, results
from .lottery import check_batches, derive_seed
from .masks import Masks, fraction_remaining, ones
from .pruning import check_fraction, l1_unstructured, random_like
from .records import compare_ranges, is_late, late_after
from .population import stack_masks
from .training import TrainConfig, train_population

STARTS = ("source_ticket", "reinit", "random_mask", "target_ticket")
LABELS = {"source_ticket": "transferred ticket (source mask, θ0)",
          "reinit": "source mask, reinitialised", "random_mask": "random mask, θ0",
          "target_ticket": "target's own ticket (its mask, θ0)"}
NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}


@dataclass
class TransferConfig:
    """Everything that determines the transfer study's numbers (profiles change sizes only)."""
    name: str = "transfer-lenet"
    profile: str = "quick"
    datasets: tuple[str, ...] = ("mnist", "fashion-mnist")
    trials: int = 1
    rates: tuple[float, float] = (0.2, 0.1)     # per round: hidden layers, output layer
    levels: tuple[int, ...] = (7, 12, 15)       # the rounds whose tickets are transferred
    iterations: int = 2000
    eval_every: int = 100
    batch_size: int = 60
    lr: float = 1.2e-3
    train_subset: int | None = None
    eval_size: int | None = None                # validation and test images kept (None: all)
    seed: int = 0

    def __post_init__(self) -> None:
        results.check_sequences(self, "datasets", "rates", "levels")
        results.check_counts(self, "trials", "iterations", "eval_every", "batch_size")
        results.check_counts(self, "seed", minimum=0)
        results.check_counts(self, "train_subset", "eval_size", optional=True)
        results.check_positive(self, "lr")
        self.datasets, self.rates = tuple(self.datasets), tuple(self.rates)
        self.levels = tuple(self.levels)
        if len(self.datasets) != 2 or len(set(self.datasets)) != 2:
            raise ValueError(f"datasets must be two different names, got {self.datasets}")
        for d in self.datasets:
            data_mod._check_name(d)
        if set(self.datasets) - {"mnist", "fashion-mnist"}:
            raise ValueError(f"transfer moves LeNet-300-100 tickets between 28x28 grey "
                             f"datasets: choose two of mnist, fashion-mnist, got {self.datasets}")
        if len(self.rates) != 2:
            raise ValueError(f"rates must hold 2 pruning rates (hidden layers, output layer), "
                             f"got {self.rates}")
        for r in self.rates:
            check_fraction(r, "pruning rate")
        if not self.levels or any(not isinstance(v, int) for v in self.levels) \
                or sorted(set(self.levels)) != list(self.levels) or self.levels[0] < 1:
            raise ValueError(f"levels must be increasing rounds >= 1, e.g. (7, 12, 15), "
                             f"got {self.levels}")
        check_batches(self)
        self.train_config()   # checks iterations and eval_every

    def train_config(self) -> TrainConfig:
        # the test set only at the early stop and the end: the study reports early stops
        return TrainConfig(iterations=self.iterations, batch_size=self.batch_size, lr=self.lr,
                           eval_every=self.eval_every,
                           test_every=self.eval_every * -(-self.iterations // self.eval_every))

    def to_dict(self) -> dict:
        return results.config_dict(self)


# 0.8^7 = 21%, 0.8^12 = 6.9%, 0.8^15 = 3.5% of the hidden weights (the paper's Figure 3 levels);
# quick prunes half per round: 0.5^2 = 25%, 0.5^4 = 6.3%, 0.5^5 = 3.1%.
SIZES = {"quick": dict(trials=1, rates=(0.5, 0.25), levels=(2, 4, 5), iterations=300,
                       eval_every=50, train_subset=5000, eval_size=2000),
         # 20,000 iterations: chapter 5's measured horizon for this LeNet, optimiser and batch
         "standard": dict(trials=3, iterations=20_000, eval_every=100),
         "paper": dict(trials=5, iterations=50_000, eval_every=100)}


def transfer_config(profile: str | None = None, **overrides) -> TransferConfig:
    """The study's config at ``profile`` (default ``$LTH_PROFILE`` or "quick")."""
    where = "" if profile else " (set in LTH_PROFILE)"
    profile = profile or os.environ.get("LTH_PROFILE", "quick")
    if profile not in SIZES:
        raise ValueError(f"unknown profile {profile!r}{where}: choose one of "
                         f"{', '.join(SIZES)}")
    return TransferConfig(profile=profile, **{**SIZES[profile], **overrides})


# ----------------------------------------------------------------------------- masks

def mask_overlap(a: Masks, b: Masks) -> list[dict]:
    """How much two mask sets share, per layer and in total, against chance.

    Per layer (``n`` weights, ``a`` keeps a fraction ``fa``, ``b`` keeps ``fb``): ``shared`` is
    the number kept by both, ``both = shared / n``, and ``chance = fa * fb`` is what ``both``
    would be on average if ``b`` were a random mask with its own count; ``lift = both / chance``
    (1: no more than chance), ``of_a = shared / kept_a`` (how much of ``a`` ``b`` keeps) and
    ``of_chance`` (what ``of_a`` would be on average: ``fb`` in a layer, :func:`of_a_chance`).
    The row "all" sums the layers: its chance is the count-weighted sum of the layers'
    ``n * fa * fb``, not the product of the overall fractions, and its ``of_chance`` is not
    ``b``'s overall kept fraction.
    """
    if list(a) != list(b) or any(a[n].shape != b[n].shape for n in a):
        raise ValueError("the two mask sets must have the same layers and shapes: build both "
                         "for the same model (masks.ones(model))")
    rows = []
    for n in a:
        total, ka, kb = a[n].numel(), int(a[n].sum()), int(b[n].sum())
        rows.append({"layer": n, "total": total, "kept_a": ka, "kept_b": kb,
                     "shared": int((a[n].bool() & b[n].bool()).sum()),
                     "expected": ka * kb / total})
    rows.append({"layer": "all", **{k: sum(r[k] for r in rows)
                                   for k in ("total", "kept_a", "kept_b", "shared", "expected")}})
    for r in rows:
        r["both"], r["chance"] = r["shared"] / r["total"], r["expected"] / r["total"]
        r["lift"] = r["shared"] / r["expected"] if r["expected"] else float("nan")
        r["of_a"] = r["shared"] / r["kept_a"] if r["kept_a"] else float("nan")
        r["of_chance"] = of_a_chance(r)
    return rows


def of_a_chance(row: dict) -> float:
    """The share of ``a``'s kept weights that a random mask with ``b``'s per-layer counts keeps on
    average: ``expected / kept_a`` for a row of :func:`mask_overlap` (also one read back from a
    record). In one layer that is ``b``'s kept fraction ``fb``; over all layers it is the
    layers' ``fb`` weighted by ``a``'s kept counts, not ``b``'s overall fraction
    (``kept_b / total``), which weights them by the layers' sizes."""
    return row["expected"] / row["kept_a"] if row["kept_a"] else float("nan")


def pixel_keep(masks: Masks, name: str = "fc1.weight", side: int = 28) -> torch.Tensor:
    """(side, side): the fraction of each input pixel's weights in layer ``name`` that are kept."""
    return masks[name].float().mean(0).view(side, side)


def pack(masks: Masks) -> dict[str, str]:
    """A mask set as text for a JSON record (1 bit a weight, base64)."""
    return {n: base64.b64encode(np.packbits(m.bool().numpy().ravel()).tobytes()).decode()
            for n, m in masks.items()}


def unpack(packed: dict[str, str], template: Masks) -> Masks:
    """The inverse of :func:`pack`; ``template`` gives the shapes (e.g. ``masks.ones(model)``)."""
    out = {}
    for n, t in template.items():
        bits = np.unpackbits(np.frombuffer(base64.b64decode(packed[n]), np.uint8))
        out[n] = torch.from_numpy(bits[:t.numel()].astype(np.float32)).view_as(t)
    return out


# ----------------------------------------------------------------------------- the study

def _rates(cfg: TransferConfig, masks: Masks) -> dict[str, float]:
    last = list(masks)[-1]
    return {n: cfg.rates[1] if n == last else cfg.rates[0] for n in masks}


def initial_weights(cfg: TransferConfig, *labels) -> dict[str, torch.Tensor]:
    model = models.build("lenet", derive_seed(cfg.seed, *labels))
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def _summaries(run, k: int) -> list[dict]:
    h = run.history
    return [{"early_stop_test_acc": round(h.early_stop_test_acc[i], 5),
             "early_stop_iteration": h.early_stop_iteration[i],
             "final_test_acc": round(h.final_test_acc[i], 5)} for i in range(k)]


def load_data(cfg: TransferConfig, name: str) -> data_mod.Splits:
    """Dataset ``name`` at the config's sizes (training subset, evaluation sets kept)."""
    return data_mod.load(name, train_subset=cfg.train_subset, eval_size=cfg.eval_size)


def find_tickets(cfg: TransferConfig, d: data_mod.Splits, progress: bool | None = None,
                 trials: list[int] | None = None) -> tuple[dict[int, list[Masks]], list[dict]]:
    """Iterative magnitude pruning on ``d``, all trials as one population.

    Trial t starts from θ0 = ``initial_weights(cfg, "init", t)``, the same on every dataset.
    Returns (round -> one mask set per trial, for each round of ``cfg.levels``; the dense
    network's summary per trial). ``trials``: the trial indices (default all).
    """
    trials = list(range(cfg.trials)) if trials is None else trials
    template = models.build("lenet")
    inits = [initial_weights(cfg, "init", t) for t in trials]
    current = [ones(template) for _ in inits]
    seeds = [derive_seed(cfg.seed, "batches", t, d.name) for t in trials]
    found, dense = {}, []
    for r in range(max(cfg.levels)):
        run = train_population(template, stack_masks(inits), stack_masks(current), d,
                               cfg.train_config(), seeds, progress, f"{d.name} round {r}")
        dense = dense or _summaries(run, len(trials))
        trained = {n: v.cpu() for n, v in run.params.items()}
        current = [l1_unstructured({n: trained[n][t] for n in m}, m, _rates(cfg, m))
                   for t, m in enumerate(current)]
        if r + 1 in cfg.levels:
            found[r + 1] = current
    return found, dense


def four_starts(cfg: TransferConfig, source: Masks, target: Masks, trial: int, level: int,
                names: tuple[str, str]) -> list[tuple[str, dict, Masks]]:
    """(start, initial weights, masks) of the four starts on the target (see the module)."""
    theta0 = initial_weights(cfg, "init", trial)
    gen = torch.Generator().manual_seed(derive_seed(cfg.seed, "random_mask", trial, level, *names))
    return [("source_ticket", theta0, source),
            ("reinit", initial_weights(cfg, "reinit", trial, level, *names), source),
            ("random_mask", theta0, random_like(source, gen)),
            ("target_ticket", theta0, target)]


def record_path(cfg: TransferConfig, trials: list[int] | None = None) -> Path:
    """Where the study's record lives: ``data/results/transfer-lenet-PROFILE.json`` (a part
    of the trials: ``...-PROFILE.trials-A-B.json``, see :func:`merge`; a config that is not
    the book's: ``...-PROFILE.variant-KEY.json``, see :func:`results.variant_path`)."""
    book = transfer_config(cfg.profile) if cfg.profile in SIZES else None
    path = results.variant_path(results.results_dir() / f"{cfg.name}-{cfg.profile}.json",
                                cfg, book)
    return results.part_path(path, trials, cfg.trials)


class TransferStudy(engine.Study):
    """The transfer study as :mod:`lth_utils.engine` runs it: the tickets on each dataset,
    then each direction, one unit each."""
    kind = "transfer"

    def __init__(self, cfg: TransferConfig, trials: list[int] | None = None,
                 progress: bool | None = None):
        super().__init__(cfg.to_dict(), cfg.trials, trials)
        self.cfg, self.progress = cfg, progress

    def start(self) -> dict:
        return {"tickets": {}, "dense": {}, "directions": []}

    def prepare(self, state: dict) -> None:
        self.splits = {n: load_data(self.cfg, n) for n in self.cfg.datasets}

    def device(self) -> str:
        from . import device_name
        return device_name(self.splits[self.cfg.datasets[0]].device)

    def units(self) -> list[str]:
        a, b = self.cfg.datasets
        return [f"tickets {a}", f"tickets {b}", f"{a} -> {b}", f"{b} -> {a}"]

    def step(self, unit: str, state: dict) -> None:
        cfg, trials, tickets = self.cfg, self.trials, state["tickets"]
        if unit.startswith("tickets "):
            n = unit.split()[1]
            tickets[n], state["dense"][n] = find_tickets(cfg, self.splits[n], self.progress,
                                                         trials)
            return
        src, _, tgt = unit.split()
        members = [(lv, t, *s) for lv in cfg.levels for i, t in enumerate(trials)
                   for s in four_starts(cfg, tickets[src][lv][i], tickets[tgt][lv][i], t, lv,
                                        (src, tgt))]
        seeds = [derive_seed(cfg.seed, "batches", m[1], tgt) for m in members]
        run = train_population(models.build("lenet"), stack_masks([m[3] for m in members]),
                               stack_masks([m[4] for m in members]), self.splits[tgt],
                               cfg.train_config(), seeds, self.progress, f"{src} -> {tgt}")
        got = _summaries(run, len(members))
        state["directions"].append({"source": src, "target": tgt, "levels": [
            {"round": lv, "starts": {s: [g for m, g in zip(members, got)
                                         if m[0] == lv and m[2] == s] for s in STARTS}}
            for lv in cfg.levels]})

    def body(self, state: dict) -> dict:
        tickets, cfg = state["tickets"], self.cfg
        levels = []
        for lv in cfg.levels:
            a, b = (tickets[n][lv] for n in cfg.datasets)
            levels.append({"round": lv, "fraction_remaining": fraction_remaining(a[0]),
                           "layers": {r["layer"]: r["kept_a"] / r["total"]
                                      for r in mask_overlap(a[0], b[0])},
                           "overlap": [mask_overlap(x, y) for x, y in zip(a, b)],
                           "masks": {n: pack(tickets[n][lv][0]) for n in cfg.datasets}})
        return {"dense": state["dense"], "levels": levels, "directions": state["directions"]}


def run_transfer(cfg: TransferConfig, out: str | Path | None = None,
                 progress: bool | None = None, log=print,
                 trials: list[int] | None = None) -> dict:
    """The transfer study's record: read from ``out`` if computed with this config, else run
    by :mod:`lth_utils.engine`.

    ``out`` defaults to ``data/results/transfer-lenet-PROFILE.json``. A checkpoint beside it
    (``.ckpt.pt``) is written after each unit (the tickets on each dataset, then each
    direction), so a killed run resumes where it stopped and ends with the same record.
    ``trials``: compute only these trial indices (a part); :func:`merge` joins the parts into
    the record one run writes (a population's members do not depend on each other).
    """
    cfg = results.checked_config(cfg, TransferConfig, "transfer.transfer_config(PROFILE)")
    study = TransferStudy(cfg, trials, progress)
    out = Path(out) if out is not None else record_path(cfg, study.trials)
    return engine.run(study, out, log)


def merge(records: list[dict]) -> dict:
    """The record one run of all the trials writes, from the parts of a study split by
    trials: every per-trial list in trial order (the packed masks are trial 0's), wall times
    summed."""
    every, parts = results.check_parts(records, results.held_trials)
    owner = {t: (r, p.index(t)) for r, p in zip(records, parts) for t in p}

    def pick(get):   # one value per trial, each from the part that holds it
        return [get(owner[t][0])[owner[t][1]] for t in every]

    first = owner[0][0]
    merged = results.merged_header(records, parts, drop=("trials",))
    merged["dense"] = {n: pick(lambda r: r["dense"][n]) for n in first["dense"]}
    merged["levels"] = [{**lv, "masks": first["levels"][j]["masks"],
                         "overlap": pick(lambda r: r["levels"][j]["overlap"])}
                        for j, lv in enumerate(records[0]["levels"])]
    merged["directions"] = [
        {**d, "levels": [{"round": lv["round"], "starts": {
            s: pick(lambda r: r["directions"][i]["levels"][j]["starts"][s])
            for s in lv["starts"]}} for j, lv in enumerate(d["levels"])]}
        for i, d in enumerate(records[0]["directions"])]
    return merged


# ----------------------------------------------------------------------------- reading

def start_summary(record: dict, source: str, start: str,
                  key: str = "early_stop_test_acc") -> dict[str, np.ndarray]:
    """``key`` of one start in the direction from ``source``, per level: fraction (L,) and
    mean, lo, hi (L,) over trials."""
    vals = trial_values(record, source, start, key)
    return {"fraction": np.array([lv["fraction_remaining"] for lv in record["levels"]]),
            "mean": vals.mean(1), "lo": vals.min(1), "hi": vals.max(1)}


def trial_values(record: dict, source: str, start: str,
                 key: str = "early_stop_test_acc") -> np.ndarray:
    """(levels, trials): ``key`` of one start in the direction from ``source``."""
    [d] = [d for d in record["directions"] if d["source"] == source]
    return np.array([[m[key] for m in lv["starts"][start]] for lv in d["levels"]], dtype=float)


def dense_acc(record: dict, dataset: str) -> float:
    """The dense network's mean test accuracy at early stop on ``dataset`` (round 0 of IMP)."""
    return float(np.mean([m["early_stop_test_acc"] for m in record["dense"][dataset]]))


def provenance(record: dict) -> str:
    """Where the numbers come from: profile, trials, levels, iterations, code, compute time."""
    c, p = record["config"], results.provenance_parts(record)
    return (f"record {c['name']} · profile {c['profile']} · {p['trials']} · "
            f"rounds {', '.join(map(str, c['levels']))} · {c['iterations']:,} iterations each "
            f"· {p['code']} · {p['compute']}")


def level_masks(record: dict, i: int) -> dict[str, Masks]:
    """Trial 0's ticket of each dataset at level ``i`` of the record: dataset -> mask set."""
    template = ones(models.build("lenet"))
    return {n: unpack(p, template) for n, p in record["levels"][i]["masks"].items()}


def overlap_state(record: dict, i: int) -> dict:
    """What chapter 11's slider shows at level ``i``: ``label``, ``pixels`` (dataset -> (28, 28)
    kept fraction of fc1's weights per input pixel, trial 0), ``rows`` (per layer: ``of_a`` and
    the chance of a random mask, ``of_chance``; means over trials)."""
    lv, (a, b) = record["levels"][i], record["config"]["datasets"]
    trials = lv["overlap"]
    rows = [{"layer": r["layer"], "of_a": float(np.mean([t[j]["of_a"] for t in trials])),
             "of_chance": of_a_chance(r)} for j, r in enumerate(trials[0])]
    masks = level_masks(record, i)
    return {"label": f"{100 * lv['fraction_remaining']:.1f}% of weights left "
                     f"(round {lv['round']})", "datasets": (a, b), "rows": rows,
            "pixels": {n: pixel_keep(masks[n]).numpy() for n in (a, b)}}


# ----------------------------------------------------------------------------- verdicts

def control_margins(record: dict) -> list[dict]:
    """The transferred ticket against its better control (higher mean), per direction and level:
    rows ``{"source", "target", "fraction", "control", "margin"`` (ticket minus that control,
    means), ``"ticket"``, ``"other"`` ((mean, lo, hi) over trials), ``"ahead"``, ``"apart"``}:
    apart when ahead of *both* controls' trial ranges, or behind the better one's (2+ trials)."""
    rows = []
    for d in record["directions"]:
        acc = {s: trial_values(record, d["source"], s) for s in STARTS[:3]}
        for i, lv in enumerate(record["levels"]):
            t = acc["source_ticket"][i]
            ctrl = max(("reinit", "random_mask"), key=lambda s: acc[s][i].mean())
            c, margin = acc[ctrl][i], t.mean() - acc[ctrl][i].mean()
            # ahead: above both controls' trials; behind (or level): below the better one's
            rival = np.concatenate([acc["reinit"][i], acc["random_mask"][i]]) if margin > 0 else c
            apart = compare_ranges(t, rival) != "within"
            rows.append({"source": d["source"], "target": d["target"],
                         "fraction": lv["fraction_remaining"], "control": ctrl,
                         "margin": float(margin), "ahead": bool(margin > 0), "apart": bool(apart),
                         **{k: (float(v.mean()), float(v.min()), float(v.max()))
                            for k, v in (("ticket", t), ("other", c))}})
    return rows


def own_gaps(record: dict, source: str) -> np.ndarray:
    """(trials,): own ticket minus transferred ticket from ``source``, mean over levels."""
    own, moved = (trial_values(record, source, s) for s in ("target_ticket", "source_ticket"))
    return (own - moved).mean(0)


def late_flags(record: dict, source: str, start: str, last: float = 0.1) -> np.ndarray:
    """(levels,): whether a trial of ``start`` from ``source`` stops late (``records.is_late``)."""
    its = trial_values(record, source, start, "early_stop_iteration")
    return np.array([any(is_late(record, i, last) for i in row) for row in its])


def late_stops(record: dict, last: float = 0.1) -> dict:
    """Trainings on a target with a late early stop (``records.is_late``): ``"late"``, ``"total"``,
    ``"by_start"`` (start -> (late, total)), ``"stops"`` (start -> first, mean, last early-stop
    iteration over directions, levels, trials), ``"horizon"``, ``"threshold"``."""
    its = {s: np.concatenate([trial_values(record, d["source"], s, "early_stop_iteration")
                              .ravel() for d in record["directions"]]) for s in STARTS}
    by = {s: (int(sum(is_late(record, i, last) for i in v)), len(v)) for s, v in its.items()}
    T = record["config"]["iterations"]
    return {"late": sum(a for a, _ in by.values()), "total": sum(n for _, n in by.values()),
            "by_start": by, "stops": {s: (int(v.min()), float(v.mean()), int(v.max()))
                                      for s, v in its.items()},
            "horizon": T, "threshold": late_after(T, last)}
