"""How long must a study train for every arm's early stop to be a measured minimum?

Two probes, each a study of :mod:`lth_utils.engine` (``python -m lth_utils study NAME``):

* ``horizon-lenet-mnist`` (chapter 5): for one trial of the lottery study's seeds, the dense
  LeNet-300-100, then, from its trained weights, one-shot masks at the sparsities of rounds 7, 15
  and 18 (21%, 3.6%, 1.9% weights left) as three arms each (the one-shot ticket at θ0, the same
  mask with a new random initialisation, a random mask of the same per-layer sparsity at θ0).
  The standard profile's horizon of the lottery studies (``lottery.SIZES``) was chosen from it.
* ``horizon-prune-at-init`` (chapter 10): every method's mask at θ0 (trial 0's seeds of the
  prune-at-init study) at two sparsities, trained as one population.

Each writes where each validation loss reaches its minimum and every validation curve, with the
config, code version, device and wall time, to ``data/results/horizon-NAME.json`` (the quick
profile, for tests: ``horizon-NAME-quick.json``). The standard probes take about 12 and 20
minutes on one CPU core.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import torch

from . import data as data_mod
from . import engine, masks, models, pruning, results, training
from .lottery import derive_seed
from .population import stack_masks

# the lottery study's probe per profile ("paper" measures what "standard" does)
LENET_SIZES = {
    "quick": dict(dense_iterations=300, sparse_iterations=300, rounds=[7, 15, 18],
                  eval_every=50),
    "standard": dict(dense_iterations=20_000, sparse_iterations=30_000, rounds=[7, 15, 18],
                     eval_every=100),
}
PAI_SIZES = {
    "quick": dict(sparsities=[0.9, 0.98], iterations=300, eval_every=100),
    "standard": dict(sparsities=[0.98, 0.995], iterations=40_000, eval_every=500),
}
NAMES = ("lenet-mnist", "prune-at-init")


def _sizes(table: dict, profile: str | None) -> tuple[str, dict]:
    from . import profile as current
    p = profile or current()
    if p not in ("quick", "standard", "paper"):
        raise ValueError(f"unknown profile {p!r}: choose one of quick, standard, paper")
    return p, table["quick" if p == "quick" else "standard"]


def lenet_config(profile: str | None = None) -> dict:
    """The chapter 5 probe's config at ``profile`` (the record's cache key)."""
    return dict(_sizes(LENET_SIZES, profile)[1])


def pai_config(profile: str | None = None) -> dict:
    """The chapter 10 probe's config at ``profile``; the rest of the prune-at-init study's
    settings (batch size, learning rate, scoring batches, SynFlow rounds) are its ``standard``
    profile's, or its ``quick`` profile's for ``quick``."""
    from .prune_at_init import METHODS
    return {"study": "prune-at-init", **_sizes(PAI_SIZES, profile)[1],
            "methods": list(METHODS), "trial": 0}


def record_path(name: str, config: dict) -> Path:
    """``data/results/horizon-NAME.json`` (``horizon-NAME-quick.json`` at the quick sizes)."""
    quick = config == (lenet_config("quick") if name == "lenet-mnist" else pai_config("quick"))
    return results.results_dir() / f"horizon-{name}{'-quick' if quick else ''}.json"


def _params(seed: int) -> dict[str, torch.Tensor]:
    return {n: p.detach() for n, p in models.build("lenet", seed).named_parameters()}


def _curve(history, k: int) -> list[float]:
    return [round(v, 5) for v in history.val_loss[k].tolist()]


class LenetHorizon(engine.Study):
    """Units: ``dense`` (the dense network), ``sparse`` (the nine sparse arms)."""
    kind = "horizon"

    def __init__(self, config: dict, progress: bool | None = None):
        super().__init__(config)
        self.progress = progress

    def start(self) -> dict:
        return {"dense": {}, "sparse": []}

    def prepare(self, state: dict) -> None:
        self.data = data_mod.load("mnist")
        self.template = models.build("lenet")

    def units(self) -> list[str]:
        return ["dense", "sparse"]

    def step(self, unit: str, state: dict) -> None:
        c, d, template = self.config, self.data, self.template
        theta0 = _params(derive_seed(0, "init", 0))
        seed = [derive_seed(0, "batches", 0)]
        if unit == "dense":
            cfg = training.TrainConfig(iterations=c["dense_iterations"],
                                       test_every=c["dense_iterations"],
                                       eval_every=c["eval_every"])
            run = training.train_population(template, stack_masks([theta0]),
                                            stack_masks([masks.ones(template)]), d, cfg, seed,
                                            self.progress)
            state["dense"] = {"early_stop_iteration": run.history.early_stop_iteration[0],
                              "val_loss": _curve(run.history, 0)}
            state["trained"] = {n: v[0].cpu() for n, v in run.params.items()}
            return
        members, labels = [], []
        for r in c["rounds"]:
            rates = {n: pruning.rate_for_rounds(p, r)
                     for n, p in pruning.paper_rates("lenet", masks.ones(template)).items()}
            m = pruning.l1_unstructured(state["trained"], masks.ones(template), rates)
            gen = torch.Generator().manual_seed(derive_seed(0, "mask", 0, r))
            members += [(theta0, m), (_params(derive_seed(0, "reinit", 0, r)), m),
                        (theta0, pruning.random_like(m, gen))]
            labels += [{"round": r, "fraction_remaining": masks.fraction_remaining(m),
                        "arm": a} for a in ("oneshot", "reinit", "random_mask")]
        cfg = training.TrainConfig(iterations=c["sparse_iterations"],
                                   test_every=c["sparse_iterations"],
                                   eval_every=c["eval_every"])
        run = training.train_population(template, stack_masks([p for p, _ in members]),
                                        stack_masks([m for _, m in members]), d, cfg,
                                        seed * len(members), self.progress)
        for k, label in enumerate(labels):
            label.update(early_stop_iteration=run.history.early_stop_iteration[k],
                         val_loss=_curve(run.history, k))
        state["sparse"] = labels
        del state["trained"]

    def body(self, state: dict) -> dict:
        return {"dense": state["dense"], "sparse": state["sparse"]}


class PruneAtInitHorizon(engine.Study):
    """One unit: every method's mask at both sparsities, trained as one population."""
    kind = "horizon"

    def __init__(self, config: dict, progress: bool | None = None):
        super().__init__(config)
        self.progress = progress

    def prepare(self, state: dict) -> None:
        from . import prune_at_init as pai
        quick = self.config == pai_config("quick")
        self.study = pai.study_config("quick" if quick else "standard")
        self.data = data_mod.load("mnist", val_size=self.study.val_size)

    def units(self) -> list[str]:
        return ["population"]

    def step(self, unit: str, state: dict) -> None:
        from . import prune_at_init as pai
        c, cfg, d = self.config, self.study, self.data
        template = models.build("lenet")
        model, gen, x, y = pai.scoring_start(cfg, 0, d)
        theta0 = {n: p.detach().clone() for n, p in model.named_parameters()}
        labels, ms = [], []
        for s in c["sparsities"]:
            for method in c["methods"]:
                ms.append(pai.prune_at_init(method, model, s, x, y, gen, cfg.synflow_rounds))
                labels.append({"method": method, "sparsity": s})
        tc = training.TrainConfig(iterations=c["iterations"], eval_every=c["eval_every"],
                                  test_every=c["iterations"], lr=cfg.lr,
                                  batch_size=cfg.batch_size)
        run = training.train_population(template, stack_masks([theta0] * len(ms)),
                                        stack_masks(ms), d, tc,
                                        [derive_seed(cfg.seed, "batches", 0)] * len(ms),
                                        self.progress)
        for k, label in enumerate(labels):
            label.update(early_stop_iteration=run.history.early_stop_iteration[k],
                         early_stop_test_acc=round(run.history.early_stop_test_acc[k], 5),
                         val_loss=_curve(run.history, k))
        state["networks"] = labels

    def body(self, state: dict) -> dict:
        return {"networks": state["networks"]}


