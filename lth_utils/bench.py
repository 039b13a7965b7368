"""``python -m lth_utils bench``: how fast the training loops run on this machine.

Measured in one run: the machine's single-precision matmul rate (a large sgemm), its
convolution rate (a large 3 x 3 convolution, the conv layers' kernel; on some CPUs it runs at
twice the sgemm's rate) and its memory bandwidth (bytes read + written per second by a large
copy). Each rate is the better of two timings, the first of which also warms the core up (after
an idle spell, a first reading was half the second). From them, a *roofline* for one
network-iteration: its linear layers' FLOPs at the sgemm rate, its conv layers' FLOPs at the
convolution rate, plus the memory traffic no training step can avoid, at the measured bandwidth: the optimiser (Adam reads weight, gradient and its two
moments and writes weight and moments: 7 x 4 bytes per parameter) and the mask (read mask and
weight, write weight: 3 x 4 bytes per masked weight). Then, for LeNet-300-100 at batch 60 with
Adam and half of the weights pruned, the ms per network-iteration and the % of the roofline
reached by (a) the textbook loop (``nn.Module`` + torchvision ``Dataset`` + ``DataLoader``),
(b) a plain in-memory loop, (c) the population engine at K = 1, 4, 10, 20 (per network); then
the same for Conv-2 on CIFAR-10 at K = 1 and 4, at width 1 (the paper's network) and 0.25 (the
book's CPU-sized stand-in). Evaluation is excluded (the validation and test sets are cut to one
batch).

The engine trains a conv net in the memory layout chosen for its architecture and this device
(``population.conv_layout``: channels_last or contiguous NCHW). For Conv-2, rows (c) are that
layout and rows (d) the other one, timed one after the other, so that the choice can be checked
on every machine; the table under them gives their ratio, and the bench prints the layout chosen
for each conv net on this device. Whether a population is slower per network than K = 1 is a
matter of a few percent, as much as a machine drifts between two rows timed minutes apart, so
it is measured as a ratio in pairs: K = 1 and K = 4 in the chosen layout, one right after the
other, three times (:func:`paired_ratios`). The engine's device settings (``training.use_device_settings``)
hold for every loop timed; on a CPU they keep freed memory in the process, so a population's
memory growth counts what it needs beyond the process's earlier peak.

For each Conv-2 width, a last table times the conv layers alone (forward and backward), both
in NCHW: one convolution per member (``population.population_forward``), against the layout it
replaced: one grouped convolution over all K members, member k owning channel group k.
The grouped layout lives here only, for this comparison: its arithmetic depends on K, so a
member would not compute what it computes alone (``tests/test_population.py``).

Every time is the median of ``torch.utils.benchmark.Timer.blocked_autorange`` at the thread
count the table states (the timer waits for a GPU to finish). A benchmark prints figures; no test
times anything (``tests/test_bench.py`` checks the FLOP count against PyTorch's own counter).
"""
from __future__ import annotations

import gc
import os
import statistics
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from . import data as data_mod
from . import masks, models, population, pruning, training

CONV_WIDTHS = (1.0, 0.25)   # the paper's Conv-2 and the book's CPU-sized stand-in


