import pytest
import torch

from lth_utils import data


def test_mnist_split_is_the_papers():
    d = data.load("mnist")
    assert (len(d.train_y), len(d.val_y), len(d.test_y)) == (55_000, 5_000, 10_000)
    assert d.train_x.shape[1:] == (1, 28, 28) and d.train_x.dtype == torch.float32
    assert abs(d.train_x.mean().item()) < 0.05 and abs(d.train_x.std().item() - 1) < 0.05
    assert set(d.test_y.unique().tolist()) == set(range(10))


def test_split_is_seeded_and_disjoint():
    a, b = data.load("fashion-mnist", train_subset=500), data.load("fashion-mnist", train_subset=500)
    assert torch.equal(a.val_x, b.val_x) and torch.equal(a.train_x, b.train_x)
    assert len(a.train_y) == 500 and a.classes[0] == "T-shirt"


def test_cifar_is_read_even_when_torchvision_refuses_the_md5(capsys):
    d = data.load("cifar10")
    assert d.train_x.shape[1:] == (3, 32, 32)
    n = len(d.train_y) + len(d.val_y)
    assert n % 10_000 == 0 and len(d.test_y) == 10_000
    means = (d.train_x * torch.tensor(data.DATASETS["cifar10"][2]).view(1, 3, 1, 1)
             + torch.tensor(data.DATASETS["cifar10"][1]).view(1, 3, 1, 1)).mean((0, 2, 3))
    assert torch.allclose(means, torch.tensor([0.4914, 0.4822, 0.4465]), atol=0.01)


def test_unknown_dataset_names_the_choices():
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'.*mnist, fashion-mnist, cifar10"):
        data.load("imagenet")


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_missing_data_offline_says_where_to_put_it(tmp_path, name):
    with pytest.raises(FileNotFoundError, match="not found in .*copy the raw files"):
        data.load(name, root=tmp_path, download=False)


def test_bad_sizes():
    with pytest.raises(ValueError, match="val_size"):
        data.load("mnist", val_size=0)
    with pytest.raises(ValueError, match="train_subset"):
        data.load("mnist", train_subset=0)


def test_eval_size_keeps_the_first_validation_and_test_images():
    full = data.load("mnist", train_subset=600)
    cut = data.load("mnist", train_subset=600, eval_size=300)
    assert len(cut.val_y) == len(cut.test_y) == 300 and len(cut.train_y) == 600
    assert torch.equal(cut.val_x, full.val_x[:300]) and torch.equal(cut.test_y, full.test_y[:300])
    assert torch.equal(cut.train_x, full.train_x)
    with pytest.raises(ValueError, match="eval_size must be a positive"):
        data.load("mnist", eval_size=0)


def test_the_dataset_packer_is_lossless(tmp_path):
    """tools/pack_data.py (the datasets to a machine that takes a limited upload): CIFAR-10
    images round-trip exactly (here 300 of the test batch), MNIST's idx bytes too, and the
    unpacked folder loads as the original does."""
    import gzip
    import importlib.util
    import pickle
    from pathlib import Path
    import numpy as np
    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("pack_data", root / "tools" / "pack_data.py")
    pack_data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pack_data)
    src = data.default_root()
    with open(src / "cifar-10-batches-py" / "test_batch", "rb") as f:
        d = pickle.load(f, encoding="latin1")
    x = np.asarray(d["data"][:300], np.uint8).reshape(-1, 3, 32, 32)
    blob = pack_data.encode_images(x, d["labels"][:300])
    assert len(blob) < 0.8 * x.nbytes                     # it does compress
    y, labels = pack_data.decode_images(blob)
    assert np.array_equal(x, y) and labels == list(d["labels"][:300])
    # a part with that slice (as the test batch and a training batch) and MNIST's labels
    part = tmp_path / "part1"
    part.mkdir()
    for name in ("test_batch", "data_batch_1"):
        (part / f"{name}.xz").write_bytes(blob)
    labels_gz = src / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    (part / "t10k-labels-idx1-ubyte.xz").write_bytes(
        __import__("lzma").compress(gzip.open(labels_gz).read()))
    pack_data.unpack(part, tmp_path / "data")
    assert (tmp_path / "data/MNIST/raw/t10k-labels-idx1-ubyte").read_bytes() == \
        gzip.open(labels_gz).read()
    splits = data.load("cifar10", root=tmp_path / "data", val_size=100, download=False)
    ref = data.load("cifar10", val_size=100, eval_size=300)
    assert torch.equal(splits.test_x, ref.test_x) and torch.equal(splits.test_y, ref.test_y)
