"""How long must a study train for every arm's early stop to be a measured minimum?

Five probes, each a study of :mod:`lth_utils.engine` (``python -m lth_utils study NAME``):

* ``horizon-lenet-mnist`` (chapter 5): for one trial of the lottery study's seeds, the dense
  LeNet-300-100, then, from its trained weights, one-shot masks at the sparsities of rounds 7, 15
  and 18 (21%, 3.6%, 1.9% weights left) as three arms each (the one-shot ticket at θ0, the same
  mask with a new random initialisation, a random mask of the same per-layer sparsity at θ0).
  The standard profile's horizon of the lottery studies (``lottery.SIZES``) was chosen from it.
* ``horizon-conv2-cifar10`` (chapter 7): the same probe for the Conv-2 lottery study (its
  width, data, optimiser and trial 0's seeds) at the sparsity of its sparsest controls (round
  7, 4.5% weights left), trained twice the study's horizon: the study's controls there stop
  in the last tenth of its 20,000 iterations, and this measures where they would stop.
* ``horizon-conv4-cifar10`` (chapter 7): the same for the Conv-4 lottery study, at its
  sparsest controls' round (round 3, 7.6% weights left); ``horizon-conv6-cifar10`` the same
  for Conv-6 (round 3, 8.3% left).
* ``horizon-prune-at-init`` (chapter 10): every method's mask at θ0 (trial 0's seeds of the
  prune-at-init study) at two sparsities, trained as one population.

Each writes where each validation loss reaches its minimum and every validation curve, with the
config, code version, device and wall time, to ``data/results/horizon-NAME.json`` (the quick
profile, for tests: ``horizon-NAME-quick.json``). The standard probes take about 12 (LeNet), 20
(prune-at-init) and 75 minutes (Conv-2) on one CPU core, 60 (Conv-4) and 100 minutes (Conv-6)
on two (their records' wall times, on a machine shared with other work).
"""
from __future__ import annotations

from dataclasses import replace
from functools import partial
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
# the conv lottery studies' probes: their sparsest controls' round, twice their horizon; the
# test curve on the study's grid, so that the accuracy at the study's horizon can be read off;
# "study": the profile of the lottery study whose network, data and seeds it trains
CONV2_SIZES = {
    "quick": dict(study="quick", dense_iterations=400, sparse_iterations=800, rounds=[3],
                  eval_every=50, test_every=200),
    "standard": dict(study="standard", dense_iterations=20_000, sparse_iterations=40_000,
                     rounds=[7], eval_every=250, test_every=1000),
}


def _deeper(network: str) -> dict:
    """Conv-4's or Conv-6's probe: Conv-2's sizes at their sparsest controls' round (3);
    "network" tells its record from the Conv-2 probe's (whose committed record predates the
    key)."""
    return {"quick": {"network": network, **CONV2_SIZES["quick"]},
            "standard": {"network": network, **CONV2_SIZES["standard"], "rounds": [3]}}


CONV4_SIZES, CONV6_SIZES = _deeper("conv4"), _deeper("conv6")
PAI_SIZES = {
    "quick": dict(sparsities=[0.9, 0.98], iterations=300, eval_every=100),
    "standard": dict(sparsities=[0.98, 0.995], iterations=40_000, eval_every=500),
}
NAMES = ("lenet-mnist", "conv2-cifar10", "conv4-cifar10", "conv6-cifar10", "prune-at-init")
ONE_SHOT = {"lenet-mnist": LENET_SIZES, "conv2-cifar10": CONV2_SIZES,  # the one-shot probes
            "conv4-cifar10": CONV4_SIZES, "conv6-cifar10": CONV6_SIZES}


def _sizes(table: dict, profile: str | None) -> tuple[str, dict]:
    from . import profile as current
    p = profile or current()
    if p not in ("quick", "standard", "paper"):
        raise ValueError(f"unknown profile {p!r}: choose one of quick, standard, paper")
    return p, table["quick" if p == "quick" else "standard"]


def lenet_config(profile: str | None = None) -> dict:
    """The chapter 5 probe's config at ``profile`` (the record's cache key)."""
    return dict(_sizes(LENET_SIZES, profile)[1])


def conv_config(name: str, profile: str | None = None) -> dict:
    """The chapter 7 probe ``name``'s config at ``profile``; the rest of its settings (width,
    data, optimiser, learning rate, per-layer rates, seeds) are the lottery study ``name``'s at
    the same profile (``standard`` for ``paper``)."""
    return dict(_sizes(ONE_SHOT[name], profile)[1])


def pai_config(profile: str | None = None) -> dict:
    """The chapter 10 probe's config at ``profile``; the rest of the prune-at-init study's
    settings (batch size, learning rate, scoring batches, SynFlow rounds) are its ``standard``
    profile's, or its ``quick`` profile's for ``quick``."""
    from .prune_at_init import METHODS
    return {"study": "prune-at-init", **_sizes(PAI_SIZES, profile)[1],
            "methods": list(METHODS), "trial": 0}


