"""Shared fixtures: small real datasets (loaded once per test session); the page build started
early, in the background."""
import os

import pytest
import torch

from lth_utils import data


@pytest.fixture(scope="session")
def mnist_small():
    """Real MNIST, 2,000 training images (the full val and test sets are sliced for speed)."""
    return data.load("mnist", train_subset=2000, eval_size=1000)


@pytest.fixture(scope="session")
def cifar_small():
    """Real CIFAR-10, 500 training images, 200 validation and test images."""
    return data.load("cifar10", train_subset=500, eval_size=200)


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """Page tests last, their book build started now: it executes every chapter (one thread)
    while the other tests and the notebooks under nbval run (another thread)."""
    pages = [i for i in items if i.nodeid.split("::")[0].endswith("test_pages.py")]
    if not pages or config.option.collectonly:
        return
    items[:] = [i for i in items if i not in pages] + pages
    reporter = config.pluginmanager.getplugin("terminalreporter")
    pages[0].module.start_build(reporter.write_line if reporter else print)