def seconds(fn, *args, min_run_time: float = 1.0) -> float:
    """Median seconds of one call ``fn(*args)``: ``torch.utils.benchmark``'s
    ``blocked_autorange``, at this process's thread count (``torch.get_num_threads()``)."""
    from torch.utils import benchmark
    timer = benchmark.Timer("fn(*args)", globals={"fn": fn, "args": args},
                            num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median


def _best_seconds(fn, *args, min_run_time: float = 1.0) -> float:
    """The faster of two :func:`seconds` of ``fn(*args)``: the first also warms the core up."""
    return min(seconds(fn, *args, min_run_time=min_run_time) for _ in range(2))


def sgemm_gflops(n: int = 2048, device: str = "cpu", min_run_time: float = 1.0) -> float:
    """Single-precision matmul rate of ``device`` (GFLOP/s) on n x n matrices."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    return 2 * n ** 3 / _best_seconds(torch.mm, a, b, min_run_time=min_run_time) / 1e9


def conv_gflops(channels: int = 64, batch: int = 60, size: int = 32, device: str = "cpu",
                min_run_time: float = 1.0) -> float:
    """Single-precision rate (GFLOP/s) of a 3 x 3 convolution, ``channels`` in and out, on
    ``batch`` images of ``size`` x ``size`` (Conv-2's second layer), forward, in the layout the
    engine chooses for conv nets on ``device``."""
    x = torch.randn(batch, channels, size, size, device=device)
    w = torch.randn(channels, channels, 3, 3, device=device)
    if population.conv_layout(models.build("conv2"), device) == population.CHANNELS_LAST:
        x, w = (t.contiguous(memory_format=torch.channels_last) for t in (x, w))
    flops = 2 * w.numel() * batch * size * size
    return flops / _best_seconds(F.conv2d, x, w, None, 1, 1, min_run_time=min_run_time) / 1e9


def bandwidth_gbs(megabytes: int = 256, device: str = "cpu", min_run_time: float = 1.0) -> float:
    """Memory bandwidth (GB/s of bytes read plus written) of a large tensor copy; the arrays are
    far larger than any cache."""
    n = megabytes * 2 ** 20 // 4
    a, b = torch.ones(n, device=device), torch.empty(n, device=device)
    return 2 * 4 * n / _best_seconds(b.copy_, a, min_run_time=min_run_time) / 1e9


def roofline_ms(model: nn.Module, image: tuple[int, ...], batch: int, gflops: float,
                gbs: float, conv_rate: float | None = None) -> float:
    """The floor of one training iteration of ``model`` (ms): the linear layers' FLOPs at
    ``gflops`` (the sgemm rate), the conv layers' at ``conv_rate`` (default: ``gflops``), plus
    the optimiser's (7 x 4 bytes per parameter) and the mask's (3 x 4 bytes per prunable weight)
    memory traffic at ``gbs``."""
    params = sum(p.numel() for p in model.parameters())
    masked = sum(p.numel() for n, p in model.named_parameters() if n.endswith("weight"))
    traffic = 28 * params + 12 * masked
    conv = flops_per_iteration(model, image, batch, nn.Conv2d)
    linear = flops_per_iteration(model, image, batch) - conv
    return 1e3 * (linear / (gflops * 1e9) + conv / ((conv_rate or gflops) * 1e9)
                  + traffic / (gbs * 1e9))


def flops_per_iteration(model: nn.Module, image: tuple[int, ...], batch: int,
                        kind: type | None = None) -> float:
    """Multiply-adds x2 of one training iteration of ``model`` on ``batch`` images of shape
    ``image`` (C, H, W): forward, weight gradients, input gradients (all but the first layer's,
    whose input needs none). Matmuls and convolutions only: bias adds, activations, pooling, the
    loss and the optimiser are not counted (``torch.utils.flop_counter`` counts the same).
    ``kind`` (``nn.Linear`` or ``nn.Conv2d``): that kind of layer's FLOPs only."""
    counts = []

    def hook(m, inp, out):
        if isinstance(m, nn.Linear):
            n = 2 * m.in_features * m.out_features
        else:
            n = 2 * m.weight[0].numel() * out.shape[1] * out.shape[2] * out.shape[3]
        counts.append((n, kind is None or isinstance(m, kind)))
    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Linear, nn.Conv2d))]
    with torch.no_grad():
        model(torch.zeros(1, *image, device=next(model.parameters()).device))
    for h in handles:
        h.remove()
    # forward and weight gradient for every layer, input gradient for all but the first
    return batch * sum(n * (2 + (i > 0)) for i, (n, mine) in enumerate(counts) if mine)


