"""Carry the offline datasets to a machine that takes a limited upload (a GPU lent for minutes
through a tool that copies at most 64 MiB per call) and rebuild them there, losslessly.

    python tools/pack_data.py pack DIR [--max-mb 55]   # data/ -> DIR/part1, DIR/part2, ...
    python tools/pack_data.py unpack PART DATA         # one part into DATA/ (run per part)

CIFAR-10's six batches (186 MB as pickles) become about 17 MB each: every channel predicted
from its left, upper and upper-left pixels (LOCO-I's median predictor, as in lossless JPEG-LS),
the red and blue residuals taken relative to the green, then xz. MNIST's idx files (the .gz
torchvision checks) go as xz of the raw idx files, which torchvision reads as they are. Each
part is at most ``--max-mb`` MB, filled in the order MNIST, CIFAR's test batch, its training
batches: at 55 MB, part 1 holds MNIST, the test batch and training batch 1 (enough for the GPU
check's tests and bench), part 2 batches 2-4, part 3 batch 5. A machine that takes one part per
call rebuilds ``data/`` part by part (``lth_utils.data`` reads whichever CIFAR batches are there). Unpacked batches are the
same pixels and labels as the originals (a test round-trips a slice); their pickles are not
byte-identical, so torchvision's md5 check refuses them and ``lth_utils.data`` reads them
directly, as it does the shared offline copy.
"""
from __future__ import annotations

import argparse
import gzip
import lzma
import pickle
from pathlib import Path

import numpy as np

CIFAR = "cifar-10-batches-py"
BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def _median_prediction(x: np.ndarray) -> np.ndarray:
    """LOCO-I: per pixel, from its left (l), upper (u) and upper-left (ul) neighbours."""
    l = np.zeros_like(x); l[..., 1:] = x[..., :-1]
    u = np.zeros_like(x); u[..., 1:, :] = x[..., :-1, :]
    ul = np.zeros_like(x); ul[..., 1:, 1:] = x[..., :-1, :-1]
    hi, lo = np.maximum(l, u), np.minimum(l, u)
    return np.where(ul >= hi, lo, np.where(ul <= lo, hi, l + u - ul))


def encode_images(x: np.ndarray, labels: list[int]) -> bytes:
    """uint8 images (N, 3, H, W) and their labels -> compressed bytes."""
    x = x.astype(np.int16)
    r = x - _median_prediction(x)
    r[:, 0] -= r[:, 1]
    r[:, 2] -= r[:, 1]
    planes = np.ascontiguousarray((r % 256).astype(np.uint8).transpose(1, 0, 2, 3))
    head = np.array([*x.shape], dtype=np.int64).tobytes()
    return lzma.compress(head + np.asarray(labels, np.uint8).tobytes() + planes.tobytes(),
                         preset=9 | lzma.PRESET_EXTREME)


def decode_images(blob: bytes) -> tuple[np.ndarray, list[int]]:
    """The inverse of :func:`encode_images`: each pixel rebuilt from its decoded neighbours."""
    raw = lzma.decompress(blob)
    n, c, h, w = (int(v) for v in np.frombuffer(raw[:32], dtype=np.int64))
    labels = np.frombuffer(raw[32:32 + n], dtype=np.uint8).astype(int).tolist()
    r = np.frombuffer(raw[32 + n:], dtype=np.uint8).reshape(c, n, h, w).transpose(1, 0, 2, 3)
    r = r.astype(np.int16)
    r[:, 0] += r[:, 1]
    r[:, 2] += r[:, 1]
    x = np.zeros((n, c, h, w), dtype=np.int16)
    zero = np.zeros((n, c), dtype=np.int16)
    for i in range(h):          # row by row: a prediction reads only decoded pixels
        for j in range(w):
            l = x[:, :, i, j - 1] if j else zero
            u = x[:, :, i - 1, j] if i else zero
            ul = x[:, :, i - 1, j - 1] if i and j else zero
            hi, lo = np.maximum(l, u), np.minimum(l, u)
            p = np.where(ul >= hi, lo, np.where(ul <= lo, hi, l + u - ul))
            x[:, :, i, j] = (p + r[:, :, i, j]) % 256
    return x.astype(np.uint8), labels


def _files(data: Path) -> list[tuple[Path, str]]:
    """(source, packed name) for every dataset file under ``data``."""
    out = [(gz, gz.name[:-3] + ".xz") for gz in sorted((data / "MNIST" / "raw").glob("*.gz"))]
    for name in ["test_batch"] + BATCHES[:-1]:
        if (data / CIFAR / name).exists():
            out.append((data / CIFAR / name, f"{name}.xz"))
    if not out:
        raise SystemExit(f"pack: no datasets under {data}: run `make data` first")
    return out


def pack(out: Path, data: Path, max_mb: float) -> None:
    packed = []
    for src, name in _files(data):
        if name.endswith("-ubyte.xz"):
            blob = lzma.compress(gzip.open(src).read(), preset=9 | lzma.PRESET_EXTREME)
        else:
            with open(src, "rb") as f:
                d = pickle.load(f, encoding="latin1")
            blob = encode_images(np.asarray(d["data"], np.uint8).reshape(-1, 3, 32, 32),
                                 d["labels"])
        packed.append((name, blob))
        print(f"{src}: {src.stat().st_size / 1e6:.1f} MB -> {len(blob) / 1e6:.1f} MB", flush=True)
    parts: list[list[tuple[str, bytes]]] = [[]]
    for name, blob in packed:      # in order, so that the first part is useful alone
        if len(blob) > max_mb * 1e6:
            raise SystemExit(f"pack: {name} alone is {len(blob) / 1e6:.1f} MB, over --max-mb")
        if sum(len(b) for _, b in parts[-1]) + len(blob) > max_mb * 1e6:
            parts.append([])
        parts[-1].append((name, blob))
    for i, part in enumerate(parts, 1):
        folder = out / f"part{i}"
        folder.mkdir(parents=True, exist_ok=True)
        for name, blob in part:
            (folder / name).write_bytes(blob)
        print(f"{folder}: {', '.join(n for n, _ in part)} "
              f"({sum(len(b) for _, b in part) / 1e6:.1f} MB)")


def unpack(part: Path, data: Path) -> None:
    for f in sorted(part.glob("*.xz")):
        name = f.name[:-3]
        if name.endswith("-ubyte"):
            dst = data / "MNIST" / "raw" / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(lzma.decompress(f.read_bytes()))
        else:
            x, labels = decode_images(f.read_bytes())
            dst = data / CIFAR / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            with open(dst, "wb") as out:
                pickle.dump({"data": x.reshape(len(x), -1), "labels": labels}, out)
        print(f"unpacked {dst}", flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="data/ -> DIR/partN, each at most --max-mb")
    p.add_argument("dir", type=Path)
    p.add_argument("--data", type=Path, default=Path("data"))
    p.add_argument("--max-mb", type=float, default=55.0)
    u = sub.add_parser("unpack", help="one part into DATA")
    u.add_argument("part", type=Path)
    u.add_argument("data", type=Path)
    args = ap.parse_args(argv)
    if args.command == "pack":
        pack(args.dir, args.data, args.max_mb)
    else:
        unpack(args.part, args.data)


if __name__ == "__main__":
    main()
