"""Structured pruning: remove whole neurons, so the layers really shrink (chapter 12).

Unstructured pruning zeroes single weights; the matrices keep their shape and a dense kernel
multiplies the zeros. Removing a hidden *neuron* of a fully connected network deletes a row of
its layer's weight (and its bias) and the matching column of the next layer: the network is a
smaller dense network, fast with any dense kernel. Which neurons go: those whose incoming weights
have the smallest L1 norm, the criterion Li et al. (2017) use for convolution filters.

:func:`prune_neurons` does it for a ``nn.Sequential`` of Linear/ReLU layers (LeNet-300-100),
:func:`widths_for_fraction` picks hidden widths with a given number of weights, and
:func:`compare` prunes a trained LeNet both ways at the same weight counts and fine-tunes each:
the chapter's accuracy-versus-latency study, a few trials each from its own seed, cached as a
JSON record (:func:`run_study`). :func:`trial_stats` reads each accuracy's mean and range over
the trials, :func:`compare_methods` the two methods' gap against the trials' spread and the
test set's noise, and :func:`late_stops` which trainings stopped in the last tenth of their
horizon.
"""
from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn

from . import masks as masks_mod
from . import engine, pruning, results, training
from .data import Splits
from .records import compare_ranges, two_se


def linear_layers(model: nn.Sequential) -> list[str]:
    """Names of the Linear layers of ``model``, in order; anything but Flatten, ReLU, Dropout
    and Linear raises (this module handles fully connected networks)."""
    names = []
    for name, m in model.named_children():
        if isinstance(m, nn.Linear):
            names.append(name)
        elif not isinstance(m, (nn.Flatten, nn.ReLU, nn.Dropout)):
            raise ValueError(f"structured pruning here handles Flatten/Linear/ReLU/Dropout "
                             f"networks (LeNet-300-100), not layer {name!r}: {m}")
    return names


