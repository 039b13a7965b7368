"""Datasets as in-memory tensors, loaded through torchvision.

The chapters train hundreds of small networks, so per-sample Python (a ``Dataset`` and a
``DataLoader``) would dominate the run time. We load each dataset once with torchvision, exactly
as a Colab reader does, normalise it, and keep it as float tensors: a batch is then one indexing
operation.

Split (as in Frankle & Carbin 2019): ``val_size`` training images are held out for validation
(early stopping); the official test set is only used for reporting.
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

# name -> (torchvision class name, per-channel mean, per-channel std, class names)
DATASETS: dict[str, tuple[str, tuple[float, ...], tuple[float, ...], tuple[str, ...]]] = {
    "mnist": ("MNIST", (0.1307,), (0.3081,), tuple(str(i) for i in range(10))),
    "fashion-mnist": ("FashionMNIST", (0.2860,), (0.3530,),
                      ("T-shirt", "Trouser", "Pullover", "Dress", "Coat",
                       "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")),
    "cifar10": ("CIFAR10", (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616),
                ("airplane", "automobile", "bird", "cat", "deer",
                 "dog", "frog", "horse", "ship", "truck")),
}


@dataclass
class Splits:
    """A dataset held in memory, normalised.

    ``*_x`` are float32 of shape (N, C, H, W); ``*_y`` are int64 of shape (N,).
    """
    name: str
    classes: tuple[str, ...]
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    def to(self, device: str | torch.device) -> "Splits":
        """The same splits with every tensor on ``device`` (no copy if already there)."""
        moved = {f: getattr(self, f).to(device) for f in
                 ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")}
        return Splits(self.name, self.classes, **moved)

    @property
    def device(self) -> torch.device:
        return self.train_x.device

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.train_x.shape[1:])
        return (f"Splits({self.name}: train {len(self.train_y):,}, val {len(self.val_y):,}, "
                f"test {len(self.test_y):,}; images {shape})")


def default_root() -> Path:
    """Where datasets live: ``$LTH_DATA_DIR``, else the checkout's ``data/``, else ``./data``."""
    if os.environ.get("LTH_DATA_DIR"):
        return Path(os.environ["LTH_DATA_DIR"])
    repo = Path(__file__).resolve().parent.parent
    if (repo / "_toc.yml").exists():
        return repo / "data"
    return Path.cwd() / "data"


def _check_name(name: str) -> str:
    if not isinstance(name, str):
        raise ValueError(f"the dataset is named by a string: choose one of "
                         f"{', '.join(DATASETS)}, got {name!r}")
    key = name.lower().replace("_", "-")
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
    return key


def _missing(name: str, root: Path, err: Exception) -> FileNotFoundError:
    folder = DATASETS[name][0] if name != "cifar10" else "cifar-10-batches-py"
    return FileNotFoundError(
        f"{name} not found in {root / folder} and it could not be downloaded ({type(err).__name__}: "
        f"{err}). Download it on a machine with internet (torchvision does it on first use), or copy "
        f"the raw files into {root / folder} (offline checkout: run `make data`, which links "
        f"../shared/data).")


def _read_cifar_batches(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read CIFAR-10's python pickles directly: whichever ``data_batch_N`` exist, and ``test_batch``."""
    def read(path: Path) -> tuple[np.ndarray, np.ndarray]:
        with open(path, "rb") as f:
            d = pickle.load(f, encoding="latin1")
        return np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32), np.asarray(d["labels"])

    train = [read(p) for p in sorted(folder.glob("data_batch_[1-5]"))]
    if not train or not (folder / "test_batch").exists():
        raise FileNotFoundError(f"no CIFAR-10 batches in {folder}")
    tx, ty = read(folder / "test_batch")
    return (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), tx, ty)


