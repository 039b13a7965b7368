"""``python -m lth_utils bench``: how fast the training loops run on this machine.

Measured in one run: the machine's single-precision matmul rate (a large sgemm) and its memory
bandwidth (bytes read + written per second by a large copy). From them, a *roofline* for one
network-iteration: its matmul FLOPs at the sgemm rate plus the memory traffic no training step
can avoid, at the measured bandwidth: the optimiser (Adam reads weight, gradient and its two
moments and writes weight and moments: 7 x 4 bytes per parameter) and the mask (read mask and
weight, write weight: 3 x 4 bytes per masked weight). Then, for LeNet-300-100 at batch 60 with
Adam and half of the weights pruned, the ms per network-iteration and the % of the roofline
reached by (a) the textbook loop (``nn.Module`` + torchvision ``Dataset`` + ``DataLoader``),
(b) a plain in-memory loop, (c) the population engine at K = 1, 4, 10, 20 (per network); then
the same for Conv-2 on CIFAR-10 at small K. Evaluation is excluded (the validation and test
sets are cut to one batch). A benchmark prints figures; no test times anything.
"""
from __future__ import annotations

import gc
import os
import time

import torch
import torch.nn.functional as F

from . import data as data_mod
from . import masks, models, population, pruning, training


def sgemm_gflops(n: int = 2048, repeat: int = 10, device: str = "cpu") -> float:
    """Single-precision matmul rate of ``device`` (GFLOP/s), the best of ``repeat`` runs."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    best = float("inf")
    for _ in range(repeat):
        _sync(device)
        t = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


def bandwidth_gbs(megabytes: int = 256, repeat: int = 5, device: str = "cpu") -> float:
    """Memory bandwidth (GB/s of bytes read plus written) of a large tensor copy, the best of
    ``repeat`` runs; the arrays are far larger than any cache."""
    n = megabytes * 2 ** 20 // 4
    a, b = torch.ones(n, device=device), torch.empty(n, device=device)
    b.copy_(a)
    best = float("inf")
    for _ in range(repeat):
        _sync(device)
        t = time.perf_counter()
        b.copy_(a)
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * 4 * n / best / 1e9


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def roofline_ms(model: torch.nn.Module, image: tuple[int, ...], batch: int, gflops: float,
                gbs: float) -> float:
    """The floor of one training iteration of ``model`` (ms): matmul FLOPs at ``gflops`` plus
    the optimiser's (7 x 4 bytes per parameter) and the mask's (3 x 4 bytes per prunable weight)
    memory traffic at ``gbs``."""
    params = sum(p.numel() for p in model.parameters())
    masked = sum(p.numel() for n, p in model.named_parameters() if n.endswith("weight"))
    traffic = 28 * params + 12 * masked
    return 1e3 * (flops_per_iteration(model, image, batch) / (gflops * 1e9) + traffic / (gbs * 1e9))


def flops_per_iteration(model: torch.nn.Module, image: tuple[int, ...], batch: int) -> float:
    """Multiply-adds x2 of one training iteration: forward, weight gradients, input gradients
    (all but the first layer's)."""
    counts = []

    def hook(m, inp, out):
        if isinstance(m, torch.nn.Linear):
            counts.append(2 * m.in_features * m.out_features)
        elif isinstance(m, torch.nn.Conv2d):
            counts.append(2 * m.weight[0].numel() * out.shape[1] * out.shape[2] * out.shape[3])
    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    with torch.no_grad():
        model(torch.zeros(1, *image))
    for h in handles:
        h.remove()
    return batch * (2 * sum(counts) + sum(counts[1:]))


def _time(fn, iterations: int, device="cpu") -> float:
    fn(5)  # warm-up
    _sync(device)
    t = time.perf_counter()
    fn(iterations)
    _sync(device)
    return (time.perf_counter() - t) / iterations


def _textbook_loop(model, loader, iterations: int) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=1.2e-3)
    done = 0
    while done < iterations:
        for x, y in loader:
            x, y = x.to(model.fc3.weight.device), y.to(model.fc3.weight.device)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
            if done == iterations:
                return


