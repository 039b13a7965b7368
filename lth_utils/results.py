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
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

SCHEMA = 1
KIND = "lth-study"       # records written before each study had a kind of its own
# each study's own kind, written into its records (a record's kind says which reader it needs)
KINDS = {"lottery": "lth-lottery", "instability": "lth-instability",
         "supermasks": "lth-supermasks", "prune-at-init": "lth-prune-at-init",
         "transfer": "lth-transfer", "chapter12": "lth-chapter12", "horizon": "lth-horizon"}
STUDY_KINDS = {KIND, *KINDS.values()}
PACKAGE = Path(__file__).resolve().parent


def results_dir() -> Path:
    """Where the book's experiment records are read and written (created if missing).

    ``$LTH_RESULTS_DIR`` if set; else, in a checkout of the book, its ``data/results/`` (the
    committed records); else (the package installed, as in Colab) ``./data/results``, seeded on
    first use with the records the package ships (see :func:`shipped_records`). ``$LTH_DATA_DIR``
    moves the datasets only, never the records.
    """
    if os.environ.get("LTH_RESULTS_DIR"):
        folder = Path(os.environ["LTH_RESULTS_DIR"])
    elif (PACKAGE.parent / "_toc.yml").exists():
        folder = PACKAGE.parent / "data" / "results"
    else:
        folder = Path.cwd() / "data" / "results"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(f"cannot create the results folder {folder} ({err.strerror}): set "
                      f"LTH_RESULTS_DIR to a folder you can write") from err
    seed_records(folder)
    return folder


def shipped_records() -> Path | None:
    """The folder of the records the package ships (``lth_utils.book_records``: the repository's
    ``data/results/`` at the installed version), or ``None`` if this install has none."""
    folder = PACKAGE / "book_records"   # pyproject.toml maps data/results/ there in a wheel
    return folder if folder.is_dir() else None


def seed_records(folder: Path) -> list[str]:
    """Copy into ``folder`` every shipped record it does not have yet (never overwriting one: a
    record computed here wins). Returns the names copied. Each is still checked against the
    config a chapter asks for (:func:`load_cached`) before it is used."""
    source = shipped_records()
    if source is None or source.resolve() == folder.resolve():
        return []
    copied = []
    for f in sorted(source.iterdir()):
        if f.suffix in (".json", ".lthc") and not (folder / f.name).exists():
            atomic_write_bytes(folder / f.name, f.read_bytes())
            copied.append(f.name)
    return copied


def config_dict(config: object) -> dict:
    """A dataclass config as a record stores it: tuples as lists, and the fields in the
    config's ``OPTIONAL`` (name -> default; fields added after records were written) only when
    they differ from their default, so that older records keep their cache keys."""
    optional = getattr(config, "OPTIONAL", {})
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()
            if not (k in optional and v == optional[k])}


def check_counts(config: object, *names: str, minimum: int = 1, optional: bool = False) -> None:
    """Fail early, with the field's name, if any of ``names`` of ``config`` is not a whole
    number >= ``minimum`` (trials, iterations, batches, ...); ``optional``: None is allowed too
    (``train_subset=None``: all the images)."""
    for name in names:
        value = getattr(config, name)
        if optional and value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"{name} must be a whole number >= {minimum}"
                             + (" or None" if optional else "") + f", got {value!r}")


