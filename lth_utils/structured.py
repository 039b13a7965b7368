"""Structured pruning: remove whole neurons, so the layers really shrink (chapter 12).

Unstructured pruning zeroes single weights; the matrices keep their shape and a dense kernel
multiplies the zeros. Removing a hidden *neuron* of a fully connected network deletes a row of
its layer's weight (and its bias) and the matching column of the next layer: the network is a
smaller dense network, fast with any dense kernel. Which neurons go: those whose incoming weights
have the smallest L1 norm, the criterion Li et al. (2017) use for convolution filters.

:func:`prune_neurons` does it for a ``nn.Sequential`` of Linear/ReLU layers (LeNet-300-100),
:func:`widths_for_fraction` picks hidden widths with a given number of weights, and
:func:`compare` prunes a trained LeNet both ways at the same weight counts and fine-tunes each:
the chapter's accuracy-versus-latency study, cached as a JSON record (:func:`run_study`);
:func:`late_stops` reads which of its trainings stopped in the last tenth of their horizon.
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
# measures compression and speed, which a longer training would not change).
SIZES = {
    "quick": dict(train_subset=5_000, n_eval=1_000, iterations=300, finetune_iterations=150,
                  fractions=[0.2, 0.08]),
    "standard": dict(train_subset=None, n_eval=10_000, iterations=5_000,
                     finetune_iterations=2_000, fractions=[0.5, 0.2, 0.08, 0.03]),
}
SIZES["paper"] = SIZES["standard"]


def study_config(profile: str | None = None) -> dict:
    """Chapter 12's config at ``profile`` (default ``$LTH_PROFILE``): the dict
    :func:`lenet_study` reads and the record ``ch12-lenet-PROFILE.json`` keeps."""
    from . import profile as current
    p = profile or current()
    if p not in SIZES:
        raise ValueError(f"unknown profile {p!r}: choose one of {', '.join(SIZES)}")
    return dict(name=f"ch12-lenet-{p}", **SIZES[p], weight_bits=8, seed=0)


class Chapter12Study(engine.Study):
    """Chapter 12's study as :mod:`lth_utils.engine` runs it: one unit (train LeNet-300-100,
    compare structured and unstructured pruning, save the compressed file), one seed."""
    kind = "chapter12"

    def __init__(self, config: dict):
        super().__init__(config)

    def check(self) -> None:
        check_config(self.config)

    def units(self) -> list[str]:
        return ["train and compare"]

    def step(self, unit: str, state: dict) -> None:
        state["found"] = lenet_study(self.config)

    def body(self, state: dict) -> dict:
        return state["found"]


def run_study(config: dict | None = None) -> dict:
    """Chapter 12's record for ``config`` (default :func:`study_config`), kept in
    ``data/results/NAME.json``: read if computed with it, else trained (:func:`lenet_study`)
    by :mod:`lth_utils.engine` and saved with its config, code version, device and wall
    time."""
    config = config or study_config()
    check_config(config)
    return engine.run(Chapter12Study(config), record_path(config["name"]))


def check_config(config: dict) -> None:
    """Refuse, before any training, a config :func:`lenet_study` cannot run (``ValueError``,
    ``TypeError``): it must be a dict like :func:`study_config`'s."""
    if not isinstance(config, dict):
        raise TypeError(f"chapter 12's config is a dict: make it with structured.study_config("
                        f"PROFILE), got {type(config).__name__} {config!r:.40}")
    missing = [k for k in study_config("quick") if k not in config]
    if missing:
        raise ValueError(f"chapter 12's config is missing {', '.join(missing)}: start from "
                         f"structured.study_config(PROFILE)")
    fields = SimpleNamespace(**config)    # check_counts reads attributes
    results.check_counts(fields, "n_eval", "iterations", "finetune_iterations", "weight_bits")
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


def lenet_study(config: dict) -> dict:
    """Chapter 12's training, for :func:`run_study`: train LeNet-300-100 dense on MNIST,
    :func:`compare` at ``config["fractions"]``, and save the unstructured network nearest 8% of
    the weights with :func:`lth_utils.sparse.save_compressed` beside the record, reloading it to
    test it. ``config``: name, train_subset, n_eval, iterations, finetune_iterations,
    fractions, weight_bits, seed."""
    from . import data as data_mod
    from . import models, sparse
    d = data_mod.load("mnist", train_subset=config["train_subset"], eval_size=config["n_eval"])
    model = models.build("lenet", seed=config["seed"])
    cfg = training.TrainConfig(iterations=config["iterations"], eval_every=100)
    dense = training.train(model, d, cfg, seed=config["seed"], progress=False)
    ft = training.TrainConfig(iterations=config["finetune_iterations"], eval_every=50)
    rows, nets = compare(model, d, config["fractions"], ft, config["seed"])
    f = min(nets, key=lambda x: abs(x - 0.08))
    net, mk = nets[f]
    path = record_path(config["name"]).with_suffix(".lthc")
    size = sparse.save_compressed(net, mk, path, weight_bits=config["weight_bits"])
    back = models.build("lenet", seed=config["seed"] + 1)
    sparse.load_compressed(path, back)
    return {"dense_test_acc": round(dense.early_stop_test_acc[0], 5),
            "dense_early_stop_iteration": dense.early_stop_iteration[0], "rows": rows,
            "compressed": {"file": path.name, "bytes": size, "fraction": f,
                           "test_acc_fp32": accuracy(net, d), "test_acc_reloaded":
                           accuracy(back, d)}}


def late_stops(record: dict, last: float = 0.1) -> list[dict]:
    """The trainings of chapter 12's ``record`` whose early stop falls in the last ``last`` of
    their own horizon T: ``early_stop_iteration > (1 - last) * T``, the rule of
    :func:`lth_utils.records.is_late`, with T = ``config["iterations"]`` for the dense network
    and ``config["finetune_iterations"]`` for each fine-tuned row. Such a run was still
    improving when it stopped: its accuracy is a lower bound.

    Returns one dict per late training, ``{"fraction", "method", "iteration", "horizon"}``
    (the dense network as fraction 1.0, method "dense"); an empty list when every early stop
    is a measured minimum. A record computed before early stops were stored raises
    ``ValueError``."""
    from .records import late_after
    conf = record["config"]
    runs = [{"fraction": 1.0, "method": "dense", "horizon": conf["iterations"],
             "iteration": record.get("dense_early_stop_iteration")}]
    runs += [{"fraction": r["fraction"], "method": r["method"],
              "horizon": conf["finetune_iterations"],
              "iteration": r.get("early_stop_iteration")} for r in record["rows"]]
    if any(r["iteration"] is None for r in runs):
        raise ValueError(f"record {conf.get('name', '?')} stores no early-stop iterations: "
                         f"recompute it (python -m lth_utils study ch12-lenet) after moving "
                         f"the old record away")
    return [r for r in runs if r["iteration"] > late_after(r["horizon"], last)]


def accuracy(model: nn.Module, data: Splits) -> float:
    """Test accuracy of ``model`` on ``data.test_x`` (all at once, no gradients); the model is
    moved to the data's device."""
    model.to(data.test_x.device).eval()
    with torch.no_grad():
        acc = (model(data.test_x).argmax(1) == data.test_y).float().mean().item()
    return round(acc, 5)
