"""Build every "Try it" panel of lth_utils.widgets and move each of its controls, with whatever
ipywidgets this interpreter imports; print one JSON line (tests/test_widgets_versions.py runs it
under ipywidgets 7 and 8).

    python tests/widget_probe.py

Inputs are small and synthetic (an untrained LeNet, random images, the committed quick records),
so it takes seconds: what it checks is the ipywidgets layer (controls, observe, the Output that
shows a PNG), not the numbers, which the other widget tests check on real data.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import ipywidgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from lth_utils import data, models, sparse, widgets  # noqa: E402

RECORDS = Path(__file__).resolve().parents[1] / "data" / "results"


def splits(n: int = 64) -> data.Splits:
    """Random 28×28 'MNIST' images (seeded), ``n`` per split."""
    gen = torch.Generator().manual_seed(0)
    x = lambda: torch.randn(n, 1, 28, 28, generator=gen)  # noqa: E731
    y = lambda: torch.randint(0, 10, (n,), generator=gen)  # noqa: E731
    return data.Splits("mnist", tuple(str(i) for i in range(10)), x(), y(), x(), y(), x(), y())


def record(name: str) -> dict:
    return json.loads((RECORDS / name).read_text())


def panels() -> dict:
    """Every panel of lth_utils.widgets, built from small inputs."""
    d, net = splits(), models.build("lenet", seed=0)
    theta0 = {k: v.clone() for k, v in models.build("lenet", seed=1).state_dict().items()}
    rows = [{"density": dens, "batch": b, "format": f, "seconds": 1e-4 * dens + 1e-6}
            for dens in (1.0, 0.1, 0.01) for b in (1, 60) for f in sparse.FORMATS]
    return {
        "sparsity_explorer": lambda: widgets.sparsity_explorer(net, d, 0.5),
        "round_slider": lambda: widgets.round_slider(record("lenet-mnist-quick.json")),
        "supermask_explorer": lambda: widgets.supermask_explorer(
            net, theta0, net.state_dict(), d, keeps=(0.5, 0.1)),
        "speed_slider": lambda: widgets.speed_slider(rows),
        "transfer_slider": lambda: widgets.transfer_slider(record("transfer-lenet-quick.json")),
        "path_slider": lambda: widgets.path_slider(
            [record("instability-lenet-quick.json"), record("instability-conv2-quick.json")]),
        "prune_at_init_explorer": lambda: widgets.prune_at_init_explorer(
            net, d.train_x[:16], d.train_y[:16], "magnitude", 0.99, synflow_rounds=2,
            sparsities=(0.9, 0.99)),
    }


def pngs(out) -> int:
    return sum("image/png" in o.get("data", {}) for o in out.outputs)


def move(control) -> None:
    """Set ``control`` to another value, the way a reader's drag or click would."""
    if hasattr(control, "index") and control.options:
        control.index = (control.index + 1) % len(control.options)
    else:
        control.value = control.max if control.value != control.max else control.min


def check(name: str, build) -> dict:
    box = build()
    top, out = box.children[:2]
    controls = list(top.children) if isinstance(top, ipywidgets.HBox) else [top]
    assert isinstance(out, ipywidgets.Output), f"{name}: no Output under the controls"
    assert pngs(out) == 1, f"{name}: {pngs(out)} figures drawn at once, not 1"
    moved = 0
    for control in controls:
        before = repr(box.state)
        move(control)
        assert pngs(out) == 1, f"{name}: {pngs(out)} figures after moving {control}"
        moved += repr(box.state) != before
    assert moved == len(controls), f"{name}: {len(controls) - moved} control(s) changed nothing"
    plt.close("all")
    return {"controls": [type(c).__name__ for c in controls]}


if __name__ == "__main__":
    report = {"ipywidgets": ipywidgets.__version__, "python": sys.version.split()[0],
              "panels": {name: check(name, build) for name, build in panels().items()}}
    print(json.dumps(report))