def count_weights(model: nn.Module) -> int:
    """Number of weights (not biases) of ``model``'s Linear layers."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))


def neuron_norms(model: nn.Sequential) -> dict[str, torch.Tensor]:
    """L1 norm of each hidden neuron's incoming weights: layer name -> (out,), hidden layers
    only (the output layer's neurons are the classes and stay)."""
    names = linear_layers(model)
    mods = dict(model.named_children())
    return {n: mods[n].weight.detach().abs().sum(dim=1) for n in names[:-1]}


def prune_neurons(model: nn.Sequential, widths: list[int]) -> nn.Sequential:
    """A copy of ``model`` whose hidden layers keep the ``widths`` neurons of largest L1 norm
    (in their original order): rows of layer i and columns of layer i + 1 removed.

    The norms are those of the original network's incoming weights, layer by layer, after the
    previous layer's removed inputs are gone.
    """
    small = copy.deepcopy(model)
    names = linear_layers(small)
    if len(widths) != len(names) - 1:
        raise ValueError(f"give one width per hidden layer ({len(names) - 1}), got {widths}")
    mods = dict(small.named_children())
    for i, (name, w) in enumerate(zip(names[:-1], widths)):
        layer, nxt = mods[name], mods[names[i + 1]]
        if not 1 <= w <= layer.out_features:
            raise ValueError(f"width of {name} must be in 1..{layer.out_features}, got {w}")
        keep = torch.topk(layer.weight.detach().abs().sum(1), w).indices.sort().values
        new = nn.Linear(layer.in_features, w)
        new_next = nn.Linear(w, nxt.out_features)
        with torch.no_grad():
            new.weight.copy_(layer.weight[keep])
            new.bias.copy_(layer.bias[keep])
            new_next.weight.copy_(nxt.weight[:, keep])
            new_next.bias.copy_(nxt.bias)
        setattr(small, name, new)
        setattr(small, names[i + 1], new_next)
        mods = dict(small.named_children())
    return small


def _check_kept(fraction: float, what: str = "fraction") -> float:
    if not isinstance(fraction, (int, float)) or isinstance(fraction, bool) \
            or not 0 < fraction <= 1:
        raise ValueError(f"{what} (of the weights kept) must be in (0, 1], e.g. 0.08, got "
                         f"{fraction!r}")
    return fraction


def widths_for_fraction(fraction: float, sizes=(784, 300, 100, 10)) -> list[int]:
    """Hidden widths, each the same fraction s of the original, whose network has about
    ``fraction`` of the original's weights (the largest s that does not exceed it)."""
    _check_kept(fraction)

    def weights(ws):
        full = [sizes[0], *ws, sizes[-1]]
        return sum(a * b for a, b in zip(full[:-1], full[1:]))
    target = fraction * weights(sizes[1:-1])
    best = [1] * (len(sizes) - 2)
    for k in range(1, 10_001):
        ws = [max(1, round(h * k / 10_000)) for h in sizes[1:-1]]
        if weights(ws) > target:
            break
        best = ws
    return best


def compare(model: nn.Sequential, data: Splits, fractions, cfg: training.TrainConfig,
            seed: int = 0) -> tuple[list[dict], dict]:
    """Prune the trained ``model`` to each fraction of its weights two ways and fine-tune each
    with ``cfg``: unstructured (layerwise magnitude, every layer that fraction) and structured
    (:func:`prune_neurons` to :func:`widths_for_fraction`). Returns rows {"fraction",
    "method", "weights", "widths", "test_acc", "early_stop_iteration"} (the accuracy at the
    early stop of fine-tuning, and the iteration of that stop, out of ``cfg.iterations``) and
    the fine-tuned unstructured networks with their masks by fraction: {fraction: (model,
    masks)}."""
    rows, nets = [], {}
    for f in fractions:
        m = copy.deepcopy(model)
        mk = pruning.to_sparsity(m, masks_mod.ones(m), 1 - f)
        h = training.train(m, data, cfg, masks=mk, seed=seed, progress=False)
        rows.append({"fraction": f, "method": "unstructured", "widths": [300, 100],
                     "weights": int(sum(v.sum().item() for v in mk.values())),
                     "test_acc": round(h.early_stop_test_acc[0], 5),
                     "early_stop_iteration": h.early_stop_iteration[0]})
        nets[f] = (m, mk)
        widths = widths_for_fraction(f)
        s = prune_neurons(model, widths)
        h = training.train(s, data, cfg, seed=seed, progress=False)
        rows.append({"fraction": f, "method": "structured", "widths": widths,
                     "weights": count_weights(s),
                     "test_acc": round(h.early_stop_test_acc[0], 5),
                     "early_stop_iteration": h.early_stop_iteration[0]})
    return rows, nets


# Chapter 12's study, per profile (sizes only; "paper" trains as "standard": the chapter
# measures compression and speed, which a longer training would not change). Each trial trains
# its own dense LeNet from its own seed and prunes it both ways. Standard: the dense LeNet for
# chapter 5's measured horizon (20,000 iterations, the same network, optimiser and batch), each
# fine-tuning as long (at 2,000, 13 of 27 trainings stopped in their last tenth; at 10,000, all
# six at 3% of the weights).
SIZES = {
    "quick": dict(trials=2, train_subset=5_000, n_eval=1_000, iterations=300,
                  finetune_iterations=150, fractions=[0.2, 0.08]),
    "standard": dict(trials=3, train_subset=None, n_eval=10_000, iterations=20_000,
                     finetune_iterations=20_000, fractions=[0.5, 0.2, 0.08, 0.03]),
}
SIZES["paper"] = SIZES["standard"]


def study_config(profile: str | None = None) -> dict:
    """Chapter 12's config at ``profile`` (default ``$LTH_PROFILE``): the dict
    :func:`lenet_trial` reads and the record ``ch12-lenet-PROFILE.json`` keeps."""
    from . import profile as current
    p = profile or current()
    if p not in SIZES:
        raise ValueError(f"unknown profile {p!r}: choose one of {', '.join(SIZES)}")
    return dict(name=f"ch12-lenet-{p}", **SIZES[p], weight_bits=8, seed=0)


def trial_seed(config: dict, trial: int) -> int:
    """The seed of trial ``trial`` (its LeNet's initial weights and every batch order it
    trains on): ``lottery.derive_seed(config["seed"], "trial", trial)``, as the other studies
    derive theirs."""
    from .lottery import derive_seed
    return derive_seed(config["seed"], "trial", trial)


class Chapter12Study(engine.Study):
    """Chapter 12's study as :mod:`lth_utils.engine` runs it: one unit per trial (train a
    LeNet-300-100, compare structured and unstructured pruning; trial 0 also saves the
    compressed file). ``trials``: the trial indices this run computes (a part, see
    :func:`merge`); ``data``: splits to use instead of loading MNIST (tests); ``out``: the
    record's path (default :func:`record_path`, with ``.trials-A-B`` for a part)."""
    kind = "chapter12"

    def __init__(self, config: dict, trials: list[int] | None = None, data=None,
                 out: str | Path | None = None):
        super().__init__(config, config.get("trials", 1), trials)
        self.data = data
        # the record (a part's own name when it holds some of the trials)
        self.out = Path(out) if out is not None else results.part_path(
            record_path(config["name"]), self.trials, self.n_trials)

    def check(self) -> None:
        check_config(self.config)

    def start(self) -> dict:
        return {"dense": [], "rows": [], "compressed": None}

    def prepare(self, state: dict) -> None:
        if self.data is None:
            from . import data as data_mod
            self.data = data_mod.load("mnist", train_subset=self.config["train_subset"],
                                      eval_size=self.config["n_eval"])

    def units(self) -> list[str]:
        return [f"trial {t}" for t in self.trials]

    def step(self, unit: str, state: dict) -> None:
        t = int(unit.split()[1])
        # the compressed file is trial 0's, beside the record
        lthc = self.out.parent / f"{self.config['name']}.lthc" if t == 0 else None
        found = lenet_trial(self.config, t, self.data, lthc)
        state["dense"].append(found["dense"])
        state["rows"] += found["rows"]
        if t == 0:
            state["compressed"] = found["compressed"]

    def body(self, state: dict) -> dict:
        out = {"dense": state["dense"], "rows": state["rows"]}
        if state["compressed"] is not None:
            out["compressed"] = state["compressed"]
        return out


def run_study(config: dict | None = None, path: str | Path | None = None,
              trials: list[int] | None = None, data=None) -> dict:
    """Chapter 12's record for ``config`` (default :func:`study_config`), kept in
    ``data/results/NAME.json`` (or ``path``): read if computed with it, else trained trial by
    trial (:func:`lenet_trial`) by :mod:`lth_utils.engine` and saved with its config, code
    version, device and wall time; a killed run resumes at the next trial. ``trials``: compute
    only these trial indices, a part (``NAME.trials-A-B.json``) that :func:`merge` joins with
    the others; each trial trains apart, so a part holds the same numbers as one run.
    ``data``: splits to use instead of loading MNIST (tests)."""
    config = config or study_config()
    check_config(config)
    study = Chapter12Study(config, trials, data, path)
    return engine.run(study, study.out)


def merge(records: list[dict]) -> dict:
    """The record one run of all the trials writes, from the parts of a study split by trials
    (``run_study(..., trials=[...])``): trials in order, wall times summed, the compressed file
    the part holding trial 0 saved."""
    every, parts = results.check_parts(records, results.held_trials)
    dense = {d["trial"]: d for r in records for d in r["dense"]}
    rows = {t: [x for r in records for x in r["rows"] if x["trial"] == t] for t in every}
    merged = results.merged_header(records, parts, drop=("trials", "compressed"))
    merged["dense"] = [dense[t] for t in every]
    merged["rows"] = [x for t in every for x in rows[t]]
    merged["compressed"] = next(r["compressed"] for r in records if "compressed" in r)
    return merged


def check_config(config: dict) -> None:
    """Refuse, before any training, a config :func:`lenet_trial` cannot run (``ValueError``,
    ``TypeError``): it must be a dict like :func:`study_config`'s."""
    if not isinstance(config, dict):
        raise TypeError(f"chapter 12's config is a dict: make it with structured.study_config("
                        f"PROFILE), got {type(config).__name__} {config!r:.40}")
    missing = [k for k in study_config("quick") if k not in config]
    if missing:
        raise ValueError(f"chapter 12's config is missing {', '.join(missing)}: start from "
                         f"structured.study_config(PROFILE)")
    fields = SimpleNamespace(**config)    # check_counts reads attributes
    results.check_counts(fields, "trials", "n_eval", "iterations", "finetune_iterations",
                         "weight_bits")
    results.check_counts(fields, "seed", minimum=0)
    results.check_counts(fields, "train_subset", optional=True)
    if not isinstance(config["fractions"], (list, tuple)) or not config["fractions"]:
        raise ValueError(f"fractions must be a list of fractions of the weights kept, e.g. "
                         f"[0.2, 0.08], got {config['fractions']!r}")
    for f in config["fractions"]:
        _check_kept(f, "each of fractions")


def record_path(name: str) -> Path:
    """Where :func:`run_study` keeps the record ``name`` (and files beside it)."""
    return results.results_dir() / f"{name}.json"


def lenet_trial(config: dict, trial: int, data: Splits, lthc: Path | None = None) -> dict:
    """One trial of chapter 12's study, for :func:`run_study`: train LeNet-300-100 dense on
    ``data`` from seed :func:`trial_seed`, then :func:`compare` at ``config["fractions"]``
    with the same seed. With ``lthc`` (a path), also save the unstructured network nearest 8%
    of the weights there with :func:`lth_utils.sparse.save_compressed`, reloading it to test
    it. ``config``: as :func:`study_config`'s. Returns ``{"dense": {"trial", "seed",
    "test_acc", "early_stop_iteration"}, "rows": compare's rows, each with "trial" and
    "seed"}`` and, with ``lthc``, ``"compressed"``."""
    from . import models, sparse
    seed = trial_seed(config, trial)
    model = models.build("lenet", seed=seed)
    cfg = training.TrainConfig(iterations=config["iterations"], eval_every=100)
    dense = training.train(model, data, cfg, seed=seed, progress=False)
    ft = training.TrainConfig(iterations=config["finetune_iterations"], eval_every=50)
    rows, nets = compare(model, data, config["fractions"], ft, seed)
    out = {"dense": {"trial": trial, "seed": seed,
                     "test_acc": round(dense.early_stop_test_acc[0], 5),
                     "early_stop_iteration": dense.early_stop_iteration[0]},
           "rows": [{"trial": trial, "seed": seed, **r} for r in rows]}
    if lthc is not None:
        f = min(nets, key=lambda x: abs(x - 0.08))
        net, mk = nets[f]
        size = sparse.save_compressed(net, mk, lthc, weight_bits=config["weight_bits"])
        back = models.build("lenet", seed=seed + 1)
        sparse.load_compressed(lthc, back)
        out["compressed"] = {"file": Path(lthc).name, "bytes": size, "fraction": f,
                             "trial": trial, "seed": seed,
                             "test_acc_fp32": accuracy(net, data),
                             "test_acc_reloaded": accuracy(back, data)}
    return out


# ----------------------------------------------------------------------------- reading a record

def _runs(record: dict) -> list[dict]:
    """Every training of ``record``: {"trial", "fraction", "method", "test_acc",
    "iteration", "horizon"}, the dense networks as fraction 1.0, method "dense"."""
    conf = record["config"]
    if "dense" not in record:
        raise ValueError(f"record {conf.get('name', '?')} holds one seed and no trials: "
                         f"recompute it (python -m lth_utils study ch12-lenet) after moving "
                         f"the old record away")
    runs = [{"trial": d["trial"], "fraction": 1.0, "method": "dense",
             "test_acc": d["test_acc"], "horizon": conf["iterations"],
             "iteration": d.get("early_stop_iteration")} for d in record["dense"]]
    runs += [{"trial": r["trial"], "fraction": r["fraction"], "method": r["method"],
              "test_acc": r["test_acc"], "horizon": conf["finetune_iterations"],
              "iteration": r.get("early_stop_iteration")} for r in record["rows"]]
    if any(r["iteration"] is None for r in runs):
        raise ValueError(f"record {conf.get('name', '?')} stores no early-stop iterations: "
                         f"recompute it (python -m lth_utils study ch12-lenet) after moving "
                         f"the old record away")
    return runs


def late_stops(record: dict, last: float = 0.1) -> list[dict]:
    """The trainings of chapter 12's ``record`` whose early stop falls in the last ``last`` of
    their own horizon T: ``early_stop_iteration > (1 - last) * T``, the rule of
    :func:`lth_utils.records.late_after`, with T = ``config["iterations"]`` for the dense
    network and ``config["finetune_iterations"]`` for each fine-tuned row. Such a run was
    still improving when it stopped: its accuracy is a lower bound.

    Returns one dict per late training, ``{"trial", "fraction", "method", "iteration",
    "horizon"}`` (a dense network as fraction 1.0, method "dense"), in the record's order;
    an empty list when every early stop is a measured minimum. A record computed before early
    stops (or trials) were stored raises ``ValueError``."""
    from .records import late_after
    return [{k: r[k] for k in ("trial", "fraction", "method", "iteration", "horizon")}
            for r in _runs(record) if r["iteration"] > late_after(r["horizon"], last)]


def trial_stats(record: dict, last: float = 0.1) -> dict[tuple[float, str], dict]:
    """Test accuracy at early stop over the trials, per (fraction, method), the dense
    networks as ``(1.0, "dense")``: ``{"values"`` (one per trial, in trial order), ``"mean"``,
    ``"lo"``, ``"hi"`` (the range over trials), ``"late"`` (how many trials stopped late,
    :func:`late_stops`)``}``."""
    late = {(r["fraction"], r["method"], r["trial"]) for r in late_stops(record, last)}
    out: dict[tuple[float, str], dict] = {}
    for r in sorted(_runs(record), key=lambda r: r["trial"]):
        s = out.setdefault((r["fraction"], r["method"]), {"values": [], "late": 0})
        s["values"].append(r["test_acc"])
        s["late"] += (r["fraction"], r["method"], r["trial"]) in late
    for s in out.values():
        s.update(mean=float(sum(s["values"]) / len(s["values"])), lo=min(s["values"]),
                 hi=max(s["values"]))
    return out


def compare_methods(record: dict, n_test: int | None = None, last: float = 0.1
                    ) -> list[dict]:
    """Unstructured against structured pruning at each fraction of ``record``, over its
    trials: ``{"fraction", "unstructured", "structured"`` (their :func:`trial_stats`),
    ``"gap"`` (mean unstructured minus mean structured), ``"margin"`` (two standard errors,
    :func:`lth_utils.records.two_se`, at the lower mean, on ``n_test`` images, default
    ``config["n_eval"]``), ``"apart"`` (the two trial ranges do not overlap:
    :func:`lth_utils.records.compare_ranges`), ``"verdict"`` ("beyond" when apart and
    ``|gap| > margin``, else "within"), ``"ahead"`` ("unstructured" or "structured", by the
    means), ``"late"`` (the methods with a late trial)``}``."""
    stats = trial_stats(record, last)
    n = n_test or record["config"]["n_eval"]
    out = []
    for f in record["config"]["fractions"]:
        u, s = stats[(f, "unstructured")], stats[(f, "structured")]
        gap = u["mean"] - s["mean"]
        margin = two_se(min(u["mean"], s["mean"]), n)
        apart = compare_ranges(u["values"], s["values"]) != "within"
        out.append({"fraction": f, "unstructured": u, "structured": s, "gap": gap,
                    "margin": margin, "apart": apart,
                    "verdict": "beyond" if apart and abs(gap) > margin else "within",
                    "ahead": "unstructured" if gap >= 0 else "structured",
                    "late": [m for m, x in (("unstructured", u), ("structured", s))
                             if x["late"]]})
    return out


def provenance(record: dict) -> str:
    """Where the study's numbers come from, in two lines (what was trained; the code and the
    compute), parts joined by " · "."""
    c, p = record["config"], results.provenance_parts(record)
    return (f"record {c['name']} · {p['trials']} · {c['iterations']:,} + "
            f"{c['finetune_iterations']:,} iterations\n{p['code']} · {p['compute']} on "
            f"{p['device']}")


def accuracy(model: nn.Module, data: Splits) -> float:
    """Test accuracy of ``model`` on ``data.test_x`` (all at once, no gradients); the model is
    moved to the data's device."""
    model.to(data.test_x.device).eval()
    with torch.no_grad():
        acc = (model(data.test_x).argmax(1) == data.test_y).float().mean().item()
    return round(acc, 5)