# each probe's config maker (looked up by name where a parameter called ``config`` hides
# the function below)
_CONFIGS = {"lenet-mnist": lenet_config, "prune-at-init": pai_config,
            **{n: partial(conv_config, n) for n in ONE_SHOT if n.startswith("conv")}}


def record_path(name: str, config: dict) -> Path:
    """``data/results/horizon-NAME.json`` (``horizon-NAME-quick.json`` at the quick sizes)."""
    quick = config == _CONFIGS[name]("quick")
    return results.results_dir() / f"horizon-{name}{'-quick' if quick else ''}.json"


def _curve(history, k: int) -> list[float]:
    return [round(v, 5) for v in history.val_loss[k].tolist()]


class OneShotHorizon(engine.Study):
    """The probes of :data:`ONE_SHOT`. Units: ``dense`` (the dense network), ``sparse`` (three
    arms a round: the one-shot ticket, its reinitialisation, a random mask at θ0)."""
    kind = "horizon"

    def __init__(self, name: str, config: dict, progress: bool | None = None):
        super().__init__(config)
        self.name, self.progress = name, progress

    def start(self) -> dict:
        return {"dense": {}, "sparse": []}

    def prepare(self, state: dict) -> None:
        from . import lottery
        if self.name == "lenet-mnist":    # the paper's LeNet: TrainConfig's defaults
            self.data = data_mod.load("mnist")
            self.template = models.build("lenet")
            self.init = lambda seed: {n: p.detach() for n, p in
                                      models.build("lenet", seed).named_parameters()}
            self.base = training.TrainConfig()
            self.rates = pruning.paper_rates("lenet", masks.ones(self.template))
            return
        cfg = lottery.study_config(self.name, self.config["study"])
        d = data_mod.load(cfg.dataset, val_size=cfg.val_size, train_subset=cfg.train_subset)
        self.template = models.build(cfg.model, 0, width=cfg.width)
        self.data = training.images_in_layout(d, lottery.conv_layout(self.template,
                                                                     d.train_x.device))
        self.init = lambda seed: lottery._init(cfg, seed)
        self.base = replace(cfg.train_config(), snapshot_at=None)
        self.rates = lottery.layer_rates(cfg, masks.ones(self.template))

    def device(self) -> str:
        from . import device_name
        return device_name(self.data.device)

    def units(self) -> list[str]:
        return ["dense", "sparse"]

    def _train(self, members: list, iterations: int):
        c = self.config
        cfg = replace(self.base, iterations=iterations, eval_every=c["eval_every"],
                      test_every=c.get("test_every", iterations))
        return training.train_population(
            self.template, stack_masks([p for p, _ in members]),
            stack_masks([m for _, m in members]), self.data, cfg,
            [derive_seed(0, "batches", 0)] * len(members), self.progress)

    def _result(self, run, k: int) -> dict:
        """Member ``k``'s early stop and validation curve; for a probe with its own test grid
        (the conv ones), also its accuracy at the early stop and its test curve."""
        out = {"early_stop_iteration": run.history.early_stop_iteration[k],
               "val_loss": _curve(run.history, k)}
        if "test_every" in self.config:
            m = run.history.member(k)
            out.update(early_stop_test_acc=m["early_stop_test_acc"],
                       test_iteration=m.get("test_iteration", m["iteration"]),
                       test_acc=m["test_acc"])
        return out

    def step(self, unit: str, state: dict) -> None:
        c, template = self.config, self.template
        theta0 = self.init(derive_seed(0, "init", 0))
        if unit == "dense":
            run = self._train([(theta0, masks.ones(template))], c["dense_iterations"])
            state["dense"] = self._result(run, 0)
            state["trained"] = {n: v[0].cpu() for n, v in run.params.items()}
            return
        members, labels = [], []
        for r in c["rounds"]:
            rates = {n: pruning.rate_for_rounds(p, r) for n, p in self.rates.items()}
            m = pruning.l1_unstructured(state["trained"], masks.ones(template), rates)
            gen = torch.Generator().manual_seed(derive_seed(0, "mask", 0, r))
            members += [(theta0, m), (self.init(derive_seed(0, "reinit", 0, r)), m),
                        (theta0, pruning.random_like(m, gen))]
            labels += [{"round": r, "fraction_remaining": masks.fraction_remaining(m),
                        "arm": a} for a in ("oneshot", "reinit", "random_mask")]
        run = self._train(members, c["sparse_iterations"])
        for k, label in enumerate(labels):
            label.update(self._result(run, k))
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
    return _CONFIGS[name](profile)


def _check_name(name: str) -> None:
    if name not in NAMES:
        raise ValueError(f"unknown horizon probe {name!r}: choose one of {', '.join(NAMES)}")


