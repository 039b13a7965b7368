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
    while the other tests and the notebooks under nbval run (another thread). Just before them
    the runs of the worked solutions, which a background thread starts on once the build is
    done (from the last chapter; the tests take the files from the first), so that neither
    thread waits idle for the other (tests/test_solutions.py)."""
    if config.option.collectonly:
        return
    pages = [i for i in items if i.nodeid.split("::")[0].endswith("test_pages.py")]
    runs = [i for i in items if i.nodeid.split("::")[0].endswith("test_solutions.py")
            and i.name.startswith("test_solution_code_runs")]
    items[:] = [i for i in items if i not in pages and i not in runs] + runs + pages
    build = None
    if pages:
        reporter = config.pluginmanager.getplugin("terminalreporter")
        pages[0].module.start_build(reporter.write_line if reporter else print)
        build = pages[0].module._BUILD.get("proc")
    if len(runs) > 1:           # one file alone runs in its test
        runs[0].module.start_background([i.callspec.params["notebook"] for i in runs], build)
