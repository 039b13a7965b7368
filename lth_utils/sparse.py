"""Does sparsity make it faster? Latency and storage of a pruned network (chapter 12).

Latency: a linear layer ``y = x W^T + b`` run four ways: ``"dense"`` (the zeros multiplied like
any number), ``"masked dense"`` (what ``torch.nn.utils.prune`` runs: ``W * mask`` rebuilt at
every call, then a dense matmul), ``"CSR"`` and ``"COO"`` (PyTorch sparse tensors times the
dense activations, ``torch.sparse.mm``). :func:`time_interleaved` times the formats of one point
*interleaved* (each repeat times every format once, in a rotating order) after a warm-up, under
``torch.inference_mode`` and a fixed number of threads, so that a burst of load from other
programs slows every format of the repeats it hits alike; :func:`summarize` reports per format
the median seconds and the median of the per-repeat ratios to dense, which stay right on a busy
machine where absolute times do not. :func:`network_breakdown` times a network and each of its
parts as the network runs it, to say where a network's time goes in each format;
:func:`flush_caches` (``cold=True``) times every call with the caches emptied first, as other
programs leave them on a busy machine; :func:`crossover_facts` gathers what explains a network
crossing over at another density than its largest layer.

Storage, after Han, Mao & Dally's Deep Compression: dense fp32; CSR with 32-bit column indices
and row pointers (2a + n + 1 numbers for a non-zeros and n rows); *relative indices* (each kept
weight stores its distance from the previous one in b bits; a gap longer than 2^b is bridged by
a *filler* entry of value zero, :func:`relative_encode`); and relative indices plus *weight
sharing* (each weight a q-bit code into a per-layer codebook of 2^q - 1 k-means centroids; code 0
is zero, for the fillers). :func:`save_compressed` writes that last format to a real file with
the codes bit-packed, and :func:`load_compressed` reads it back.
"""
from __future__ import annotations

import json
import os
import statistics
import struct
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .masks import Masks

FORMATS = ("dense", "masked dense", "CSR", "COO")
SCHEMES = ("dense fp32", "CSR, 32-bit indices", "relative indices", "relative + sharing")
MAGIC = b"LTHC1\n"


