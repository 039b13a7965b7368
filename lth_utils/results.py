"""Experiment records: JSON files with their config, code version and a schema version.

A record is only reused for the exact config it was computed with: :func:`load_cached` returns
``None`` (and says why) when the config differs, so the caller recomputes. Writes are atomic
(write a temporary file, then rename), so a crash never leaves half a record behind.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

SCHEMA = 1
KIND = "lth-study"
PACKAGE = Path(__file__).resolve().parent


def results_dir() -> Path:
    """Where committed records live: ``$LTH_RESULTS_DIR``, else the data root's ``results/``."""
    if os.environ.get("LTH_RESULTS_DIR"):
        return Path(os.environ["LTH_RESULTS_DIR"])
    from .data import default_root
    return default_root() / "results"


def config_key(config: dict) -> str:
    """A short hash that changes whenever any value of ``config`` changes."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def code_version() -> dict[str, Any]:
    """The package version, the git commit (if in a checkout) and a hash of lth_utils' sources."""
    from . import __version__
    src = hashlib.sha256()
    for f in sorted(PACKAGE.glob("*.py")):
        src.update(f.name.encode() + f.read_bytes())
    commit = None
    try:
        out = subprocess.run(["git", "-C", str(PACKAGE), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5)
        commit = out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return {"lth_utils": __version__, "git": commit, "source_sha256": src.hexdigest()[:16]}


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never a mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)   # mkstemp makes it private; a record is for every reader
    os.replace(tmp, path)


def save_record(record: dict, path: str | Path) -> None:
    """Write a study record as JSON, atomically."""
    atomic_write_text(path, json.dumps(record, indent=1))


def load_record(path: str | Path) -> dict:
    """Read and validate a record; raise ``ValueError`` with the fix if it is corrupt or foreign."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is corrupt (not valid JSON: {err}); delete it and rerun the "
                         f"study to recompute it") from err
    if not isinstance(record, dict) or record.get("kind") != KIND:
        raise ValueError(f"{path} is not an lth_utils study record; point to a file written by "
                         f"`python -m lth_utils study`")
    if record.get("schema") != SCHEMA:
        raise ValueError(f"{path} has schema {record.get('schema')!r} but this lth_utils reads "
                         f"schema {SCHEMA}: recompute it with `python -m lth_utils study "
                         f"{record.get('config', {}).get('name', 'NAME')}` (or update lth_utils)")
    return record


def load_cached(path: str | Path, config: dict, verbose: bool = True) -> dict | None:
    """The complete record at ``path`` if it was computed with exactly ``config``, else ``None``."""
    path = Path(path)
    if not path.exists():
        return None
    record = load_record(path)
    if record.get("config") != config:
        if verbose:
            old = record.get("config", {})
            changed = sorted(k for k in set(old) | set(config)
                             if k not in old or k not in config or old[k] != config[k])
            print(f"{path.name}: config changed ({', '.join(changed)}): recomputing")
        return None
    if not record.get("complete"):
        return None
    return record


def merge(records: list[dict]) -> dict:
    """One record from the parts of a study split by trials (``python -m lth_utils study NAME
    --trials 0-1``, ``--trials 2-4``, ...): what one run of all the trials would have written.

    The parts must be complete, have the same config, and together hold every trial exactly once.
    Curves are put back in trial order; the wall time is the sum of the parts'.
    """
    if not records:
        raise ValueError("merge needs at least one record")
    config = records[0]["config"]
    for r in records:
        if r.get("config") != config:
            old = r.get("config", {})
            changed = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
            raise ValueError(f"cannot merge parts of different studies: their configs differ in "
                             f"{', '.join(changed)}; rerun the odd part with the same config")
        if not r.get("complete"):
            raise ValueError(f"a part (trials {r.get('trials')}) is not complete: resume it "
                             f"(rerun the same command) before merging")
    every = list(range(config["trials"]))
    parts = [r.get("trials", every) for r in records]
    owner = {t: i for i, ts in enumerate(parts) for t in ts}
    flat = sorted(t for ts in parts for t in ts)
    if flat != every:
        dup = sorted({t for t in flat if flat.count(t) > 1})
        raise ValueError(f"the parts must hold trials 0-{len(every) - 1} exactly once: "
                         + (f"trials {dup} appear twice" if dup else
                            f"missing {sorted(set(every) - set(flat))}"))

    def member(entries_of_part: list[dict], arm: str, t: int) -> dict:
        i = owner[t]
        return entries_of_part[i]["arms"][arm][parts[i].index(t)]

    merged = {k: v for k, v in records[0].items() if k not in ("rounds", "oneshot")}
    merged.update(trials=every, wall_time_s=round(sum(r["wall_time_s"] for r in records), 1),
                  device=" + ".join(dict.fromkeys(r.get("device", "?") for r in records)),
                  merged_from=[{"trials": p, "code_version": r["code_version"],
                                "wall_time_s": r["wall_time_s"]} for p, r in zip(parts, records)])
    for key in ("rounds", "oneshot"):
        merged[key] = []
        for j, entry in enumerate(records[0][key]):
            per_part = [r[key][j] for r in records]
            arms = {arm: [member(per_part, arm, t) for t in every] for arm in entry["arms"]}
            merged[key].append({**entry, "arms": arms})
    return merged