def check_positive(config: object, *names: str) -> None:
    """Fail early if any of ``names`` of ``config`` is not a number > 0 (learning rates)."""
    for name in names:
        value = getattr(config, name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
            raise ValueError(f"{name} must be a number > 0, got {value!r}")


def check_sequences(config: object, *names: str) -> None:
    """Fail early if any of ``names`` of ``config`` is not a tuple or list (a string or a
    single number would otherwise be read item by item)."""
    for name in names:
        value = getattr(config, name)
        if not isinstance(value, (tuple, list)):
            raise ValueError(f"{name} must be a tuple, e.g. {name}=(1, 2), got {value!r}")


def checked_config(cfg: object, kind: type, maker: str) -> object:
    """``cfg`` checked again before a study runs (a dataclass may have been changed after it
    was made): a new ``kind`` with the same fields, so that its ``__post_init__`` runs.
    ``maker`` names the function that makes one (for the message when ``cfg`` is not one)."""
    if not isinstance(cfg, kind):
        raise TypeError(f"expected a {kind.__name__} (make one with {maker}), got "
                        f"{type(cfg).__name__} {cfg!r:.60}")
    return replace(cfg)


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


def device_label(record: dict) -> str:
    """Where a record ran, as it says it ("?" if it does not); older records wrote
    "cpu (1 threads)", read as "cpu (1 thread)"."""
    return record.get("device", "?").replace("(1 threads)", "(1 thread)")


def provenance_parts(record: dict) -> dict[str, str]:
    """The parts every figure's provenance line shares: ``trials`` ("3 trials"), ``code``
    ("lth_utils 0.1.0 @ abc1234 (src 1234abcd)"), ``compute`` ("12.5 min of compute") and
    ``device`` (:func:`device_label`)."""
    n, v = record["config"]["trials"], record.get("code_version", {})
    code = f"lth_utils {v.get('lth_utils', '?')} @ {v.get('git') or '?'}"
    if v.get("source_sha256"):
        code += f" (src {v['source_sha256'][:8]})"
    return {"trials": f"{n} trial{'' if n == 1 else 's'}", "code": code,
            "compute": f"{record.get('wall_time_s', 0) / 60:.1f} min of compute",
            "device": device_label(record)}


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a mix.

    A full disk or a folder without write permission raises ``OSError`` saying so and what to
    do; the file at ``path`` is then unchanged."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)   # mkstemp makes it private; a record is for every reader
        os.replace(tmp, path)
    except OSError as err:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        why = {28: "no space left on the device", 13: "no permission to write there",
               30: "the file system is read-only",
               17: "a file stands where one of its folders should be",
               20: "a file stands where one of its folders should be"}.get(
            err.errno, err.strerror or str(err))
        raise OSError(err.errno, f"cannot write {path}: {why}; free space or choose a "
                                 f"writable folder (--out, or LTH_RESULTS_DIR), then rerun: "
                                 f"finished stages are kept") from err


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode())


# ----------------------------------------------------------------------------- checkpoints
# One format for every study: ``NAME.ckpt.pt`` beside the record, a dict of tensors and plain
# data written with torch.save and read with ``weights_only=True`` (no object is unpickled),
# written atomically, the one before it kept as ``NAME.ckpt.prev.pt``.

def checkpoint_path(record: str | Path) -> Path:
    """Where the checkpoint of the record at ``record`` lives: ``NAME.ckpt.pt``."""
    return Path(record).with_suffix(".ckpt.pt")


def _previous(ckpt: Path) -> Path:
    return ckpt.with_suffix(".prev.pt")


def save_checkpoint(ckpt: str | Path, state: dict) -> None:
    """Write ``state`` (tensors, numbers, strings, lists, dicts) to ``ckpt`` atomically,
    keeping the checkpoint it replaces as the fallback (``.prev.pt``)."""
    import io

    import torch
    ckpt = Path(ckpt)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    if ckpt.exists():
        os.replace(ckpt, _previous(ckpt))
    atomic_write_bytes(ckpt, buffer.getvalue())


def load_checkpoint(ckpt: str | Path, config: dict, log=print,
                    trials: list[int] | None = None) -> dict | None:
    """The newest readable checkpoint of ``config`` (and of ``trials``, when the state says
    which it holds): ``ckpt``, else the one before it; ``None`` if neither. An unreadable one
    (truncated, corrupt, or holding objects that would need unpickling) is moved aside to
    ``.corrupt`` and said so."""
    import torch
    ckpt = Path(ckpt)
    for candidate in (ckpt, _previous(ckpt)):
        if not candidate.exists():
            continue
        try:
            state = torch.load(candidate, map_location="cpu", weights_only=True)
        except Exception as err:  # truncated or corrupt: torch's zip reader, EOF, unpickling
            log(f"{candidate.name} is unreadable ({type(err).__name__}: {str(err)[:80]}); "
                f"moved aside to {candidate.name}.corrupt")
            os.replace(candidate, candidate.with_name(candidate.name + ".corrupt"))
            continue
        if not isinstance(state, dict) or state.get("config") != config:
            log(f"{candidate.name}: checkpoint of another config; not used")
            continue
        if trials is not None and state.get("trials", trials) != trials:
            log(f"{candidate.name}: checkpoint of trials {state.get('trials')}, not {trials}; "
                f"not used")
            continue
        return state
    return None


def remove_checkpoint(ckpt: str | Path) -> None:
    """Delete a finished study's checkpoint and its fallback."""
    Path(ckpt).unlink(missing_ok=True)
    _previous(Path(ckpt)).unlink(missing_ok=True)


