"""Past one machine: a study's trials as tasks on a Dask distributed cluster.

Every study of :mod:`lth_utils.studies` splits by trials into parts that merge, bit for bit,
into the record one run writes. This module hands the parts to Dask (``distributed``): each
part is one task that runs on a worker (a GPU, a node of a university cluster, or a process of
a local cluster), writes its part record beside the final one, and returns it; the client
merges the parts and writes the record. Dask does the scheduling; nothing here is a scheduler.

    python -m lth_utils study lenet-mnist --profile standard --scheduler local --parts 2
    python -m lth_utils study lenet-mnist --scheduler tcp://10.0.0.5:8786 --parts 5

A killed task resumes from its part's checkpoint when the same command runs again (each part
is an ordinary resumable run). Workers need lth_utils and the datasets; part records go to the
paths the client names, so give workers a shared folder (or the same checkout) for them.
"""
from __future__ import annotations

from pathlib import Path

from . import results


def split(trials: list[int], parts: int) -> list[list[int]]:
    """``trials`` in ``parts`` contiguous chunks of nearly equal size (no empty chunk)."""
    if parts < 1:
        raise ValueError(f"--parts must be at least 1, got {parts}")
    parts = min(parts, len(trials))
    size, extra = divmod(len(trials), parts)
    out, start = [], 0
    for i in range(parts):
        end = start + size + (i < extra)
        out.append(trials[start:end])
        start = end
    return out


def _run_part(name: str, cfg, trials: list[int], out: str) -> dict:
    """One task: run the part ``trials`` of study ``name`` into ``out`` (on a worker)."""
    from .studies import STUDIES
    return STUDIES[name].run(cfg, out, trials, False)


def client_for(scheduler: str, workers: int):
    """A Dask client: ``"local"`` starts a local cluster of ``workers`` processes, one thread
    each; anything else is a scheduler's address (``tcp://HOST:8786``)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:
        raise RuntimeError("--scheduler needs Dask's distributed package: "
                           "pip install distributed") from err
    if scheduler == "local":
        return Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None))
    try:
        return Client(scheduler, timeout="20s")
    except OSError as err:
        raise RuntimeError(f"no Dask scheduler answers at {scheduler!r} ({err}); start one "
                           f"(dask scheduler) or use --scheduler local") from err


def run_on_dask(study, cfg, out: str | Path, parts: int, scheduler: str = "local") -> dict:
    """Run ``study`` (an :class:`lth_utils.studies.Entry`) at ``cfg`` as ``parts`` tasks on a
    Dask cluster and write the merged record to ``out``; return it. Parts already complete
    (a rerun after a failure) are read back, not recomputed."""
    n = study.trials(cfg)
    if n is None:
        raise ValueError(f"{study.name} has no trials to spread over a cluster")
    out = results.check_output(out)
    chunks = split(list(range(n)), parts)
    paths = [results.part_path(out, c, n) if len(chunks) > 1 else out for c in chunks]
    client = client_for(scheduler, len(chunks))
    try:
        futures = [client.submit(_run_part, study.name, cfg, c, str(p), pure=False)
                   for c, p in zip(chunks, paths)]
        records = client.gather(futures)
    finally:
        cluster = getattr(client, "cluster", None)
        client.close()
        if cluster is not None:
            cluster.close()
    if len(records) == 1:
        return records[0]
    merged = study.merge(records)
    results.save_record(merged, out)
    return merged