def config(name: str, profile: str | None = None) -> dict:
    """The probe ``name`` (one of :data:`NAMES`) at ``profile``."""
    _check_name(name)
    return lenet_config(profile) if name == "lenet-mnist" else pai_config(profile)


def _check_name(name: str) -> None:
    if name not in NAMES:
        raise ValueError(f"unknown horizon probe {name!r}: choose {' or '.join(NAMES)}")


def check_config(name: str, config: dict) -> None:
    """Refuse, before any training, a config the probe ``name`` cannot run: it must hold the
    fields of ``config(name)``, with whole numbers >= 1 for its iterations."""
    _check_name(name)
    want = set(lenet_config("quick") if name == "lenet-mnist" else pai_config("quick"))
    if not isinstance(config, dict) or not want <= set(config):
        missing = sorted(want - set(config)) if isinstance(config, dict) else sorted(want)
        raise ValueError(f"the {name} probe's config is missing {', '.join(missing)}: make it "
                         f"with horizon.config({name!r}, PROFILE)")
    counts = {"dense_iterations", "sparse_iterations", "iterations", "eval_every"} & want
    results.check_counts(SimpleNamespace(**config), *sorted(counts))


def run_probe(name: str, config: dict, out: str | Path | None = None,
              progress: bool | None = None, log=print) -> dict:
    """The probe's record: read if computed with ``config``, else trained and saved."""
    check_config(name, config)
    study = (LenetHorizon if name == "lenet-mnist" else PruneAtInitHorizon)(config, progress)
    return engine.run(study, Path(out) if out is not None else record_path(name, config), log)


def summary(name: str, record: dict) -> list[str]:
    """One line per network: where its validation loss reached its minimum."""
    if name == "lenet-mnist":
        T = record["config"]["sparse_iterations"]
        return [f"dense: early stop at {record['dense']['early_stop_iteration']:,} of "
                f"{record['config']['dense_iterations']:,}"] + [
            f"{100 * a['fraction_remaining']:5.1f}% left · {a['arm']:<12} early stop at "
            f"{a['early_stop_iteration']:>6,} of {T:,}" for a in record["sparse"]]
    T = record["config"]["iterations"]
    return [f"{100 * (1 - n['sparsity']):4.1f}% left · {n['method']:<10} early stop at "
            f"{n['early_stop_iteration']:>6,} of {T:,} ({100 * n['early_stop_test_acc']:.2f}%)"
            for n in record["networks"]]