@contextmanager
def threads(n: int):
    """Run the block with ``torch.set_num_threads(n)``, then restore the previous setting."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def time_call(fn: Callable[[], object], repeats: int = 21, warmup: int = 3,
              min_block_s: float = 2e-4) -> float:
    """Median seconds per call of ``fn()``: ``warmup`` untimed calls, then ``repeats`` timed
    blocks of enough calls to last ``min_block_s`` (so the clock's resolution does not matter)."""
    return statistics.median(time_interleaved({"f": fn}, repeats, warmup, min_block_s)["f"])


def time_interleaved(fns: dict[str, Callable[[], object]], repeats: int = 21,
                     warmup: int = 3, min_block_s: float = 2e-4,
                     clock: Callable[[], float] = time.perf_counter,
                     before: Callable[[], object] | None = None
                     ) -> dict[str, list[float]]:
    """Seconds per call of every function in ``fns``, measured *interleaved*.

    After ``warmup`` untimed calls of each, repeat ``repeats`` times: time one block of each
    function, in an order rotated by one at every repeat (a, b, c; b, c, a; ...). A block is
    one untimed call (so that the function's data are back in the caches, whatever the blocks
    before it did to them), then enough timed calls to last ``min_block_s`` (so the clock's
    resolution does not matter). A burst of load from other programs then slows every function
    of the repeats it hits alike, and the ratio of two functions within one repeat stays right
    where their separate medians would not.

    ``before``, if given, is called untimed before every timed call instead (e.g.
    :func:`flush_caches`: each call then starts with cold caches), and each call is timed
    alone. Returns {name: [seconds per call in repeat 0, 1, ...]}, the lists aligned by
    repeat. ``clock`` is the timer (seconds); the tests pass a fake one.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}")
    names = list(fns)
    inner, samples = {}, {n: [] for n in names}
    with torch.inference_mode():
        for n in names:
            for _ in range(warmup):
                fns[n]()
            t = clock()
            fns[n]()
            inner[n] = 1 if before else max(1, int(min_block_s / max(clock() - t, 1e-9)))
        for r in range(repeats):
            for n in names[r % len(names):] + names[:r % len(names)]:
                f, k = fns[n], inner[n]
                (before or f)()
                t = clock()
                for _ in range(k):
                    f()
                samples[n].append((clock() - t) / k)
    return samples


def flush_caches(nbytes: int = 64 << 20) -> Callable[[], None]:
    """A function that writes ``nbytes`` of memory (default 64 MiB, more than most CPUs'
    last-level cache), evicting what the caches held: what other programs do to a program's
    data between two of its calls on a busy machine, or a server's between two requests. For
    :func:`time_interleaved`'s ``before``."""
    buf = torch.zeros(nbytes // 4)
    return lambda: buf.add_(1.0)


def summarize(samples: dict[str, list[float]], reference: str = "dense") -> dict[str, dict]:
    """Per name of :func:`time_interleaved`'s samples: ``{"seconds": median seconds per call,
    "ratio": median over the repeats of (this / reference) timed in the same repeat}``."""
    if reference not in samples:
        raise ValueError(f"the reference {reference!r} must be timed too, got {list(samples)}")
    ref = samples[reference]
    return {n: {"seconds": statistics.median(s),
                "ratio": statistics.median(a / b for a, b in zip(s, ref))}
            for n, s in samples.items()}


def random_mask(shape: tuple[int, ...], density: float, generator: torch.Generator) -> torch.Tensor:
    """A 0/1 float mask of ``shape`` with exactly round(density * numel) ones, seeded."""
    if not 0 < density <= 1:
        raise ValueError(f"density must be in (0, 1], got {density}")
    n = int(np.prod(shape))
    keep = torch.randperm(n, generator=generator)[:max(1, round(density * n))]
    mask = torch.zeros(n)
    mask[keep] = 1.0
    return mask.view(shape)


def _sparse(w: torch.Tensor, fmt: str) -> torch.Tensor:
    with warnings.catch_warnings():           # "sparse CSR support is in beta": we know
        warnings.simplefilter("ignore")
        return w.to_sparse_csr() if fmt == "CSR" else w.to_sparse().coalesce()


def linear_forward(weight: torch.Tensor, bias: torch.Tensor, mask: torch.Tensor,
                   fmt: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function x (B, in) -> (B, out) computing the masked layer in format ``fmt``."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    w = (weight * mask).detach()
    if fmt == "dense":
        return lambda x: F.linear(x, w, bias)
    if fmt == "masked dense":
        return lambda x: F.linear(x, weight * mask, bias)
    s, b = _sparse(w, fmt), bias[:, None]
    return lambda x: (torch.sparse.mm(s, x.T.contiguous()) + b).T


def _steps(model: nn.Sequential, masks: Masks | None,
           fmt: str) -> list[tuple[str, Callable, bool]]:
    """(name, function, is a linear layer) for every layer ``network_forward`` runs."""
    steps = []
    for name, m in model.named_children():
        if isinstance(m, nn.Linear):
            mask = (masks or {}).get(f"{name}.weight", torch.ones_like(m.weight))
            steps.append((name, _column_step(m.weight.detach(), m.bias.detach(),
                                             mask, fmt), True))
        elif isinstance(m, nn.ReLU):
            steps.append((name, torch.relu, False))
        elif not isinstance(m, (nn.Flatten, nn.Dropout)):
            raise ValueError(f"network_forward handles Flatten, Linear and ReLU, not {name}: {m}")
    return steps


def network_forward(model: nn.Sequential, masks: Masks | None,
                    fmt: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function x (B, ...) -> logits running ``model`` (flatten, Linear, ReLU layers) with
    every masked linear layer in format ``fmt``. Sparse formats keep the activations as
    (features, B) from layer to layer, as a sparse inference engine would."""
    steps = [f for _, f, _ in _steps(model, masks, fmt)]
    sparse = fmt in ("CSR", "COO")

    def forward(x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(1)
        h = h.T.contiguous() if sparse else h
        for step in steps:
            h = step(h)
        return h.T if sparse else h
    return forward


def _column_step(weight, bias, mask, fmt):
    if fmt not in ("CSR", "COO"):
        return linear_forward(weight, bias, mask, fmt)
    s, b = _sparse(weight * mask, fmt), bias[:, None]
    return lambda h: torch.sparse.mm(s, h) + b


def measure(fns: dict[str, Callable[[torch.Tensor], object]], x: torch.Tensor,
            repeats: int = 21, num_threads: int = 1, reference: str = "dense",
            cold: bool = False) -> dict[str, dict]:
    """Time ``fns[name](x)`` for every name, interleaved (:func:`time_interleaved`), on
    ``num_threads`` threads; ``cold``: with the caches flushed before every call
    (:func:`flush_caches`). Returns {name: {"seconds", "ratio"}} (:func:`summarize`: the
    median seconds per call, and the median per-repeat ratio to ``fns[reference]``)."""
    with threads(num_threads):
        samples = time_interleaved({n: (lambda f=f: f(x)) for n, f in fns.items()}, repeats,
                                   before=flush_caches() if cold else None)
    return summarize(samples, reference)


def _need_dense(formats) -> None:
    if "dense" not in formats:
        raise ValueError(f"formats must include 'dense' (the ratios' reference), got {formats}")


def layer_latency(weight: torch.Tensor, bias: torch.Tensor, densities, batch_sizes=(1, 60),
                  formats=FORMATS, repeats: int = 21, seed: int = 0,
                  num_threads: int = 1) -> list[dict]:
    """Latency of one linear layer for every density x batch size x format.

    Masks are random with exactly that density (seeded). At each density and batch size the
    formats are timed interleaved (:func:`measure`). Returns rows {"density", "batch",
    "format", "seconds" (median per call), "ratio" (median of this format's time / dense's,
    both timed in the same repeat)}. ``formats`` must include "dense".
    """
    _need_dense(formats)
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for d in densities:
        mask = random_mask(tuple(weight.shape), d, gen)
        for b in batch_sizes:
            x = torch.randn(b, weight.shape[1], generator=gen)
            fns = {fmt: linear_forward(weight, bias, mask, fmt) for fmt in formats}
            for fmt, t in measure(fns, x, repeats, num_threads).items():
                rows.append({"density": d, "batch": b, "format": fmt, **t})
    return rows


def network_latency(model: nn.Sequential, masks_by_density: dict[float, Masks],
                    batch_sizes=(1, 60), formats=FORMATS, repeats: int = 21, seed: int = 0,
                    num_threads: int = 1, in_features: int = 784,
                    cold: bool = False) -> list[dict]:
    """Like :func:`layer_latency` for the whole ``model``, one mask set per density;
    ``cold``: every call starts with the caches flushed (:func:`flush_caches`)."""
    _need_dense(formats)
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for d, masks in masks_by_density.items():
        fns = {fmt: network_forward(model, masks, fmt) for fmt in formats}
        for b in batch_sizes:
            x = torch.randn(b, in_features, generator=gen)
            for fmt, t in measure(fns, x, repeats, num_threads, cold=cold).items():
                rows.append({"density": d, "batch": b, "format": fmt, **t})
    return rows


def _between(x: torch.Tensor, steps, fmt: str) -> Callable[[], object]:
    """The network's work outside its linear layers on input ``x``: flatten, the layout change
    of the sparse formats, and every other step on the activations that reach it."""
    sparse = fmt in ("CSR", "COO")
    h, others = x.flatten(1), []
    h = h.T.contiguous() if sparse else h
    for _, step, linear in steps:
        if not linear:
            others.append((step, h))
        h = step(h)

    def run():
        g = x.flatten(1)
        g = g.T.contiguous() if sparse else g
        for step, a in others:
            step(a)
        return h.T if sparse else h
    return run


def network_breakdown(model: nn.Sequential, masks_by_density: dict[float, Masks],
                      batch_sizes=(1, 60), formats=FORMATS, repeats: int = 21,
                      seed: int = 0, num_threads: int = 1,
                      in_features: int = 784) -> list[dict]:
    """Latency of the whole ``model`` and of its parts *as the whole runs them*: each linear
    layer (the same step, on the activations that reach it, in the layout of that format:
    (B, features) dense, (features, B) sparse) and ``"between"`` (flatten, the sparse formats'
    transposes and the ReLUs), every format at every density and batch size.

    At each density and batch size, every part in every format is timed in one interleaved
    run, each part repeatedly on its own (its data back in the caches). Returns rows
    {"density", "batch", "format", "part" ("network", a layer's name or "between"),
    "seconds", "ratio" (to the same part in dense, timed in the same repeat)}. What the
    network costs beyond its parts (:func:`time_shares`' "in turn") is what running them one
    after another costs more than running each alone: Python, and the caches, which a part
    repeated alone keeps full of its own data and the network shares among all of them."""
    _need_dense(formats)
    gen = torch.Generator().manual_seed(seed)
    rows = []
    with threads(num_threads):
        for d, masks in masks_by_density.items():
            for b in batch_sizes:
                x = torch.randn(b, in_features, generator=gen)
                fns = {}
                for fmt in formats:
                    fns[("network", fmt)] = (lambda f=network_forward(model, masks, fmt):
                                             f(x))
                    steps = _steps(model, masks, fmt)
                    h = x.flatten(1)
                    h = h.T.contiguous() if fmt in ("CSR", "COO") else h
                    for name, step, linear in steps:
                        if linear:
                            fns[(name, fmt)] = lambda f=step, a=h: f(a)
                        h = step(h)
                    fns[("between", fmt)] = _between(x, steps, fmt)
                samples = time_interleaved(fns, repeats)
                for part in dict.fromkeys(p for p, _ in fns):
                    t = summarize({f: samples[(part, f)] for f in formats})
                    rows += [{"density": d, "batch": b, "format": f, "part": part, **t[f]}
                             for f in formats]
    return rows


def series(rows: list[dict], fmt: str, batch: int, key: str = "seconds",
           part: str | None = None) -> tuple[list[float], list[float]]:
    """(densities, ``key`` values) of one format at one batch size (and one ``part`` of
    :func:`network_breakdown`'s rows), densest first. ``key``: "seconds" or "ratio"."""
    pts = sorted(((r["density"], r[key]) for r in rows
                  if r["format"] == fmt and r["batch"] == batch
                  and (part is None or r.get("part") == part)), reverse=True)
    return [p[0] for p in pts], [p[1] for p in pts]


def crossover(densities, ratios) -> float | None:
    """The density below which a format is faster than dense, from its time ratios to dense
    (format / dense, < 1: faster) at ``densities`` in decreasing order: the first density,
    from the dense side, where the ratio is below 1, moved up to where the line through it and
    the point before (log density, log ratio) crosses 1. ``None`` if the ratio never falls
    below 1; 1.0 if it is below 1 at the densest point."""
    d = np.log(np.asarray(densities, dtype=float))
    r = np.log(np.asarray(ratios, dtype=float))
    wins = np.nonzero(r < 0)[0]
    if len(wins) == 0:
        return None
    i = wins[0]
    if i == 0:
        return 1.0
    t = r[i - 1] / (r[i - 1] - r[i])                 # where the ratio crosses 1
    return float(np.exp(d[i - 1] + t * (d[i] - d[i - 1])))


def crossover_density(densities, dense_s, sparse_s) -> float | None:
    """:func:`crossover` of the ratios sparse_s / dense_s (seconds at each density, in
    decreasing order of density). Prefer ratios timed in the same run (rows' "ratio")."""
    return crossover(densities, np.asarray(sparse_s, dtype=float)
                     / np.asarray(dense_s, dtype=float))


def time_shares(rows: list[dict], batch: int, density: float,
                fmt: str = "CSR") -> list[dict]:
    """Where a network's time goes, from :func:`network_breakdown` rows at one batch size and
    density: per part (each linear layer, "between"), then ``"in turn"`` (the network's median
    time minus its parts': what running the parts one after another costs beyond running each
    alone), {"part", "share" (of the dense network's time, run dense), "ratio" (``fmt`` /
    dense for that part)}. A part's ratio is its per-repeat median; "in turn"'s is a ratio of
    differences of medians, the roughest (``None`` when either difference is not positive:
    smaller than the timing noise)."""
    at = {(r["part"], r["format"]): r for r in rows
          if r["batch"] == batch and r["density"] == density}
    if ("network", fmt) not in at or ("network", "dense") not in at:
        raise ValueError(f"no network_breakdown rows for {fmt} and dense at batch {batch}, "
                         f"density {density}")
    net = at[("network", "dense")]["seconds"]
    parts = [p for p, f in at if f == "dense" and p != "network"]
    out = [{"part": p, "share": at[(p, "dense")]["seconds"] / net,
            "ratio": at[(p, fmt)]["ratio"]} for p in parts]
    rest_d = net - sum(at[(p, "dense")]["seconds"] for p in parts)
    rest_f = at[("network", fmt)]["seconds"] - sum(at[(p, fmt)]["seconds"] for p in parts)
    out.append({"part": "in turn", "share": rest_d / net,
                "ratio": rest_f / rest_d if rest_d > 0 and rest_f > 0 else None})
    return out


def compare_crossovers(a: float | None, b: float | None, tol: float = 1.25) -> str:
    """Crossover ``a`` against ``b``: "lower", "same" (within a factor ``tol``) or "higher".
    ``None`` (the format never wins in the measured range) counts as below every density."""
    if a is None or b is None:
        return {(True, True): "same", (True, False): "lower",
                (False, True): "higher"}[(a is None, b is None)]
    return "higher" if a > tol * b else "lower" if a < b / tol else "same"


def crossover_facts(net_rows: list[dict], layer_rows: list[dict], batch: int,
                    layer: str = "fc1", fmt: str = "CSR", tol: float = 1.25) -> dict:
    """What explains a whole network crossing over (``fmt`` faster than dense) at another
    density than one of its layers timed alone, at one batch size.

    ``net_rows`` come from :func:`network_breakdown`, ``layer_rows`` from
    :func:`layer_latency` on that layer. Returns {"network", "inside", "alone": the crossovers
    (:func:`crossover`; ``None``: not in the measured range) of the network, of the layer as
    the network runs it, and of the layer alone; "relation": "lower", "same" or "higher", the
    network's crossover against the layer alone's ("same" within a factor ``tol``; a format
    that never wins counts as crossing below every measured density); "density": the network
    sweep's sparsest density; "shares": :func:`time_shares` there; "alone_ratio": the layer
    alone's ratio at its measured density nearest to it; "densest": {part: ratio at the
    network sweep's densest point}}."""
    def cross(rows, part=None):
        return crossover(*series(rows, fmt, batch, "ratio", part=part))
    net, inside, alone = cross(net_rows, "network"), cross(net_rows, layer), cross(layer_rows)
    relation = compare_crossovers(net, alone, tol)
    dens = sorted({r["density"] for r in net_rows})
    d_alone, r_alone = series(layer_rows, fmt, batch, "ratio")
    near = min(range(len(d_alone)), key=lambda i: abs(np.log(d_alone[i] / dens[0])))
    return {"network": net, "inside": inside, "alone": alone, "relation": relation,
            "density": dens[0], "shares": time_shares(net_rows, batch, dens[0], fmt),
            "alone_ratio": r_alone[near],
            "densest": {p["part"]: p["ratio"]
                        for p in time_shares(net_rows, batch, dens[-1], fmt)}}


def load_average() -> float | None:
    """The machine's load average over the last minute (processes running or waiting for a
    CPU, ``os.getloadavg``), or ``None`` where the system has none (Windows). Printed beside
    absolute timings: above the number of CPUs, other work was competing for them."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


# ----------------------------------------------------------------------------- storage

def relative_encode(values: torch.Tensor, mask: torch.Tensor, bits: int):
    """Deep Compression's relative indices for one flattened layer.

    Each kept weight stores its step from the previous kept position (the first from -1), a
    number in 1..2^bits written as step - 1 in ``bits`` bits; a longer gap gets filler entries
    of step 2^bits and value zero. Returns (steps (E,) int64 holding step - 1, entry values (E,),
    number of fillers).
    """
    if not 1 <= bits <= 16:
        raise ValueError(f"bits must be in 1..16, got {bits}")
    pos = torch.nonzero(mask.flatten()).flatten()
    gaps = torch.diff(pos, prepend=torch.tensor([-1]))
    span = 2 ** bits
    fillers = (gaps - 1) // span                       # fillers before each kept weight
    last = gaps - fillers * span                       # its own step, in 1..span
    per = fillers + 1
    steps = torch.full((int(per.sum()),), span - 1, dtype=torch.long)
    ends = torch.cumsum(per, 0) - 1                    # where each kept weight lands
    steps[ends] = last - 1
    vals = torch.zeros(len(steps), dtype=values.dtype)
    vals[ends] = values.flatten()[pos]
    return steps, vals, int(fillers.sum())


def relative_decode(steps: torch.Tensor, vals: torch.Tensor, numel: int) -> torch.Tensor:
    """The flat layer (numel,) from :func:`relative_encode`'s steps and entry values."""
    out = torch.zeros(numel, dtype=vals.dtype)
    if len(steps):
        out[torch.cumsum(steps + 1, 0) - 1] = vals
    return out


def kmeans_codebook(values: torch.Tensor, bits: int, iterations: int = 20):
    """1-D k-means of ``values`` into 2^bits - 1 centroids, linearly initialised between min and
    max (the paper's best initialisation; deterministic). Returns (codebook (2^bits,) with
    entry 0 = 0.0, codes (N,) int64 in 1..2^bits - 1)."""
    k = 2 ** bits - 1
    v = values.flatten().double()
    if v.numel() == 0:                                 # a layer pruned away entirely
        return torch.zeros(k + 1), torch.zeros(0, dtype=torch.long)
    c = torch.linspace(float(v.min()), float(v.max()), k, dtype=torch.float64)
    for _ in range(iterations):
        codes = torch.bucketize(v, (c[1:] + c[:-1]) / 2)
        sums = torch.zeros(k, dtype=torch.float64).index_add_(0, codes, v)
        counts = torch.bincount(codes, minlength=k)
        c = torch.where(counts > 0, sums / counts.clamp(min=1), c)   # empty: keep centroid
        c, _ = torch.sort(c)
    codes = torch.bucketize(v, (c[1:] + c[:-1]) / 2)
    return torch.cat([torch.zeros(1), c.float()]), codes + 1


def layer_storage_bits(mask: torch.Tensor, index_bits: int, weight_bits: int) -> dict[str, int]:
    """Bits to store one layer's weights under each of :data:`SCHEMES` (biases not included).

    ``mask`` is the layer's 0/1 mask (out, in, ...); ``index_bits`` the relative-index width
    (Deep Compression: 5 for fully connected layers, 8 for conv); ``weight_bits`` the shared
    weight code width."""
    n, a, rows = mask.numel(), int(mask.sum()), mask.shape[0]
    entries = len(relative_encode(mask, mask, index_bits)[0])
    return {"dense fp32": 32 * n,
            "CSR, 32-bit indices": 32 * (2 * a + rows + 1),
            "relative indices": entries * (32 + index_bits),
            "relative + sharing": entries * (weight_bits + index_bits) + 32 * 2 ** weight_bits}


def storage_table(model: nn.Module, masks: Masks, weight_bits: int = 8,
                  fc_bits: int = 5, conv_bits: int = 8) -> dict[str, int]:
    """Bytes of ``model`` under each scheme: masked weights as :func:`layer_storage_bits`,
    every other parameter (biases) as fp32."""
    total = dict.fromkeys(SCHEMES, 0)
    for name, p in model.named_parameters():
        if name in masks:
            bits = conv_bits if p.dim() == 4 else fc_bits
            per = layer_storage_bits(masks[name], bits, weight_bits)
        else:
            per = dict.fromkeys(SCHEMES, 32 * p.numel())
        for s in SCHEMES:
            total[s] += per[s]
    return {s: (b + 7) // 8 for s, b in total.items()}


def smaller_than_dense(model: nn.Module, percent: int, scheme: str, weight_bits: int = 8,
                       seed: int = 0) -> bool:
    """Whether ``model``, every weight matrix at ``percent``% of its weights (seeded random
    masks, :func:`random_mask`), takes fewer bytes in ``scheme`` than in dense fp32
    (:func:`storage_table`)."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
    if not 1 <= percent <= 100:
        raise ValueError(f"percent is a whole percentage of the weights kept, 1 to 100, "
                         f"got {percent}")
    g = torch.Generator().manual_seed(seed)
    masks = {n: random_mask(tuple(p.shape), percent / 100, g)
             for n, p in model.named_parameters() if n.endswith("weight")}
    table = storage_table(model, masks, weight_bits=weight_bits)
    return table[scheme] < table["dense fp32"]


def break_even(model: nn.Module, scheme: str, weight_bits: int = 8,
               seed: int = 0) -> float | None:
    """The densest whole percent of the weights at which ``scheme`` stores ``model`` in fewer
    bytes than dense fp32 (:func:`smaller_than_dense`), as a fraction: 1.0 when it is smaller
    even with every weight kept (shorter codes, not sparsity), None when not even at 1%.
    Found by bisection, since the bytes grow with the weights kept."""
    smaller = lambda pct: smaller_than_dense(model, pct, scheme, weight_bits, seed)  # noqa: E731
    if smaller(100):
        return 1.0
    if not smaller(1):
        return None
    lo, hi = 1, 100                  # smaller at lo, not at hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if smaller(mid) else (lo, mid)
    return lo / 100


def pack_bits(codes: torch.Tensor, bits: int) -> bytes:
    """Integers in [0, 2^bits) packed ``bits`` each, most significant bit first."""
    c = codes.numpy().astype(np.int64)
    if len(c) and (c.min() < 0 or c.max() >= 2 ** bits):
        raise ValueError(f"codes must be in [0, {2 ** bits}) to pack in {bits} bits")
    shifts = np.arange(bits - 1, -1, -1)
    return np.packbits(((c[:, None] >> shifts) & 1).astype(np.uint8)).tobytes()


def unpack_bits(data: bytes, bits: int, count: int) -> torch.Tensor:
    """The ``count`` integers :func:`pack_bits` packed into ``data``."""
    flat = np.unpackbits(np.frombuffer(data, dtype=np.uint8))[:count * bits]
    return torch.from_numpy(flat.reshape(count, bits).astype(np.int64) @ (1 << np.arange(
        bits - 1, -1, -1)))


def save_compressed(model: nn.Module, masks: Masks, path: str | Path, weight_bits: int = 8,
                    fc_bits: int = 5, conv_bits: int = 8) -> int:
    """Write ``model`` with its masked weights as relative indices + shared weights, bit-packed;
    other parameters as fp32. Returns the file's size in bytes."""
    header, blobs = [], []
    for name, p in model.named_parameters():
        w = p.detach().cpu().float()
        if name not in masks:
            header.append({"name": name, "shape": list(w.shape), "kind": "fp32"})
            blobs.append(w.numpy().tobytes())
            continue
        ib = conv_bits if w.dim() == 4 else fc_bits
        m = masks[name].cpu()
        book, codes = kmeans_codebook(w[m.bool()], weight_bits)
        filled = torch.zeros(w.numel(), dtype=torch.long)
        filled[m.flatten().bool()] = codes
        steps, vals, _ = relative_encode(filled, m, ib)
        header.append({"name": name, "shape": list(w.shape), "kind": "relative",
                       "entries": len(steps), "index_bits": ib, "weight_bits": weight_bits})
        blobs += [book.numpy().tobytes(), pack_bits(steps, ib), pack_bits(vals, weight_bits)]
    sizes = iter(len(b) for b in blobs)
    for h in header:
        h["sizes"] = [next(sizes) for _ in range(1 if h["kind"] == "fp32" else 3)]
    head = json.dumps(header, separators=(",", ":")).encode()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(MAGIC + struct.pack("<I", len(head)) + head + b"".join(blobs))
    return path.stat().st_size


def load_compressed(path: str | Path, model: nn.Module) -> Masks:
    """Load a :func:`save_compressed` file into ``model`` (dense weights, zeros where pruned) and
    return the masks (a weight that decodes to exactly zero counts as pruned)."""
    raw = Path(path).read_bytes()
    if not raw.startswith(MAGIC):
        raise ValueError(f"{path} is not a file written by lth_utils.sparse.save_compressed")
    (n,) = struct.unpack("<I", raw[len(MAGIC):len(MAGIC) + 4])
    at = len(MAGIC) + 4 + n
    params, masks = dict(model.named_parameters()), {}
    for h in json.loads(raw[len(MAGIC) + 4:at]):
        parts = []
        for size in h["sizes"]:
            parts.append(raw[at:at + size])
            at += size
        if h["kind"] == "fp32":
            w = torch.from_numpy(np.frombuffer(parts[0], dtype=np.float32).copy())
        else:
            book = torch.from_numpy(np.frombuffer(parts[0], dtype=np.float32).copy())
            steps = unpack_bits(parts[1], h["index_bits"], h["entries"])
            codes = unpack_bits(parts[2], h["weight_bits"], h["entries"])
            w = relative_decode(steps, book[codes], int(np.prod(h["shape"])))
            masks[h["name"]] = (w != 0).float().view(h["shape"])
        if h["name"] not in params:
            raise ValueError(f"{path} holds {h['name']}, which the model has not")
        with torch.no_grad():
            params[h["name"]].copy_(w.view(h["shape"]))
    return masks


# ----------------------------------------------------------------------------- "Try it" state

def speed_state(rows: list[dict], density: float, shape=(300, 784), weight_bits: int = 8,
                index_bits: int = 5, seed: int = 0) -> dict:
    """What the chapter's slider shows at ``density``: the layer's time in every format relative
    to dense (the rows' "ratio", or seconds / dense seconds for rows without one) at each batch
    size (the measured density nearest in log scale), and the layer's storage in bytes under
    every scheme for ``mask``, a random mask of that density (also returned, for a reader who
    wants more of it, such as its relative indices' fillers). Used by
    ``widgets.speed_slider``."""
    measured = sorted({r["density"] for r in rows})
    near = min(measured, key=lambda d: abs(np.log(d / density)))
    here = [r for r in rows if r["density"] == near]
    dense = {r["batch"]: r["seconds"] for r in here if r["format"] == "dense"}
    latency = {(r["batch"], r["format"]): r.get("ratio", r["seconds"] / dense[r["batch"]])
               for r in here}
    mask = random_mask(tuple(shape), density, torch.Generator().manual_seed(seed))
    bits = layer_storage_bits(mask, index_bits, weight_bits)
    return {"density": near, "latency": latency, "mask": mask,
            "storage": {s: (b + 7) // 8 for s, b in bits.items()}}


def plot_speed_state(state: dict, axes) -> None:
    """Draw :func:`speed_state` on two axes: bars of time relative to dense from 1 (left:
    faster than dense, right: slower) per batch size, and storage bars. The left axes' label
    names the density, so that each row of small multiples says where the slider stands."""
    from matplotlib.ticker import FuncFormatter, NullFormatter
    batches = sorted({b for b, _ in state["latency"]})
    for j, b in enumerate(batches):
        r = [state["latency"][(b, f)] for f in FORMATS]
        axes[0].barh([i + 0.4 * j for i in range(len(FORMATS))], [x - 1 for x in r],
                     left=1, height=0.4, label=f"batch {b}", color=f"C{j}")
    axes[0].axvline(1, color="0.3", lw=1)
    # at least 0.1 to 10, so that every position shows the decades' labels
    lo = min(min(state["latency"].values()), 0.1)
    hi = max(max(state["latency"].values()), 10)
    axes[0].set(yticks=[i + 0.2 for i in range(len(FORMATS))], yticklabels=FORMATS,
                xscale="log", xlim=(lo / 1.5, hi * 1.5),
                xlabel="time ÷ dense time (log; left: faster)")
    axes[0].xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))   # 0.1, 1, 10
    axes[0].xaxis.set_minor_formatter(NullFormatter())
    axes[0].set_ylabel(f"{100 * state['density']:.3g}% of weights kept", fontsize=9)
    axes[0].invert_yaxis()
    axes[0].legend(fontsize=8, ncol=2, loc="lower left", bbox_to_anchor=(0, 1),
                   frameon=False)
    kb = [state["storage"][s] / 1000 for s in SCHEMES]
    axes[1].barh(range(len(SCHEMES)), kb, color="0.5")
    axes[1].set(yticks=range(len(SCHEMES)), yticklabels=SCHEMES, xlabel="storage (KB)")
    axes[1].invert_yaxis()
    axes[1].set_title("storage of the 784×300 layer", fontsize=9)
