"""One study engine: a study is a config, a list of units, a step per unit and a record.

Every experiment of the book (the lottery studies, instability, supermasks, pruning at
initialisation, transfer, chapter 12's comparison and the horizon probes) is a :class:`Study`
and runs through :func:`run`, which owns everything the experiments share:

- the cache: a complete record at ``out`` computed with the same config (and trials) is
  returned as it is; another config is recomputed;
- the checks before any work: the output is a record path that may be written
  (:func:`results.check_output`), a part does not overwrite other trials, and the study's own
  :meth:`Study.check` of its config;
- one writer: a lock beside the record (:func:`results.writer_lock`);
- resuming: a checkpoint ``NAME.ckpt.pt`` (tensors and plain data, read with
  ``weights_only=True``, written atomically, the one before it kept as a fallback, an
  unreadable one moved aside) after every unit, so a killed run redoes at most one unit;
- the record: its kind, schema, config and cache key, code version, devices, precision,
  wall time and, for a part, its trials; the study adds its own fields (:meth:`Study.body`).
  A study with :attr:`Study.partial` also writes the record so far after every unit.

A study splits into parts by trials (``trials``); each study's ``merge`` joins the parts into
the record one run writes.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from . import results


class Study:
    """One study's side of the contract. Subclasses set :attr:`kind` and implement
    :meth:`units`, :meth:`step` and :meth:`body`; the rest has defaults.

    ``config``: the config's dict, which is also the cache key; ``trials``: the trial indices
    this run computes (default all ``n_trials``).
    """
    kind: str = ""                 # a key of results.KINDS
    precision: str | None = "fp32"
    partial: bool = False          # also write the record so far (complete: false) after
                                   # every unit, for a reader watching a long run

    def __init__(self, config: dict, n_trials: int = 1, trials: list[int] | None = None):
        self.config = config
        self.n_trials = n_trials
        self.trials = results.trial_list(trials, n_trials)

    @property
    def every(self) -> list[int]:
        return list(range(self.n_trials))

    def held(self, record: dict) -> list[int] | None:
        """The trials a record holds (None: all of its config's)."""
        return results.held_trials(record)

    def check(self) -> None:
        """Refuse, before any training, what this config cannot compute (``ValueError``)."""

    def start(self) -> dict[str, Any]:
        """The study's own fields of a fresh state (tensors and plain data only)."""
        return {}

    def prepare(self, state: dict) -> None:
        """Load what the steps need (data, templates); called once a run, before the first
        step, also when resuming."""

    def device(self) -> str:
        """The device the steps run on, as the record says it."""
        from . import device_name
        return device_name()

    def units(self) -> list[str]:
        """The units in the order they run; each name is unique."""
        raise NotImplementedError

    def step(self, unit: str, state: dict) -> None:
        """Compute ``unit``, writing what it found into ``state``."""
        raise NotImplementedError

    def body(self, state: dict) -> dict:
        """The record's own fields, from a state with every unit done."""
        raise NotImplementedError


def cached(study: Study, out: str | Path, verbose: bool = True) -> dict | None:
    """The complete record at ``out`` for this study's config and trials, else ``None``."""
    record = results.load_cached(out, study.config, verbose=verbose)
    if record is not None and (study.held(record) or study.every) == study.trials:
        return record
    return None


def run(study: Study, out: str | Path, log=print, verbose: bool = True) -> dict:
    """The record of ``study`` at ``out``: read if computed with this config and trials, else
    computed (or resumed from its checkpoint) unit by unit and saved."""
    out = Path(out)
    kind = results.KINDS[study.kind]
    results.check_output(out, kind)
    found = cached(study, out, verbose)
    if found is not None:
        return found
    results.check_part(out, study.config, study.trials, study.held)
    study.check()
    with results.writer_lock(out):
        return _compute(study, out, kind, log)


def _compute(study: Study, out: Path, kind: str, log) -> dict:
    # the code that computes: read before the first unit, not when the record is written (a
    # long run outlives edits and commits made while it trains)
    version = results.code_version()
    ckpt = results.checkpoint_path(out)
    units = study.units()
    state = results.load_checkpoint(ckpt, study.config, log, study.trials)
    if state is None:
        state = {"config": study.config, "trials": study.trials, "done": [],
                 "devices": [], "wall_time_s": 0.0, **study.start()}
    else:
        log(f"resuming {out.name} after {len(state['done'])} unit(s) of {len(units)}")
    study.prepare(state)
    here = study.device()
    if here not in state["devices"]:
        state["devices"].append(here)
    for unit in units:
        if unit in state["done"]:
            continue
        started = time.time()
        study.step(unit, state)
        state["done"].append(unit)
        state["wall_time_s"] += time.time() - started
        results.save_checkpoint(ckpt, state)
        if study.partial and len(state["done"]) < len(units):
            _save(study, kind, state, out, version, complete=False)
        log(f"{out.name}: {unit} done ({len(state['done'])}/{len(units)}; "
            f"{state['wall_time_s'] / 60:.1f} min so far)")
    record = _save(study, kind, state, out, version, complete=True)
    results.remove_checkpoint(ckpt)
    return record


def _save(study: Study, kind: str, state: dict, out: Path, version: dict,
          complete: bool) -> dict:
    record = {"schema": results.SCHEMA, "kind": kind, "config": study.config,
              "config_key": results.config_key(study.config),
              "code_version": version, "device": " + ".join(state["devices"]),
              "precision": study.precision, "complete": complete,
              "wall_time_s": round(state["wall_time_s"], 1)}
    if study.trials != study.every:
        record["trials"] = study.trials
    record.update(study.body(state))
    results.save_record(record, out)
    return record
