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
            changed = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
            print(f"{path.name}: config changed ({', '.join(changed)}): recomputing")
        return None
    if not record.get("complete"):
        return None
    return record