def check_output(path: str | Path, kind: str | None = None) -> Path:
    """Refuse, before any training, an output that could not hold a record or would destroy
    another file: ``path`` must end in ``.json``, be a study record if it exists (of ``kind``,
    when both say theirs), and its folder must exist (a mistyped folder is not created) and
    accept a write. Raises ``ValueError``/``OSError`` saying what to do."""
    path = Path(path)
    if path.suffix != ".json":
        raise ValueError(f"--out {path}: a record is a .json file; choose a path ending in .json")
    if path.is_dir():
        raise ValueError(f"--out {path} is a folder: choose a record file inside it, e.g. "
                         f"{path / 'study.json'}")
    if not path.parent.exists():     # (a file in its place: the write probe says so)
        raise FileNotFoundError(f"cannot write the record to {path}: the folder {path.parent} "
                                f"does not exist; create it (mkdir -p {path.parent}) or pick "
                                f"another --out")
    if path.exists():
        try:
            held = load_record(path)
        except ValueError as err:
            raise ValueError(f"--out {path} exists and is not a study record: refusing to "
                             f"overwrite it; choose another path ({err})") from err
        if kind is not None and held["kind"] not in (KIND, kind):
            raise ValueError(f"--out {path} holds a {held['kind']} record, not a {kind} one: "
                             f"refusing to overwrite another study's record; choose another "
                             f"path")
    atomic_write_bytes(path.with_name(path.name + ".probe"), b"")   # writable, not full
    path.with_name(path.name + ".probe").unlink()
    return path


class writer_lock:
    """Hold ``path + '.lock'`` while one process writes the record ``path``: a second process
    writing the same record stops at once with a message (``fcntl`` locks; released when the
    process ends, even when killed)."""

    def __init__(self, path: str | Path):
        self.path = Path(str(path) + ".lock")
        self.handle = None

    def __enter__(self) -> "writer_lock":
        import fcntl
        self.handle = open(self.path, "w")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.close()
            raise RuntimeError(f"another process is writing {self.path.with_suffix('')} (it "
                               f"holds {self.path.name}): wait for it, or give this run its own "
                               f"--out") from None
        return self

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)
        self.handle.close()


def save_record(record: dict, path: str | Path) -> None:
    """Write a study record as JSON, atomically."""
    atomic_write_text(path, json.dumps(record, indent=1))


