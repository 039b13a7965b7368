"""Which CPU-sized network is unstable to SGD noise at initialisation? (for chapter 8)

Frankle et al. (2020) find ResNet-20 and VGG-16 on CIFAR-10, trained with SGD and momentum at a
high learning rate, unstable at k = 0 (two copies from θ0 end in regions with an error barrier
between them) and stable after some training; LeNet and the book's Adam-trained Conv-2 are
stable from k = 0. This probe trains quarter-width Conv-2 on CIFAR-10 with SGD and momentum at
the learning rate given, spawned at several k, with the instability study
(``lth_utils.instability``: resumable, one checkpoint per unit) and writes its record to
data/results/instability-probe-conv2-sgd-lrLR.json.

    .venv/bin/python tools/instability_probe.py 0.05     # about 15 minutes on one CPU core

With ``--imp`` it runs the ticket part on that recipe instead: IMP with resetting (to θ0) and
with rewinding (to θ_500, where the probe found the network stable), 3 trials, T = 3,000, four
rounds of 50% (25% in the output layer), and the instability of the reset ticket, of its mask
reinitialised and of the rewound ticket; record ``...-lrLR-imp.json``.

    .venv/bin/python tools/instability_probe.py 0.05 --imp   # about 75 minutes on one core
    # or split over two cores, then merge the parts:
    .venv/bin/python tools/instability_probe.py 0.05 --imp --trials 0-1 &
    .venv/bin/python tools/instability_probe.py 0.05 --imp --trials 2
"""
from __future__ import annotations

import sys

from lth_utils import instability, results


def probe_config(lr: float) -> instability.InstabilityConfig:
    """Conv-2 at a quarter of its channels, SGD with momentum 0.9 at ``lr``, T = 2,000 on
    the 45,000 training images, spawned at k = 0, 100, 500; paths on 2,000 test images."""
    return instability.InstabilityConfig(
        network="conv2", profile="standard", trials=3, iterations=2000, ks=(0, 100, 500),
        width=0.25, lr=lr, optimizer="sgd", momentum=0.9, train_subset=None, eval_size=2000)


def imp_config(lr: float) -> instability.InstabilityConfig:
    """The ticket part on the probe's recipe: dense copies spawned at k = 0 and 500, then IMP
    (reset and rewind to k = 500) for four rounds of 50% (output layer 25%), 3 trials, T = 3,000,
    validation every 100 iterations for the early stops."""
    return instability.InstabilityConfig(
        network="conv2", profile="standard", trials=3, iterations=3000, ks=(0, 500),
        width=0.25, lr=lr, optimizer="sgd", momentum=0.9, train_subset=None, eval_size=2000,
        imp_rounds=4, imp_rates=(0.5, 0.25), rewind_iteration=500, imp_eval_every=100)


def main(lr: float, imp: bool = False, trials: str | None = None) -> dict:
    """Run (or resume, or read) the probe at ``lr``; ``trials`` ("0-1"): only those trials,
    a part to merge with ``python -m lth_utils merge``."""
    cfg = imp_config(lr) if imp else probe_config(lr)
    part = results.parse_trials(trials, cfg.trials)
    out = results.part_path(results.results_dir() / (f"instability-probe-conv2-sgd-lr{lr:g}"
                                                     + ("-imp" if imp else "") + ".json"),
                            part, cfg.trials)
    record = instability.run_study(cfg, out, progress=False, trials=part)
    for row in record["paths"]:
        print(f"k = {row['k']:>4} · trial {row['trial']} · instability "
              f"{100 * row['instability']:.2f} pp · end errors "
              f"{100 * row['errors'][0]:.1f}% / {100 * row['errors'][-1]:.1f}%")
    print(f"{record['wall_time_s'] / 60:.1f} min of compute · {record['device']}")
    return record


if __name__ == "__main__":
    import argparse
    cli = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cli.add_argument("lr", type=float, help="SGD's learning rate, e.g. 0.05")
    cli.add_argument("--imp", action="store_true", help="the ticket part (IMP reset/rewind)")
    cli.add_argument("--trials", default=None, help="only these trials, e.g. 0-1 (a part)")
    args = cli.parse_args()
    main(args.lr, args.imp, args.trials)