def _load_raw(name: str, root: Path, download: bool) -> tuple[torch.Tensor, ...]:
    """Return uint8 images (N, C, H, W) and int64 labels for train and test."""
    import torchvision  # imported here so `import lth_utils` stays fast

    cls = getattr(torchvision.datasets, DATASETS[name][0])
    if name == "cifar10":
        try:
            tr, te = (cls(str(root), train=t, download=False) for t in (True, False))
            arrays = (tr.data.transpose(0, 3, 1, 2), np.asarray(tr.targets),
                      te.data.transpose(0, 3, 1, 2), np.asarray(te.targets))
        except RuntimeError:  # missing, or present but refused by torchvision's md5 check
            folder = root / "cifar-10-batches-py"
            if not (folder / "test_batch").exists():
                if not download:
                    raise _missing(name, root, RuntimeError("download=False"))
                try:
                    cls(str(root), train=True, download=True)
                except Exception as err:  # no network
                    raise _missing(name, root, err) from err
            try:
                arrays = _read_cifar_batches(folder)
            except FileNotFoundError as err:
                raise _missing(name, root, err) from err
            from . import say
            say(f"CIFAR-10: torchvision's md5 check refused {folder}; read its batches directly: "
                f"{len(arrays[1]):,} training images")
        return tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)

    try:
        tr, te = (cls(str(root), train=t, download=download) for t in (True, False))
    except Exception as err:  # RuntimeError (not found) or URLError (no network)
        raise _missing(name, root, err) from err
    return tr.data.unsqueeze(1), tr.targets, te.data.unsqueeze(1), te.targets


def load(name: str = "mnist", root: str | Path | None = None, val_size: int | None = None,
         train_subset: int | None = None, seed: int = 0, download: bool = True,
         device: str | torch.device | None = None, eval_size: int | None = None) -> Splits:
    """Load ``name`` ("mnist", "fashion-mnist" or "cifar10") as normalised in-memory tensors.

    ``val_size`` images are held out of the training set for validation (default 5,000, the
    paper's; at most a tenth of the training set). ``train_subset`` keeps only the first N of the
    remaining training images (quick profiles); ``eval_size`` keeps only the first N validation
    and test images (faster evaluations). The split is a seeded permutation, the same for
    every trial. The tensors live on ``device`` (default :func:`lth_utils.device`: ``$LTH_DEVICE``,
    else CUDA when there is a GPU, else the CPU); training runs where the data is.
    """
    from . import device as default_device
    key = _check_name(name)
    for what, value in (("val_size", val_size), ("train_subset", train_subset),
                        ("eval_size", eval_size)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 1):
            raise ValueError(f"{what} must be a positive whole number of images (or None), "
                             f"got {value!r}")
    try:
        dev = torch.device(device) if device is not None else default_device()
    except RuntimeError as err:
        raise ValueError(f"device={device!r} is not a device PyTorch knows: use 'cpu', 'cuda' "
                         f"or 'cuda:N' ({str(err)[:60]})") from None
    root = Path(root) if root is not None else default_root()
    train_x, train_y, test_x, test_y = _load_raw(key, root, download)
    mean = torch.tensor(DATASETS[key][1]).view(1, -1, 1, 1)
    std = torch.tensor(DATASETS[key][2]).view(1, -1, 1, 1)

    def norm(x: torch.Tensor) -> torch.Tensor:
        return ((x.float() / 255.0) - mean) / std

    n = len(train_y)
    val_size = min(5000, n // 10) if val_size is None else val_size
    if not 0 < val_size < n:
        raise ValueError(f"val_size must be between 1 and {n - 1} for {key}, got {val_size}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = order[:val_size], order[val_size:]
    if train_subset is not None:
        if train_subset < 1:
            raise ValueError(f"train_subset must be a positive number of images, got {train_subset}")
        train_idx = train_idx[:train_subset]
    test_y = torch.as_tensor(test_y)
    if eval_size is not None:
        if eval_size < 1:
            raise ValueError(f"eval_size must be a positive number of images, got {eval_size}")
        val_idx, test_x, test_y = val_idx[:eval_size], test_x[:eval_size], test_y[:eval_size]
    return Splits(key, DATASETS[key][3],
                  norm(train_x[train_idx]), train_y[train_idx].long(),
                  norm(train_x[val_idx]), train_y[val_idx].long(),
                  norm(test_x), test_y.long()).to(dev)
