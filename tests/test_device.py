"""Where training runs: ``LTH_DEVICE`` (default CUDA when there is a GPU, else the CPU).

On this CPU-only machine the GPU path is the same code with another device; tools/gpu_check.sh
runs this file (and the engine's equivalence tests) on a GPU with LTH_DEVICE=cuda.
"""
import copy

import pytest
import torch

import lth_utils
from lth_utils import lottery, masks, models, population, training


def test_device_from_environment(monkeypatch):
    monkeypatch.setenv("LTH_DEVICE", "cpu")
    assert lth_utils.device() == torch.device("cpu")
    assert lth_utils.device_name().startswith("cpu (")
    before = torch.get_num_threads()
    try:   # the thread count in words: "1 thread", "2 threads"
        torch.set_num_threads(1)
        assert lth_utils.device_name() == "cpu (1 thread)"
        torch.set_num_threads(2)
        assert lth_utils.device_name() == "cpu (2 threads)"
    finally:
        torch.set_num_threads(before)
    monkeypatch.setenv("LTH_DEVICE", "tpu-please")
    with pytest.raises(ValueError, match="use cpu, cuda or cuda:N"):
        lth_utils.device()
    monkeypatch.setenv("LTH_DEVICE", "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="sees no GPU: unset LTH_DEVICE"):
        lth_utils.device()
    monkeypatch.delenv("LTH_DEVICE")
    assert lth_utils.device() == torch.device("cpu")   # no GPU: the CPU


def test_training_runs_where_the_data_is(mnist_small):
    """Data and weights on lth_utils.device(); the curves come back on the CPU; the result
    equals a run on the CPU (float64, so only the arithmetic is compared)."""
    dev = lth_utils.device()
    d_cpu = copy.copy(mnist_small).to("cpu")
    for split in ("train_x", "val_x", "test_x"):
        setattr(d_cpu, split, getattr(d_cpu, split).double())
    d_dev = d_cpu.to(dev)
    assert d_dev.device.type == dev.type and d_dev.train_x.dtype == torch.float64
    nets = [models.build("lenet", s).double() for s in range(2)]
    mk = population.stack_masks([masks.ones(n) for n in nets])
    cfg = training.TrainConfig(iterations=30, eval_every=10, test_every=30)
    runs = [training.train_population(copy.deepcopy(nets[0]), population.stack(nets), mk, d, cfg,
                                      [1, 2], progress=False) for d in (d_cpu, d_dev)]
    assert next(iter(runs[1].params.values())).device.type == dev.type
    assert runs[1].history.val_loss.device.type == "cpu"
    for n in runs[0].params:
        assert torch.allclose(runs[0].params[n], runs[1].params[n].cpu(), atol=1e-9), n
    assert runs[0].history.early_stop_iteration == runs[1].history.early_stop_iteration


def test_exact_test_accuracy_at_early_stop(mnist_small):
    """With a coarse test curve (test_every), the test accuracy at early stop is still measured
    on the weights of the lowest validation loss: equal to a run that tests at every evaluation."""
    net = models.build("lenet", 3)
    mk = population.stack_masks([masks.ones(net)])
    fine = training.TrainConfig(iterations=200, eval_every=20)
    coarse = training.TrainConfig(iterations=200, eval_every=20, test_every=100)
    a, b = (training.train_population(net, population.stack([net]), mk, mnist_small, c, [5],
                                      progress=False).history for c in (fine, coarse))
    assert a.early_stop_iteration == b.early_stop_iteration
    assert a.early_stop_test_acc == pytest.approx(b.early_stop_test_acc, abs=1e-6)
    idx = a.early_stop_index[0]
    assert a.early_stop_test_acc[0] == pytest.approx(a.test_acc[0, idx].item(), abs=1e-6)
    assert b.test_iterations == [0, 100, 200] and b.member(0)["test_iteration"] == [0, 100, 200]
    assert "test_iteration" not in a.member(0)
    with pytest.raises(ValueError, match="multiple of eval_every"):
        training.TrainConfig(eval_every=20, test_every=30)


def test_record_says_device_and_precision(tmp_path):
    cfg = lottery.StudyConfig(trials=1, rounds=1, iterations=20, eval_every=10,
                              train_subset=500, val_size=200)
    rec = lottery.run_study(cfg, tmp_path / "r.json", progress=False)
    assert rec["device"] == lth_utils.device_name() and rec["precision"] == "fp32"


def test_training_leaves_the_template_where_it_is(mnist_small):
    """``train_population`` reads its template for the architecture only. It used to move it
    to the data's device: on a GPU every caller that kept using it (a study's masks made from
    it, a test's reference network) then mixed devices (seen on an H200, 2026-12-04). A
    template on the meta device (shapes, no numbers) shows it on any machine: moving it fails."""
    template = models.build("lenet", 0).to("meta")
    nets = [models.build("lenet", s) for s in range(2)]
    cfg = training.TrainConfig(iterations=4, batch_size=20, eval_every=4)
    run = training.train_population(template, population.stack(nets),
                                    population.stack_masks([masks.ones(n) for n in nets]),
                                    mnist_small, cfg, [0, 1], progress=False)
    assert all(p.device.type == "meta" for p in template.parameters())
    assert run.params["fc1.weight"].device == mnist_small.device
    # train() trains a model in place: it ends on the data's device, ready to evaluate there
    net = models.build("lenet", 0)
    training.train(net, mnist_small, cfg, progress=False)
    assert next(net.parameters()).device == mnist_small.device


def test_gpu_check_counts_every_outcome_of_the_tests(tmp_path):
    """tools/gpu_check.py's summary line for the GPU tests (it read its report's suites once
    and then counted no failures: '66 passed, 0 failed' where 13 had failed)."""
    import importlib.util
    from pathlib import Path
    spec = importlib.util.spec_from_file_location(
        "gpu_check", Path(__file__).resolve().parent.parent / "tools" / "gpu_check.py")
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    (tmp_path / "t.xml").write_text(
        '<testsuites><testsuite tests="10" failures="3" errors="1" skipped="2"/></testsuites>')
    assert gpu_check._tests(tmp_path / "t.xml") == "4 passed, 3 failed, 1 errors, 2 skipped"
    assert gpu_check._tests(tmp_path / "missing.xml") == "no test report"
