"""The benchmark's arithmetic (lth_utils/bench.py): its FLOP count against PyTorch's own counter,
and the replaced conv layout it times against the engine's. Nothing here is timed."""
import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from lth_utils import bench, models, population


@pytest.mark.parametrize("name,width", [("lenet", 1.0), ("conv2", 0.25), ("conv2", 1.0)])
def test_flop_count_equals_pytorchs_flop_counter(name, width):
    """``bench.flops_per_iteration`` per network = ``FlopCounterMode``'s count of the engine's
    forward and backward for K = 2 members on their own batches. Both count the matmuls and
    convolutions only (forward, weight gradients, the input gradients of every layer but the
    first); bias adds, activations, pooling, the loss and the optimiser are in neither, so the
    tolerance is zero."""
    k, batch = 2, 3
    image = (1, 28, 28) if name == "lenet" else (3, 32, 32)
    nets = [models.build(name, s, width=width) for s in range(k)]
    params = {n: p.requires_grad_(True) for n, p in
              population.engine_layout(nets[0], population.stack(nets)).items()}
    x, y = torch.randn(k, batch, *image), torch.randint(10, (k * batch,))
    with FlopCounterMode(display=False) as counter:
        logits = population.population_forward(nets[0], params, x, transposed=True)
        F.cross_entropy(logits.flatten(0, 1), y, reduction="sum").backward()
    assert counter.get_total_flops() == k * bench.flops_per_iteration(nets[0], image, batch)
    # the conv layers' share (the roofline times it at the convolution rate): the counter's
    # convolution ops, forward and backward
    ops = counter.get_flop_counts()["Global"]
    conv = sum(n for op, n in ops.items() if "convolution" in str(op))
    assert conv == k * bench.flops_per_iteration(nets[0], image, batch, torch.nn.Conv2d)
    assert (conv == 0) == (name == "lenet")


def test_the_replaced_grouped_layout_computes_what_the_engine_does():
    """The bench's grouped convolution (the layout the engine replaced) is the same network:
    its output equals one convolution per member, up to float rounding."""
    k = 3
    nets = [bench.conv_layers(models.build("conv2", s, width=0.25)) for s in range(k)]
    params = population.stack(nets)
    x = torch.randn(k, 4, 3, 32, 32)
    with torch.no_grad():
        grouped = bench.grouped_conv_forward(nets[0], params, x)         # (B, K * C, H, W)
        per_member = population.population_forward(nets[0], params, x)   # K x (B, C, H, W)
    assert torch.allclose(grouped, torch.cat(per_member, dim=1), atol=1e-5)


def test_paired_ratios_interleave_the_two_timings():
    """The K = 4 / K = 1 ratio is measured in pairs, each pair's two timings one after the
    other: scripted timings (no clock) show the order of the calls and the ratios returned."""
    calls, clock = [], iter([1.0, 2.0, 2.0, 3.0, 4.0, 4.0])

    def timing(tag):
        def f():
            calls.append(tag)
            return next(clock)
        return f
    assert bench.paired_ratios(timing("a"), timing("b"), pairs=3) == [2.0, 1.5, 1.0]
    assert calls == ["a", "b"] * 3
    with pytest.raises(ValueError, match="pairs must be at least 1"):
        bench.paired_ratios(timing("a"), timing("b"), pairs=0)