def load_record(path: str | Path) -> dict:
    """Read and validate a record; raise ``ValueError`` with the fix if it is corrupt or foreign."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a record: give the path of a .json record "
                         f"file in it")
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is corrupt (not valid JSON: {err}); delete it and rerun the "
                         f"study to recompute it") from err
    if not isinstance(record, dict) or record.get("kind") not in STUDY_KINDS:
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


def parse_trials(spec: str | None, n: int) -> list[int]:
    """Trial indices from "0-1", "2-4", "3" or "0,2" (``None``: all ``n``), checked against ``n``."""
    if spec is None:
        return list(range(n))
    out: list[int] = []
    try:
        for part in str(spec).split(","):
            lo, _, hi = part.partition("-")
            out += range(int(lo), int(hi or lo) + 1)
    except ValueError:
        raise ValueError(f"--trials {spec!r}: write trial numbers like 0-1, 2-4 or 0,3") from None
    if not out or sorted(set(out)) != out or out[0] < 0 or out[-1] >= n:
        raise ValueError(f"--trials {spec!r}: need increasing trial numbers in 0-{n - 1} "
                         f"(this study has {n} trials)")
    return out


def trial_list(trials, n: int) -> list[int]:
    """The trial indices a run computes: all ``n`` when ``trials`` is None, else ``trials``
    checked like ``--trials`` (increasing, in 0..n-1)."""
    if trials is None:
        return list(range(n))
    trials = list(trials)
    parse_trials(",".join(map(str, trials)), n)
    return trials


def held_trials(record: dict) -> list[int] | None:
    """The trial indices a record holds: its ``"trials"`` (None: all of its config's)."""
    return record.get("trials")


def variant_path(path: str | Path, config: object, book_config: object | None) -> Path:
    """``path`` when ``config`` is the book's own (``book_config``, what the study's
    ``study_config`` gives at that profile); for any other config, the same name with
    ``.variant-KEY`` (8 characters of :func:`config_key`) before ``.json``. A study run with
    changed settings (an exercise's dropout, a learning rate) so never replaces the book's
    record, which a chapter would then have to retrain, and each variant keeps its own cache.
    ``path`` too when the book has no such study (``book_config`` None) or the config has a
    ``name`` of its own, which already gives it its own file."""
    path = Path(path)
    if book_config is None or getattr(config, "name", None) != getattr(book_config, "name", None):
        return path
    mine = config_dict(config)
    if mine == config_dict(book_config):
        return path
    return path.with_name(f"{path.stem}.variant-{config_key(mine)[:8]}{path.suffix}")


def part_path(path: str | Path, trials: list[int] | None, n: int) -> Path:
    """``path``, or for a part of a study's ``n`` trials the same name with ``.trials-A-B``
    (or ``.trials-0_2``) before ``.json``, so that the parts of one study never share a file."""
    path = Path(path)
    if trials is None or list(trials) == list(range(n)):
        return path
    contiguous = list(trials) == list(range(trials[0], trials[-1] + 1))
    tag = (f".trials-{trials[0]}-{trials[-1]}" if contiguous
           else ".trials-" + "_".join(str(t) for t in trials))
    return path.with_name(path.stem + tag + path.suffix)


def _which(config: dict) -> str:
    """A config's study and profile in words: "lenet-mnist at profile standard"."""
    name = config.get("name") or config.get("network") or "?"
    return f"{name} at profile {config['profile']}" if "profile" in config else str(name)


def check_part(path: Path, config: dict, trials: list[int], held) -> None:
    """Refuse to overwrite the record of another study or profile (its config's ``name``,
    ``network`` or ``profile`` differ; a record of the same study with another config is
    recomputed), and to write a part of a study into a record of the same study that holds
    other trials (``held(record)``: the trial indices a record holds)."""
    if not path.exists():
        return
    record = load_record(path)
    old = record.get("config", {})
    if any(k in old and k in config and old[k] != config[k]
           for k in ("name", "network", "profile")):
        raise ValueError(f"--out {path} holds the record of {_which(old)}, not "
                         f"{_which(config)}: refusing to overwrite it; choose another --out "
                         f"(or leave --out out: each study and profile has its own record)")
    if record.get("config") == config and held(record) not in (None, trials):
        raise ValueError(f"{path} holds trials {held(record)} of this study, not {trials}: "
                         f"give each part its own --out (the default names do), then merge "
                         f"the parts with `python -m lth_utils merge`")


def check_parts(records: list[dict], held) -> tuple[list[int], list[list[int]]]:
    """Check that ``records`` are the complete parts of one study split by trials, holding
    every trial exactly once (``held(record)``: the trial indices a part holds; ``None``: all
    of its config's trials). Returns (every trial index, the indices each part holds).

    The parts' configs must be equal, except that a record of fewer trials may extend to more:
    a complete record of trials 0..n-1 merges with parts of the same study at N > n trials that
    hold trials n..N-1. This is sound because a trial's numbers depend on its index only (its
    seeds derive from it, and a member of a population computes what it computes alone)."""
    if not records:
        raise ValueError("merge needs at least one record")
    config = max((r.get("config", {}) for r in records), key=lambda c: c.get("trials") or 0)
    for r in records:
        old = r.get("config", {})
        changed = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
        whole = held(r) in (None, list(range(old.get("trials") or 0)))
        if changed and (changed != ["trials"] or not whole):
            raise ValueError(f"cannot merge parts of different studies: their configs differ in "
                             f"{', '.join(changed)}; rerun the odd part with the same config")
        if not r.get("complete"):
            raise ValueError(f"a part (trials {held(r)}) is not complete: resume it "
                             f"(rerun the same command) before merging")
    every = list(range(config["trials"]))
    parts = [held(r) or list(range(r["config"]["trials"])) for r in records]
    flat = sorted(t for ts in parts for t in ts)
    if flat != every:
        dup = sorted({t for t in flat if flat.count(t) > 1})
        raise ValueError(f"the parts must hold trials 0-{len(every) - 1} exactly once: "
                         + (f"trials {dup} appear twice" if dup else
                            f"missing {sorted(set(every) - set(flat))}"))
    return every, parts


def merged_header(records: list[dict], parts: list[list[int]], drop=()) -> dict:
    """The fields a merged record shares with its first part (less ``drop``), with the parts'
    wall times summed, their devices joined and each part's trials and code version kept."""
    merged = {k: v for k, v in records[0].items() if k not in drop}
    n = sum(len(p) for p in parts)
    if merged["config"].get("trials", n) != n:     # a record extended by more trials
        merged["config"] = {**merged["config"], "trials": n}
        merged["config_key"] = config_key(merged["config"])
    merged.update(wall_time_s=round(sum(r["wall_time_s"] for r in records), 1),
                  device=" + ".join(dict.fromkeys(r.get("device", "?") for r in records)),
                  merged_from=[{"trials": p, "code_version": r.get("code_version"),
                                "wall_time_s": r["wall_time_s"]}
                               for p, r in zip(parts, records)])
    return merged
