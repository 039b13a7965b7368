"""How long must a LeNet study train for every arm's early stop to be a measured minimum?

Trains, for one trial of the lottery study's seeds: the dense LeNet-300-100 (20,000 iterations),
then, from its trained weights, one-shot masks at the sparsities of rounds 7, 15 and 18 (21%,
3.6%, 1.9% weights left) as three arms each (the one-shot ticket at θ0, the same mask with a
new random initialisation, a random mask of the same per-layer sparsity at θ0) for 30,000
iterations. Prints where each validation loss reaches its minimum, and writes every validation
curve with the config, code version, device and wall time to data/results/horizon-lenet-mnist.json.
The standard profile's horizon (lottery.SIZES) was chosen from this output.

    .venv/bin/python tools/horizon.py            # about 12 minutes on one CPU core
"""
from __future__ import annotations

import time

import torch

import lth_utils
from lth_utils import data, masks, models, pruning, results, training
from lth_utils.lottery import derive_seed

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
    dense = training.train_population(template, training.stack_masks([theta0]),
                                      training.stack_masks([masks.ones(template)]), d, cfg, seed)
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
    run = training.train_population(template, training.stack_masks([p for p, _ in members]),
                                    training.stack_masks([m for _, m in members]), d, cfg,
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


if __name__ == "__main__":
    main()
