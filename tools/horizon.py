"""How long must a LeNet study train for every arm's early stop to be a measured minimum?

Trains, for one trial of the lottery study's seeds: the dense LeNet-300-100 (20,000 iterations),
then, from its trained weights, one-shot masks at the sparsities of rounds 7, 15 and 18 (21%,
3.6%, 1.9% weights left) as three arms each (the one-shot ticket at θ0, the same mask with a
new random initialisation, a random mask of the same per-layer sparsity at θ0) for 30,000
iterations. Prints where each validation loss reaches its minimum, and writes every validation
curve with the config, code version, device and wall time to data/results/horizon-lenet-mnist.json.
The standard profile's horizon (lottery.SIZES) was chosen from this output.

    .venv/bin/python tools/horizon.py            # about 12 minutes on one CPU core

``prune-at-init`` measures the same for chapter 10's study: every method's mask at θ0 (trial
0's seeds) at 98% and 99.5% sparsity, trained 40,000 iterations as one population, validation
every 500; writes data/results/horizon-prune-at-init.json.

    .venv/bin/python tools/horizon.py prune-at-init   # about 20 minutes on one CPU core
"""
from __future__ import annotations

import time

import torch

import lth_utils
from lth_utils import data, masks, models, pruning, results, training
from lth_utils.lottery import derive_seed
from lth_utils.population import stack_masks

DENSE_ITERATIONS, SPARSE_ITERATIONS, ROUNDS = 20_000, 30_000, (7, 15, 18)


def params(seed: int) -> dict[str, torch.Tensor]:
    return {n: p.detach() for n, p in models.build("lenet", seed).named_parameters()}


def main() -> None:
    start = time.time()
    d = data.load("mnist")
    template = models.build("lenet")
    theta0 = params(derive_seed(0, "init", 0))
    seed = [derive_seed(0, "batches", 0)]
    cfg = training.TrainConfig(iterations=DENSE_ITERATIONS, test_every=DENSE_ITERATIONS)
    dense = training.train_population(template, stack_masks([theta0]),
                                      stack_masks([masks.ones(template)]), d, cfg, seed)
    print(f"dense: early stop at {dense.history.early_stop_iteration[0]:,} of {DENSE_ITERATIONS:,}")
    trained = {n: v[0].cpu() for n, v in dense.params.items()}
    members, labels = [], []
    for r in ROUNDS:
        rates = {n: pruning.rate_for_rounds(p, r)
                 for n, p in pruning.paper_rates("lenet", masks.ones(template)).items()}
        m = pruning.l1_unstructured(trained, masks.ones(template), rates)
        gen = torch.Generator().manual_seed(derive_seed(0, "mask", 0, r))
        members += [(theta0, m), (params(derive_seed(0, "reinit", 0, r)), m),
                    (theta0, pruning.random_like(m, gen))]
        labels += [{"round": r, "fraction_remaining": masks.fraction_remaining(m), "arm": a}
                   for a in ("oneshot", "reinit", "random_mask")]
    cfg = training.TrainConfig(iterations=SPARSE_ITERATIONS, test_every=SPARSE_ITERATIONS)
    run = training.train_population(template, stack_masks([p for p, _ in members]),
                                    stack_masks([m for _, m in members]), d, cfg,
                                    seed * len(members))
    for k, label in enumerate(labels):
        label.update(early_stop_iteration=run.history.early_stop_iteration[k],
                     val_loss=[round(v, 5) for v in run.history.val_loss[k].tolist()])
        print(f"{100 * label['fraction_remaining']:5.1f}% left · {label['arm']:<12} early stop "
              f"at {label['early_stop_iteration']:>6,} of {SPARSE_ITERATIONS:,}")
    record = {"kind": "lth-horizon", "config": {"dense_iterations": DENSE_ITERATIONS,
                                                "sparse_iterations": SPARSE_ITERATIONS,
                                                "rounds": list(ROUNDS), "eval_every": 100},
              "code_version": results.code_version(), "device": lth_utils.device_name(),
              "wall_time_s": round(time.time() - start, 1),
              "dense": {"early_stop_iteration": dense.history.early_stop_iteration[0],
                        "val_loss": [round(v, 5) for v in dense.history.val_loss[0].tolist()]},
              "sparse": labels}
    out = results.results_dir() / "horizon-lenet-mnist.json"
    results.atomic_write_text(out, __import__("json").dumps(record, indent=1))
    print(f"wrote {out} ({record['wall_time_s'] / 60:.1f} min)")


PAI_SPARSITIES, PAI_ITERATIONS, PAI_EVERY = (0.98, 0.995), 40_000, 500


def prune_at_init_main() -> None:
    """Chapter 10's horizon: where each method's sparse network stops improving."""
    from lth_utils import prune_at_init as pai
    start = time.time()
    cfg = pai.study_config("standard")
    d = data.load("mnist", val_size=cfg.val_size)
    template = models.build("lenet")
    model = models.build("lenet", derive_seed(cfg.seed, "init", 0))
    theta0 = {n: p.detach().clone() for n, p in model.named_parameters()}
    gen = torch.Generator().manual_seed(derive_seed(cfg.seed, "masks", 0))
    idx = torch.randperm(len(d.train_y), generator=gen)[:cfg.score_batches * cfg.batch_size]
    x, y = d.train_x[idx.to(d.device)].cpu(), d.train_y[idx.to(d.device)].cpu()
    labels, ms = [], []
    for s in PAI_SPARSITIES:
        for method in cfg.methods:
            ms.append(pai.prune_at_init(method, model, s, x, y, gen, cfg.synflow_rounds))
            labels.append({"method": method, "sparsity": s})
    tc = training.TrainConfig(iterations=PAI_ITERATIONS, eval_every=PAI_EVERY,
                              test_every=PAI_ITERATIONS, lr=cfg.lr, batch_size=cfg.batch_size)
    run = training.train_population(template, stack_masks([theta0] * len(ms)), stack_masks(ms),
                                    d, tc, [derive_seed(cfg.seed, "batches", 0)] * len(ms))
    for k, label in enumerate(labels):
        label.update(early_stop_iteration=run.history.early_stop_iteration[k],
                     early_stop_test_acc=round(run.history.early_stop_test_acc[k], 5),
                     val_loss=[round(v, 5) for v in run.history.val_loss[k].tolist()])
        print(f"{100 * (1 - label['sparsity']):4.1f}% left · {label['method']:<10} early stop "
              f"at {label['early_stop_iteration']:>6,} of {PAI_ITERATIONS:,} "
              f"({100 * label['early_stop_test_acc']:.2f}%)")
    record = {"kind": "lth-horizon",
              "config": {"study": "prune-at-init", "sparsities": list(PAI_SPARSITIES),
                         "iterations": PAI_ITERATIONS, "eval_every": PAI_EVERY,
                         "methods": list(cfg.methods), "trial": 0},
              "code_version": results.code_version(), "device": lth_utils.device_name(),
              "wall_time_s": round(time.time() - start, 1), "networks": labels}
    out = results.results_dir() / "horizon-prune-at-init.json"
    results.atomic_write_text(out, __import__("json").dumps(record, indent=1))
    print(f"wrote {out} ({record['wall_time_s'] / 60:.1f} min)")


if __name__ == "__main__":
    import sys
    if sys.argv[1:] == ["prune-at-init"]:
        prune_at_init_main()
    elif sys.argv[1:]:
        sys.exit("usage: python tools/horizon.py [prune-at-init]")
    else:
        main()