# ----------------------------------------------------------------------------- the loops timed

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
    stream = training.batch_indices(len(d.train_y), batch, torch.Generator().manual_seed(0),
                                    d.device)
    for _ in range(iterations):
        idx = next(stream)
        loss = F.cross_entropy(model(d.train_x[idx]), d.train_y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()


def _population(name: str, d, batch: int, k: int, width: float = 1.0,
                layout: str | None = None):
    """A function ``run(iterations)`` that trains K ``name`` networks as one population in
    ``layout`` (default: ``population.conv_layout``'s choice); the networks, their masks (half
    the weights pruned, so per-step masking is measured), the stacked copies and the images in
    that layout are made here, outside the timed call."""
    nets = [models.build(name, s, width=width) for s in range(k)]
    half = [pruning.random_unstructured(masks.ones(n), 0.5, torch.Generator().manual_seed(s))
            for s, n in enumerate(nets)]
    params, stacked_masks = population.stack(nets), population.stack_masks(half)
    layout = layout or population.conv_layout(nets[0], d.device)
    d = training.images_in_layout(d, layout)

    def run(iterations: int) -> None:
        cfg = training.TrainConfig(iterations=iterations, batch_size=batch,
                                   eval_every=iterations)
        training.train_population(nets[0], params, stacked_masks, d, cfg, list(range(k)),
                                  progress=False, layout=layout)
    return run


# ----------------------------------------------------------------------------- conv layouts

def conv_layers(template: nn.Sequential) -> nn.Sequential:
    """The layers of a conv net before its ``Flatten`` (its convolutions, ReLUs and pools; the
    same modules, not copies)."""
    children = list(template.named_children())
    return nn.Sequential(OrderedDict(children[:[n for n, _ in children].index("flatten")]))


def grouped_conv_forward(layers: nn.Sequential, params: population.Params,
                         x: torch.Tensor) -> torch.Tensor:
    """The layout the engine replaced, for timing only: K members' conv ``layers`` as one
    grouped convolution each, member k owning channel group k. ``x`` (K, B, C, H, W), each
    member its own batch; returns (B, K * C', H', W')."""
    k = x.shape[0]
    h = x.transpose(0, 1).reshape(x.shape[1], -1, *x.shape[3:])     # (B, K * C, H, W)
    for name, layer in layers.named_children():
        if isinstance(layer, nn.Conv2d):
            w, b = params[f"{name}.weight"], params[f"{name}.bias"]
            h = F.conv2d(h, w.reshape(-1, *w.shape[2:]), b.reshape(-1), layer.stride,
                         layer.padding, groups=k)
        else:
            h = layer(h)
    return h


def _conv_step(width: float, k: int, batch: int, grouped: bool, device):
    """A function ``step()``: forward and backward of the conv layers of K Conv-2 members at
    ``width``, each on its own batch of CIFAR-sized images, in the grouped layout or the
    engine's (``population_forward``)."""
    nets = [conv_layers(models.build("conv2", s, width=width)) for s in range(k)]
    params = {n: p.to(device).requires_grad_(True) for n, p in population.stack(nets).items()}
    x = torch.randn(k, batch, 3, 32, 32, device=device)

    def step() -> None:
        for p in params.values():
            p.grad = None
        if grouped:
            outs = [grouped_conv_forward(nets[0], params, x)]
        else:
            h = population.population_forward(nets[0], params, x)
            outs = h if isinstance(h, list) else [h]
        sum(o.sum() for o in outs).backward()
    return step


# ----------------------------------------------------------------------------- the benchmark

def _rss_mb() -> float:
    try:
        import psutil
        return psutil.Process(os.getpid()).memory_info().rss / 2 ** 20
    except ImportError:
        return float("nan")


def _print_rows(rows: list[dict]) -> None:
    print(f"{'loop':<62}{'ms/net-it':>10}{'GFLOP/s':>9}{'% roofline':>11}{'x (a)':>7}")
    base = rows[0]["ms"]
    for r in rows:
        print(f"{r['loop']:<62}{r['ms']:>10.3f}{r['gflops']:>9.1f}{r['roofline_pct']:>10.0f}%"
              f"{base / r['ms']:>7.1f}")


def _print_layout_table(rows: list[dict], chosen: str, dev) -> None:
    """Per K, the engine's ms per network-iteration (% of the roofline) in the chosen layout and
    the other one, their ratio, and the layout chosen for each conv net on ``dev``."""
    engine = {(r["k"], r["layout"]): r for r in rows if r["layout"] is not None}
    other = next(x for x in population.LAYOUTS if x != chosen)
    cell = lambda r: f"{r['ms']:.3f} ms ({r['roofline_pct']:.0f}%)"
    print(f"{'engine, ms/net-it (% roofline)':<32}{chosen + ' (chosen)':>26}{other:>26}"
          f"{'chosen / other':>16}")
    for k in sorted({k for k, _ in engine}):
        a, b = engine[(k, chosen)], engine[(k, other)]
        print(f"{f'K = {k}':<32}{cell(a):>26}{cell(b):>26}{a['ms'] / b['ms']:>16.2f}")
    per_net = ", ".join(f"{n} {population.conv_layout(models.build(n, width=0.25), dev)}"
                        for n in models.MODELS if n != "lenet")
    print(f"layout chosen on {torch.device(dev).type} (population.conv_layout): {per_net}\n")


def _print_layouts(rows: list[dict]) -> None:
    print(f"{'conv layers, forward + backward':<62}{'ms/net':>10}{'GFLOP/s':>9}")
    for r in rows:
        print(f"{r['loop']:<62}{r['ms']:>10.3f}{r['gflops']:>9.1f}")


def paired_ratios(a, b, pairs: int = 3) -> list[float]:
    """``b() / a()`` measured ``pairs`` times, each pair's two calls one right after the other
    (a, b, a, b, ...): a ratio that a machine's drift between two rows timed apart cannot fake."""
    if pairs < 1:
        raise ValueError(f"pairs must be at least 1, got {pairs!r}")
    out = []
    for _ in range(pairs):
        first = a()
        out.append(b() / first)
    return out


def run_bench(iterations: int = 200, conv_k: int = 4, ks: tuple[int, ...] = (1, 4, 10, 20),
              widths: tuple[float, ...] = CONV_WIDTHS, min_run_time: float = 1.0,
              pairs: int = 3) -> dict:
    """Run the benchmark and print its tables; ``iterations`` per timed call of a LeNet loop
    (a tenth of it, at least 2, for Conv-2), ``conv_k``: Conv-2's largest population.

    Returns ``{"machine", "threads", "sgemm_gflops", "conv_gflops", "bandwidth_gbs", "rows"}``,
    a row a dict with ``model``, ``width``, ``loop``, ``k``, ``ms`` (per network-iteration),
    ``gflops`` and ``roofline_pct`` (None for the conv-layout rows), ``rss_mb`` for the engine's
    rows, and ``layout`` for the engine's conv rows (``"channels_last"`` or ``"contiguous"``);
    and ``"k_ratios"``: per conv width, ``pairs`` interleaved ratios K = ``conv_k`` / K = 1 of
    the time per network in the chosen layout (:func:`paired_ratios`), and their median."""
    from . import device, device_name
    dev = device()
    training.use_device_settings(torch.device(dev))   # the engine's, for every loop timed
    threads = torch.get_num_threads()
    limit = sgemm_gflops(device=dev, min_run_time=min_run_time)
    conv_rate = conv_gflops(device=dev, min_run_time=min_run_time)
    gbs = bandwidth_gbs(device=dev, min_run_time=min_run_time)
    print(f"machine: {device_name(dev)}, torch {torch.__version__}")
    print(f"timings: torch.utils.benchmark blocked_autorange (median), {threads} threads")
    print(f"measured: sgemm 2048x2048 {limit:.0f} GFLOP/s · 3x3 convolution (64 channels, "
          f"batch 60) {conv_rate:.0f} GFLOP/s\n          memory (copy, read + write) "
          f"{gbs:.1f} GB/s\n")
    out = {"machine": device_name(dev), "threads": threads, "sgemm_gflops": limit,
           "conv_gflops": conv_rate, "bandwidth_gbs": gbs, "rows": []}

    def per_iteration(fn, n: int) -> float:   # seconds per iteration of fn(n)
        return seconds(fn, n, min_run_time=min_run_time) / n

    cases = [("lenet", "mnist", (1, 28, 28), 1.0, ks)]
    cases += [("conv2", "cifar10", (3, 32, 32), w, (1, conv_k)) for w in widths]
    for name, ds, image, width, kk in cases:
        batch = 60
        d = data_mod.load(ds, eval_size=batch)
        template = models.build(name, width=width)
        flops = flops_per_iteration(template, image, batch)
        roof = roofline_ms(template, image, batch, limit, gbs, conv_rate)
        its = iterations if name == "lenet" else max(2, iterations // 10)
        if name == "lenet":
            import torchvision
            from torchvision import transforms
            tf = transforms.Compose([transforms.ToTensor(),
                                     transforms.Normalize((0.1307,), (0.3081,))])
            ds_tv = torchvision.datasets.MNIST(str(data_mod.default_root()), train=True,
                                               transform=tf)
            loader = torch.utils.data.DataLoader(ds_tv, batch_size=batch, shuffle=True)
            label_a = "(a) textbook: nn.Module + torchvision Dataset + DataLoader"
        else:
            tensors = torch.utils.data.TensorDataset(d.train_x.cpu(), d.train_y.cpu())
            loader = torch.utils.data.DataLoader(tensors, batch_size=batch, shuffle=True)
            label_a = "(a) textbook: nn.Module + TensorDataset + DataLoader"
        timed = []
        m = models.build(name, width=width).to(dev)
        timed.append((label_a, 1, per_iteration(lambda n: _textbook_loop(m, loader, n),
                                                max(2, its // 4)), None, None))
        m = models.build(name, width=width).to(dev)
        timed.append(("(b) plain in-memory loop", 1,
                      per_iteration(lambda n: _plain_loop(m, d, batch, n), its), None, None))
        chosen = population.conv_layout(template, dev)
        # Conv-2: the chosen layout (c), then the other one (d), one after the other per K
        layouts = [(chosen, "(c)", "chosen")]
        if name != "lenet":
            other = next(x for x in population.LAYOUTS if x != chosen)
            layouts.append((other, "(d)", "old: NCHW" if other == population.CONTIGUOUS
                            else "not chosen"))
        for k in kk:
            for layout, tag, note in layouts:
                gc.collect()
                before = _rss_mb()
                sec = per_iteration(_population(name, d, batch, k, width, layout), its) / k
                label = (f"{tag} population engine, K = {k}" if name == "lenet"
                         else f"{tag} population engine, K = {k}, {layout} ({note})")
                timed.append((label, k, sec, _rss_mb() - before,
                               None if name == "lenet" else layout))
        rows = [{"model": name, "width": width, "loop": label, "k": k, "ms": 1e3 * sec,
                 "gflops": flops / sec / 1e9, "roofline_pct": 100 * roof / (1e3 * sec),
                 "rss_mb": rss, "layout": layout} for label, k, sec, rss, layout in timed]
        title = name if name == "lenet" else f"{name} (width {width:g})"
        print(f"{title} on {ds}, batch {batch}, Adam: {flops / 1e6:.1f} MFLOP per iteration; "
              f"roofline {roof:.3f} ms per network-iteration")
        _print_rows(rows)
        peak = max(r["rss_mb"] for r in rows if r["rss_mb"] is not None)
        print(f"memory: the largest population grew this process by {peak:.0f} MB\n")
        if name != "lenet":
            _print_layout_table(rows, chosen, dev)
            # the target "no population slower per network than K = 1" is a ratio of a few
            # percent, and a machine drifts by as much between two rows timed minutes apart:
            # measure it as pairs, K = 1 and K = conv_k one after the other, repeated
            one, many = (_population(name, d, batch, k, width, chosen) for k in (1, kk[-1]))
            ratios = paired_ratios(lambda: per_iteration(one, its),
                                   lambda: per_iteration(many, its) / kk[-1], pairs)
            median = statistics.median(ratios)
            print(f"{title}, {chosen}: K = {kk[-1]} / K = 1 per network, {pairs} interleaved "
                  f"pairs: {', '.join(f'{r:.3f}' for r in ratios)} (median {median:.3f})\n")
            out.setdefault("k_ratios", []).append(
                {"model": name, "width": width, "k": kk[-1], "layout": chosen,
                 "ratios": ratios, "median": median})
        out["rows"] += rows
        if name == "conv2":
            out["rows"] += _layouts(template, image, batch, kk, width, dev, min_run_time)
    return out


def _layouts(template: nn.Sequential, image: tuple[int, ...], batch: int, ks, width: float,
             dev, min_run_time: float) -> list[dict]:
    """Time and print the conv layers' forward + backward, one convolution per member against
    one grouped convolution (both NCHW), per network."""
    flops = flops_per_iteration(conv_layers(template), image, batch)
    rows = []
    for k in ks:
        for grouped, label in ((False, "one convolution per member (the engine's, NCHW)"),
                               (True, "one grouped convolution over K (replaced; bench only)")):
            sec = seconds(_conv_step(width, k, batch, grouped, dev),
                          min_run_time=min_run_time) / k
            rows.append({"model": "conv2", "width": width, "loop": f"{label}, K = {k}",
                         "k": k, "ms": 1e3 * sec, "gflops": flops / sec / 1e9,
                         "roofline_pct": None, "rss_mb": None, "layout": None})
    print(f"conv2 (width {width:g}): the conv layers alone, one convolution per member and "
          f"the replaced grouped one (both NCHW), {flops / 1e6:.1f} MFLOP per network")
    _print_layouts(rows)
    print()
    return rows
