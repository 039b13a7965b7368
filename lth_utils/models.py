"""The networks of Frankle & Carbin (2019), as plain ``nn.Sequential`` models.

* LeNet-300-100 for MNIST: fully connected 784-300-100-10.
* Conv-2, Conv-4, Conv-6 for CIFAR-10 (paper Figure 2): pairs of 3x3 convolutions with
  64-64 / 128-128 / 256-256 channels, each pair followed by 2x2 max-pooling, then fully connected
  256-256-10.

Every layer has a readable name (``fc1``, ``conv1``, ``pool1`` ...), so parameter names such as
``fc1.weight`` are the keys of a mask. Weights are initialised from the Gaussian Glorot
distribution (``xavier_normal_``), biases at zero, as in the paper.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

MODELS = ("lenet", "conv2", "conv4", "conv6")
CONV_CHANNELS = {"conv2": (64,), "conv4": (64, 128), "conv6": (64, 128, 256)}


def lenet(in_features: int = 784, classes: int = 10, dropout: float = 0.0) -> nn.Sequential:
    """LeNet-300-100: (B, 1, 28, 28) -> logits (B, classes)."""
    layers: list[tuple[str, nn.Module]] = [("flatten", nn.Flatten())]
    sizes = [in_features, 300, 100]
    for i in range(2):
        layers += [(f"fc{i + 1}", nn.Linear(sizes[i], sizes[i + 1])), (f"relu{i + 1}", nn.ReLU())]
        if dropout:
            layers.append((f"drop{i + 1}", nn.Dropout(dropout)))
    layers.append(("fc3", nn.Linear(100, classes)))
    return nn.Sequential(OrderedDict(layers))


def conv_net(name: str = "conv2", in_channels: int = 3, image_size: int = 32, classes: int = 10,
             dropout: float = 0.0, width: float = 1.0) -> nn.Sequential:
    """Conv-2/4/6: (B, 3, 32, 32) -> logits (B, classes). ``width`` scales the channels (0.25:
    Conv-2 with 16 channels, a CPU-sized stand-in; the paper's networks have width 1)."""
    if not 0 < width <= 4 or round(64 * width) != 64 * width:
        raise ValueError(f"width must be in (0, 4] and give whole channels (64 x width), got {width}")
    layers: list[tuple[str, nn.Module]] = []
    c, n = in_channels, 0
    for block, channels in enumerate(CONV_CHANNELS[name]):
        width_here = round(channels * width)
        for _ in range(2):
            n += 1
            layers += [(f"conv{n}", nn.Conv2d(c, width_here, 3, padding=1)),
                       (f"relu{n}", nn.ReLU())]
            c = width_here
        layers.append((f"pool{block + 1}", nn.MaxPool2d(2)))
        image_size //= 2
    layers.append(("flatten", nn.Flatten()))
    sizes = [c * image_size * image_size, 256, 256]
    for i in range(2):
        layers += [(f"fc{i + 1}", nn.Linear(sizes[i], sizes[i + 1])), (f"relu_fc{i + 1}", nn.ReLU())]
        if dropout:
            layers.append((f"drop{i + 1}", nn.Dropout(dropout)))
    layers.append(("fc3", nn.Linear(256, classes)))
    return nn.Sequential(OrderedDict(layers))


def init_glorot(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Gaussian Glorot weights and zero biases, drawn from ``generator``; returns ``model``."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                fan_in = m.weight[0].numel()
                fan_out = m.weight.shape[0] * m.weight[0, 0].numel()
                std = (2.0 / (fan_in + fan_out)) ** 0.5
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator) * std)
                m.bias.zero_()
    return model


def build(name: str, seed: int = 0, dropout: float = 0.0, width: float = 1.0) -> nn.Sequential:
    """A freshly initialised ``name`` ("lenet", "conv2", "conv4" or "conv6"), seeded; ``width``
    scales a conv net's channels (LeNet has only width 1)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    if name == "lenet" and width != 1.0:
        raise ValueError("width applies to the conv nets only; LeNet-300-100 has width 1.0")
    model = (lenet(dropout=dropout) if name == "lenet"
             else conv_net(name, dropout=dropout, width=width))
    return init_glorot(model, torch.Generator().manual_seed(seed))


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Number of weights per parameter name, e.g. {"fc1.weight": 235200, "fc1.bias": 300, ...}."""
    return {name: p.numel() for name, p in model.named_parameters()}