def check_config(name: str, config: dict) -> None:
    """Refuse, before any training, a config the probe ``name`` cannot run: it must hold the
    fields of ``config(name)``, with whole numbers >= 1 for its iterations."""
    _check_name(name)
    want = set(_CONFIGS[name]("quick"))
    if not isinstance(config, dict) or not want <= set(config):
        missing = sorted(want - set(config)) if isinstance(config, dict) else sorted(want)
        raise ValueError(f"the {name} probe's config is missing {', '.join(missing)}: make it "
                         f"with horizon.config({name!r}, PROFILE)")
    counts = {"dense_iterations", "sparse_iterations", "iterations", "eval_every",
              "test_every"} & want
    results.check_counts(SimpleNamespace(**config), *sorted(counts))
    if name in ONE_SHOT and "study" in want and config["study"] not in ("quick", "standard"):
        raise ValueError(f"the {name} probe's 'study' is the lottery study's profile it "
                         f"trains: 'quick' or 'standard', got {config['study']!r}")


def run_probe(name: str, config: dict, out: str | Path | None = None,
              progress: bool | None = None, log=print) -> dict:
    """The probe's record: read if computed with ``config``, else trained and saved."""
    check_config(name, config)
    study = OneShotHorizon(name, config, progress) if name in ONE_SHOT else \
        PruneAtInitHorizon(config, progress)
    return engine.run(study, Path(out) if out is not None else record_path(name, config), log)


def summary(name: str, record: dict) -> list[str]:
    """One line per network: where its validation loss reached its minimum."""
    if name in ONE_SHOT:
        T = record["config"]["sparse_iterations"]
        def acc(a: dict) -> str:
            return f" ({100 * a['early_stop_test_acc']:.2f}%)" if "early_stop_test_acc" in a \
                else ""
        return [f"dense: early stop at {record['dense']['early_stop_iteration']:,} of "
                f"{record['config']['dense_iterations']:,}{acc(record['dense'])}"] + [
            f"{100 * a['fraction_remaining']:5.1f}% left · {a['arm']:<12} early stop at "
            f"{a['early_stop_iteration']:>6,} of {T:,}{acc(a)}" for a in record["sparse"]]
    T = record["config"]["iterations"]
    return [f"{100 * (1 - n['sparsity']):4.1f}% left · {n['method']:<10} early stop at "
            f"{n['early_stop_iteration']:>6,} of {T:,} ({100 * n['early_stop_test_acc']:.2f}%)"
            for n in record["networks"]]


def beyond_horizon(record: dict, horizon: int, last: float = 0.1) -> list[dict]:
    """What a one-shot probe with test curves (a conv one) says about a study that stops at
    ``horizon`` iterations: per sparse arm, its ``early_stop_iteration`` and
    ``early_stop_test_acc`` in the probe's longer run, its test accuracy at ``horizon``
    (``acc_at_horizon``, the test curve's point there), ``gain`` (the first minus the second:
    what training past the study's horizon bought) and ``late`` (the probe's own early stop is
    in its last ``last``: even the probe did not see the minimum). Each row also has ``arm``
    and ``fraction_remaining``."""
    from .records import late_after
    if "test_iteration" not in record["sparse"][0]:
        raise ValueError("this probe kept no test curves (the LeNet probe): beyond_horizon "
                         "reads a conv probe's record, such as horizon-conv2-cifar10")
    T = record["config"]["sparse_iterations"]
    rows = []
    for a in record["sparse"]:
        if horizon not in a["test_iteration"]:
            raise ValueError(f"the probe has no test point at iteration {horizon:,} (its grid: "
                             f"every {record['config']['test_every']:,} to {T:,}): pass the "
                             f"study's horizon, e.g. its config['iterations']")
        at = a["test_acc"][a["test_iteration"].index(horizon)]
        rows.append({"arm": a["arm"], "fraction_remaining": a["fraction_remaining"],
                     "early_stop_iteration": a["early_stop_iteration"],
                     "early_stop_test_acc": a["early_stop_test_acc"], "acc_at_horizon": at,
                     "gain": a["early_stop_test_acc"] - at,
                     "late": bool(a["early_stop_iteration"] > late_after(T, last))})
    return rows


def provenance(name: str, record: dict) -> str:
    """Where a probe's figure comes from, parts joined by " · " (for
    :func:`lth_utils.plots.add_provenance`): one trial, its lengths, code and compute."""
    c = record["config"]
    p = results.provenance_parts({**record, "config": {**c, "trials": 1}})
    length = (f"{c['dense_iterations']:,} + {c['sparse_iterations']:,} iterations"
              if "sparse_iterations" in c else f"{c['iterations']:,} iterations")
    return (f"record horizon-{name} · {p['trials']} · {length} · {p['code']} · "
            f"{p['compute']} on {p['device']}")
