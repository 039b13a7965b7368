"""Does sparsity make it faster? Latency and storage of a pruned network (chapter 12).

Latency: a linear layer ``y = x W^T + b`` run four ways: ``"dense"`` (the zeros multiplied like
any number), ``"masked dense"`` (what ``torch.nn.utils.prune`` runs: ``W * mask`` rebuilt at
every call, then a dense matmul), ``"CSR"`` and ``"COO"`` (PyTorch sparse tensors times the
dense activations, ``torch.sparse.mm``). :func:`time_call` takes the median of repeated timings
after a warm-up, under ``torch.inference_mode`` and a fixed number of threads.

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
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}")
    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        t = time.perf_counter()
        fn()
        inner = max(1, int(min_block_s / max(time.perf_counter() - t, 1e-9)))
        samples = []
        for _ in range(repeats):
            t = time.perf_counter()
            for _ in range(inner):
                fn()
            samples.append((time.perf_counter() - t) / inner)
    return statistics.median(samples)


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


def network_forward(model: nn.Sequential, masks: Masks | None,
                    fmt: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function x (B, ...) -> logits running ``model`` (flatten, Linear, ReLU layers) with
    every masked linear layer in format ``fmt``. Sparse formats keep the activations as
    (features, B) from layer to layer, as a sparse inference engine would."""
    steps: list[Callable] = []
    for name, m in model.named_children():
        if isinstance(m, nn.Linear):
            mask = (masks or {}).get(f"{name}.weight", torch.ones_like(m.weight))
            steps.append(_column_step(m.weight.detach(), m.bias.detach(), mask, fmt))
        elif isinstance(m, nn.ReLU):
            steps.append(torch.relu)
        elif not isinstance(m, (nn.Flatten, nn.Dropout)):
            raise ValueError(f"network_forward handles Flatten, Linear and ReLU, not {name}: {m}")
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


def layer_latency(weight: torch.Tensor, bias: torch.Tensor, densities, batch_sizes=(1, 60),
                  formats=FORMATS, repeats: int = 21, seed: int = 0,
                  num_threads: int = 1) -> list[dict]:
    """Median latency of one linear layer for every density x batch size x format.

    Masks are random with exactly that density (seeded). Returns rows {"density", "batch",
    "format", "seconds"}.
    """
    gen = torch.Generator().manual_seed(seed)
    rows = []
    with threads(num_threads):
        for d in densities:
            mask = random_mask(tuple(weight.shape), d, gen)
            for b in batch_sizes:
                x = torch.randn(b, weight.shape[1], generator=gen)
                for fmt in formats:
                    f = linear_forward(weight, bias, mask, fmt)
                    rows.append({"density": d, "batch": b, "format": fmt,
                                 "seconds": time_call(lambda: f(x), repeats)})
    return rows


def network_latency(model: nn.Sequential, masks_by_density: dict[float, Masks],
                    batch_sizes=(1, 60), formats=FORMATS, repeats: int = 21, seed: int = 0,
                    num_threads: int = 1, in_features: int = 784) -> list[dict]:
    """Like :func:`layer_latency` for the whole ``model``, one mask set per density."""
    gen = torch.Generator().manual_seed(seed)
    rows = []
    with threads(num_threads):
        for d, masks in masks_by_density.items():
            for b in batch_sizes:
                x = torch.randn(b, in_features, generator=gen)
                for fmt in formats:
                    f = network_forward(model, masks, fmt)
                    rows.append({"density": d, "batch": b, "format": fmt,
                                 "seconds": time_call(lambda: f(x), repeats)})
    return rows


def series(rows: list[dict], fmt: str, batch: int) -> tuple[list[float], list[float]]:
    """(densities, seconds) of one format at one batch size, densest first."""
    pts = sorted(((r["density"], r["seconds"]) for r in rows
                  if r["format"] == fmt and r["batch"] == batch), reverse=True)
    return [p[0] for p in pts], [p[1] for p in pts]


def crossover_density(densities, dense_s, sparse_s) -> float | None:
    """The density below which the sparse format is faster than dense, interpolated in log
    density between the measured points: the highest density where sparse_s < dense_s, moved
    up to where the two log-ratio lines meet. ``None`` if sparse never wins; 1.0 if it always
    does. Densities in decreasing order."""
    d = np.log(np.asarray(densities, dtype=float))
    r = np.log(np.asarray(sparse_s, dtype=float) / np.asarray(dense_s, dtype=float))
    wins = np.nonzero(r < 0)[0]
    if len(wins) == 0:
        return None
    i = wins[0]
    if i == 0:
        return 1.0
    t = r[i - 1] / (r[i - 1] - r[i])                 # where the ratio crosses 1
    return float(np.exp(d[i - 1] + t * (d[i] - d[i - 1])))


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
    """What the chapter's slider shows at ``density``: the layer latency of every format at each
    batch size (the measured density nearest in log scale) and the layer's storage in bytes
    under every scheme (a random mask of that density). Used by ``widgets.speed_slider``."""
    measured = sorted({r["density"] for r in rows})
    near = min(measured, key=lambda d: abs(np.log(d / density)))
    latency = {(r["batch"], r["format"]): r["seconds"] for r in rows if r["density"] == near}
    mask = random_mask(tuple(shape), density, torch.Generator().manual_seed(seed))
    bits = layer_storage_bits(mask, index_bits, weight_bits)
    return {"density": near, "latency": latency,
            "storage": {s: (b + 7) // 8 for s, b in bits.items()}}


def plot_speed_state(state: dict, axes) -> None:
    """Draw :func:`speed_state` on two axes: latency bars per batch size, storage bars."""
    batches = sorted({b for b, _ in state["latency"]})
    for j, b in enumerate(batches):
        us = [1e6 * state["latency"][(b, f)] for f in FORMATS]
        axes[0].barh([i + 0.4 * j for i in range(len(FORMATS))], us, height=0.4,
                     label=f"batch {b}", color=f"C{j}")
    axes[0].set(yticks=[i + 0.2 for i in range(len(FORMATS))], yticklabels=FORMATS,
                xscale="log", xlabel="latency (µs, log)")
    axes[0].invert_yaxis()
    axes[0].legend(fontsize=8, ncol=2, loc="lower left", bbox_to_anchor=(0, 1),
                   frameon=False)
    kb = [state["storage"][s] / 1000 for s in SCHEMES]
    axes[1].barh(range(len(SCHEMES)), kb, color="0.5")
    axes[1].set(yticks=range(len(SCHEMES)), yticklabels=SCHEMES, xlabel="storage (KB)")
    axes[1].invert_yaxis()
    axes[1].set_title(f"784×300 layer, {100 * state['density']:.3g}% of weights kept",
                      fontsize=9)