def _plain_loop(model, d, batch: int, iterations: int) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=1.2e-3)
    stream = training.batch_indices(len(d.train_y), batch, torch.Generator().manual_seed(0))
    for _ in range(iterations):
        idx = next(stream).to(d.device)
        loss = F.cross_entropy(model(d.train_x[idx]), d.train_y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()


def _population(name: str, d, batch: int, k: int):
    """A function ``run(iterations)`` that trains K ``name`` networks as one population; the
    networks, their masks (half the weights pruned, so per-step masking is measured) and the
    stacked copies are built here, outside the timed call."""
    nets = [models.build(name, s) for s in range(k)]
    half = [pruning.random_unstructured(masks.ones(n), 0.5, torch.Generator().manual_seed(s))
            for s, n in enumerate(nets)]
    params, stacked_masks = population.stack(nets), population.stack_masks(half)

    def run(iterations: int) -> None:
        cfg = training.TrainConfig(iterations=iterations, batch_size=batch,
                                   eval_every=iterations)
        training.train_population(nets[0], params, stacked_masks, d, cfg, list(range(k)),
                                  progress=False)
    return run


def _rss_mb() -> float:
    try:
        import psutil
        return psutil.Process(os.getpid()).memory_info().rss / 2 ** 20
    except ImportError:
        return float("nan")


def run_bench(iterations: int = 200, conv_k: int = 4, ks: tuple[int, ...] = (1, 4, 10, 20)) -> dict:
    """Run the benchmark, print a table, return the numbers."""
    from . import device, device_name
    dev = device()
    limit = sgemm_gflops(device=dev)
    gbs = bandwidth_gbs(device=dev)
    print(f"machine: {device_name(dev)}, torch {torch.__version__}")
    print(f"measured: sgemm 2048x2048 {limit:.0f} GFLOP/s · memory (copy, read + write) "
          f"{gbs:.1f} GB/s\n")
    out = {"sgemm_gflops": limit, "bandwidth_gbs": gbs}
    for name, ds, image, batch, kk in (("lenet", "mnist", (1, 28, 28), 60, ks),
                                       ("conv2", "cifar10", (3, 32, 32), 60, (1, conv_k))):
        d = data_mod.load(ds, eval_size=batch)
        flops = flops_per_iteration(models.build(name), image, batch)
        roof = roofline_ms(models.build(name), image, batch, limit, gbs)
        its = iterations if name == "lenet" else max(20, iterations // 10)
        rows = []
        if name == "lenet":
            import torchvision
            from torchvision import transforms
            tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
            ds_tv = torchvision.datasets.MNIST(str(data_mod.default_root()), train=True, transform=tf)
            loader = torch.utils.data.DataLoader(ds_tv, batch_size=batch, shuffle=True)
            label_a = "(a) textbook: nn.Module + torchvision Dataset + DataLoader"
        else:
            loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(d.train_x.cpu(),
                                                                                d.train_y.cpu()),
                                                 batch_size=batch, shuffle=True)
            label_a = "(a) textbook: nn.Module + TensorDataset + DataLoader"
        m = models.build(name).to(dev)
        rows.append((label_a, 1, _time(lambda n: _textbook_loop(m, loader, n), max(20, its // 4),
                                       dev)))
        m = models.build(name).to(dev)
        rows.append(("(b) plain in-memory loop", 1,
                     _time(lambda n: _plain_loop(m, d, batch, n), its, dev)))
        for k in kk:
            gc.collect()
            before = _rss_mb()
            t = _time(_population(name, d, batch, k), its, dev) / k
            rows.append((f"(c) population engine, K = {k}", k, t))
            out[f"{name}_rss_mb_k{k}"] = _rss_mb() - before
        print(f"{name} on {ds}, batch {batch}, Adam: {flops / 1e6:.1f} MFLOP per iteration; "
              f"roofline {roof:.3f} ms per network-iteration")
        print(f"{'loop':<62}{'ms/net-it':>10}{'GFLOP/s':>9}{'% roofline':>11}{'x (a)':>7}")
        base = rows[0][2]
        for label, k, sec in rows:
            gf = flops / sec / 1e9
            print(f"{label:<62}{1000 * sec:>10.3f}{gf:>9.1f}{100 * roof / (1000 * sec):>10.0f}%"
                  f"{base / sec:>7.1f}")
            out[f"{name}:{label}"] = 1000 * sec
        out[f"{name}:roofline_ms"] = roof
        peak = max(v for key, v in out.items() if key.startswith(f"{name}_rss"))
        print(f"memory: the largest population grew this process by {peak:.0f} MB\n")
    return out
