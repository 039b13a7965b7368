"""Every study of the book by name: what the command line runs, splits and merges.

Each experiment module keeps its own config (with its profile sizes), units and readers; this
table only says, per study, how to make its config for a profile, run it (all trials, or a
part of them), where its record goes and how parts are merged. ``python -m lth_utils study
--help`` lists it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from . import (horizon, instability, lottery, prune_at_init, results, structured, supermasks,
               transfer)


@dataclass(frozen=True)
class Entry:
    """One study's line in the command line's table (the study itself is an
    :class:`lth_utils.engine.Study` in its own module): ``config(profile)``, ``run(cfg, out, trials, progress)`` -> record,
    ``path(cfg, trials)`` -> default record path, ``merge(parts)`` -> record (None: the study
    has no trials to split), ``owns(config)``: whether a record's config is this study's;
    ``kind``: the kind its records carry (older records say ``results.KIND``)."""
    name: str
    chapter: int
    about: str
    config: Callable[[str], Any]
    run: Callable[..., dict]
    path: Callable[[Any, list[int] | None], Path]
    merge: Callable[[list[dict]], dict] | None
    owns: Callable[[dict], bool]
    kind: str = results.KIND

    def trials(self, cfg: Any) -> int | None:
        """How many trials ``cfg`` has (None: one run, no trials to split)."""
        return getattr(cfg, "trials", None) if self.merge else None


def _lottery(name: str, chapter: int, about: str) -> Entry:
    return Entry(
        name, chapter, about,
        config=lambda p: lottery.study_config(name, p),
        run=lambda cfg, out, trials, progress: lottery.run_study(cfg, out, progress,
                                                                 trials=trials),
        path=lottery.record_path, merge=lottery.merge,
        owns=lambda c: c.get("name") == name, kind=results.KINDS["lottery"])


def _instability(network: str) -> Entry:
    return Entry(
        f"instability-{network}", 8,
        f"linear-mode connectivity and rewinding, {network}",
        config=lambda p: instability.study_config(network, p),
        run=lambda cfg, out, trials, progress: instability.run_study(cfg, out, progress,
                                                                     trials=trials),
        path=lambda cfg, trials: results.part_path(instability.record_path(cfg), trials,
                                                   cfg.trials),
        merge=instability.merge,
        owns=lambda c: c.get("network") == network and "ks" in c,
        kind=results.KINDS["instability"])


def _horizon(name: str, chapter: int, about: str) -> Entry:
    return Entry(
        f"horizon-{name}", chapter, about,
        config=lambda p: horizon.config(name, p),
        run=lambda cfg, out, trials, progress: horizon.run_probe(name, cfg, out, progress),
        path=lambda cfg, trials: horizon.record_path(name, cfg), merge=None,
        owns=lambda c: c == horizon.config(name, "quick") or c == horizon.config(name,
                                                                                "standard"),
        kind=results.KINDS["horizon"])


def _ch12_run(cfg: dict, out, trials, progress) -> dict:
    if out is not None:
        raise ValueError("ch12-lenet writes its record (and its compressed file) to "
                         "data/results: leave out --out (set LTH_RESULTS_DIR to move it)")
    return structured.run_study(cfg)


STUDIES: dict[str, Entry] = {s.name: s for s in [
    _lottery("lenet-mnist", 5, "IMP on LeNet-300-100, MNIST: tickets and controls"),
    _horizon("lenet-mnist", 5, "how long LeNet must train: where each arm stops improving"),
    _lottery("lenet-fashion-mnist", 5, "IMP on LeNet-300-100, Fashion-MNIST"),
    _lottery("conv2-cifar10", 7, "IMP on Conv-2, CIFAR-10"),
    _horizon("conv2-cifar10", 7, "how long Conv-2's sparsest controls must train"),
    _lottery("conv4-cifar10", 7, "IMP on Conv-4, CIFAR-10"),
    _horizon("conv4-cifar10", 7, "how long Conv-4's sparsest controls must train"),
    _lottery("conv6-cifar10", 7, "IMP on Conv-6, CIFAR-10"),
    _horizon("conv6-cifar10", 7, "how long Conv-6's sparsest controls must train"),
    _instability("lenet"),
    _instability("conv2"),
    Entry("supermasks-lenet-mnist", 9, "masks that work untrained; edge-popup",
          config=supermasks.study_config,
          run=lambda cfg, out, trials, progress: supermasks.run_study(cfg, out,
                                                                      trials=trials),
          path=supermasks.record_path, merge=supermasks.merge,
          owns=lambda c: "keeps" in c and "popup_keeps" in c,
          kind=results.KINDS["supermasks"]),
    Entry("prune-at-init", 10, "SNIP, GraSP, SynFlow, magnitude and random at init",
          config=prune_at_init.study_config,
          run=lambda cfg, out, trials, progress: prune_at_init.run_study(
              cfg, progress=progress, out=out, trials=trials),
          path=prune_at_init.record_path, merge=prune_at_init.merge,
          owns=lambda c: c.get("name") == "prune-at-init",
          kind=results.KINDS["prune-at-init"]),
    _horizon("prune-at-init", 10, "how long chapter 10's sparse networks must train"),
    Entry("transfer-lenet", 11, "tickets moved between MNIST and Fashion-MNIST",
          config=transfer.transfer_config,
          run=lambda cfg, out, trials, progress: transfer.run_transfer(cfg, out, progress,
                                                                       trials=trials),
          path=transfer.record_path, merge=transfer.merge,
          owns=lambda c: c.get("name") == "transfer-lenet",
          kind=results.KINDS["transfer"]),
    Entry("ch12-lenet", 12, "structured vs unstructured pruning; the compressed file",
          config=structured.study_config, run=_ch12_run,
          path=lambda cfg, trials: structured.record_path(cfg["name"]), merge=None,
          owns=lambda c: str(c.get("name", "")).startswith("ch12-lenet"),
          kind=results.KINDS["chapter12"]),
]}


def owner(record: dict) -> Entry:
    """The study a record belongs to (by its kind and config), or ``ValueError``."""
    found = [s for s in STUDIES.values() if s.owns(record.get("config", {}))
             and record.get("kind") in (results.KIND, s.kind)]
    if len(found) != 1:
        raise ValueError("this record's config matches no study of `python -m lth_utils "
                         "study --help`; merge only parts written by that command")
    return found[0]


def merge(records: list[dict]) -> dict:
    """Merge the parts of one study split by trials with that study's own merge."""
    if not records:
        raise ValueError("merge needs at least one record")
    if not all(isinstance(r, dict) for r in records):
        raise TypeError("merge takes the parts' records (dicts), not their paths: read each "
                        "with results.load_record(path)")
    studies = {owner(r).name for r in records}
    if len(studies) != 1:
        raise ValueError(f"cannot merge parts of different studies: {', '.join(sorted(studies))}")
    study = STUDIES[studies.pop()]
    if study.merge is None:
        raise ValueError(f"{study.name} has no trials to merge")
    try:
        return study.merge(records)
    except (KeyError, IndexError, TypeError) as err:   # a part lacks what its study writes
        raise ValueError(f"a part of {study.name} is not a record this lth_utils can merge "
                         f"({type(err).__name__}: {err}; missing or broken fields): recompute "
                         f"that part with `python -m lth_utils study {study.name} --trials ...`"
                         ) from err


def listing() -> str:
    """The studies as the command line's help prints them: name, chapter, what it is."""
    return "\n".join(f"  {s.name:<24} ch. {s.chapter:<3} {s.about}" for s in STUDIES.values())
