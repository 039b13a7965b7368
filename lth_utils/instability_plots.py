"""Chapter 8's numbers and figures, read from :func:`lth_utils.instability.run_study`'s records.

Readers first (plain numbers for the text and the Check cell), then one function per figure;
each takes records and returns its figure. Sizes follow :mod:`lth_utils.plots`: at most 7.5 in
wide, text at least 8 pt, the records' provenance under every figure. It also holds
the state and figure of the chapter's "Try it" panel (the panel: ``widgets.path_slider``).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import plots
from .instability import STABLE, TICKET_PARTS, provenance
from .lottery_plots import late_label
from .plots import COLORS, MAX_WIDTH, fraction_ticks, percent_axis
from .records import late_after, two_se

NAMES = {"lenet": "LeNet-300-100 on MNIST", "conv2": "Conv-2 (¼ width) on CIFAR-10"}
PART_LABELS = {"dense": "dense network, k = 0", "ticket": "IMP ticket, reset to θ0",
               "reinit": "ticket's mask, new random init",
               "rewound": "IMP ticket, rewound to θk"}
SHORT_LABELS = {"dense": "dense\nfrom θ0", "ticket": "ticket\nreset to θ0",
                "reinit": "its mask,\nnew init", "rewound": "ticket\nrewound to θk"}
# the book's colours (plots.COLORS); IMP's arms: "reset" is the ticket, "rewind" the rewound one
PART_COLORS = {p: COLORS[p] for p in ("dense", "ticket", "reinit", "rewound")}
PART_COLORS.update(reset=COLORS["ticket"], rewind=COLORS["rewound"])


# ----------------------------------------------------------------------------- readers

def rows(record: dict, part: str = "dense", k: int | None = None) -> list[dict]:
    """The path rows of ``part`` ("dense", "ticket", "reinit", "rewound"), at spawn point
    ``k`` if given, in trial order."""
    out = [r for r in record["paths"] if r["part"] == part and (k is None or r["k"] == k)]
    if not out:
        raise ValueError(f"the record has no {part!r} paths" + (f" at k={k}" if k is not None
                         else "") + ": see record['config'] for what it measured")
    return sorted(out, key=lambda r: r["trial"])


def ks(record: dict) -> list[int]:
    """The spawn points of the dense network, increasing."""
    return sorted({r["k"] for r in record["paths"] if r["part"] == "dense"})


def instabilities(record: dict, part: str = "dense", k: int | None = None) -> np.ndarray:
    """(trials,) instability of ``part`` at ``k`` (dense: k is required)."""
    if part == "dense" and k is None:
        raise ValueError("give k for the dense network: one of ks(record)")
    return np.array([r["instability"] for r in rows(record, part, k)])


def end_accuracy(record: dict, part: str = "dense", k: int | None = 0) -> float:
    """Mean test accuracy of the trained copies (both ends of every trial's path)."""
    rs = rows(record, part, k if part == "dense" else None)
    return float(np.mean([1 - e for r in rs for e in (r["errors"][0], r["errors"][-1])]))


def stable_from(record: dict, threshold: float | None = STABLE) -> int | None:
    """The first k from which every later dense spawn point is stable in every trial
    (instability below ``threshold``), or None if the last one is not. ``threshold=None``:
    below each spawn point's own :func:`noise_floor`, no barrier the test set can resolve."""
    first = None
    for k in reversed(ks(record)):
        limit = noise_floor(record, "dense", k) if threshold is None else threshold
        if instabilities(record, "dense", k).max() >= limit:
            break
        first = k
    return first


TEST_IMAGES = {"lenet": 10_000, "conv2": 10_000}     # MNIST's and CIFAR-10's test sets


def test_images(record: dict) -> int:
    """How many test images the record's paths were evaluated on."""
    c = record["config"]
    return c.get("eval_size") or TEST_IMAGES[c["network"]]


def noise_floor(record: dict, part: str = "dense", k: int | None = 0, z: float = 2.0) -> float:
    """``z`` standard errors of a test error measured on the record's test images:
    :func:`lth_utils.records.two_se`, ``z * sqrt(p (1 - p) / n)``, with ``p`` the mean error of
    ``part``'s trained copies (at ``k`` for the dense network) and ``n`` :func:`test_images`. A
    rise along a path smaller than this is within what evaluating on another ``n`` images could
    change: no barrier the test set can resolve."""
    return two_se(1 - end_accuracy(record, part, k), test_images(record), z)


def imp_late(record: dict, last: float = 0.1) -> dict[str, np.ndarray] | None:
    """Where IMP's early stops fall in the last ``last`` of training (the rule of
    :func:`lth_utils.records.late_early_stops`): there the validation loss was still falling,
    and the accuracy is a lower bound. Per IMP arm ("reset", "rewind"): (R,) booleans, True
    where a trial's early stop is late, in the rounds of :func:`imp_curves`; "dense": (1,)
    booleans, True where a trial of the dense network (round 0, the reference line) stopped
    late. ``None`` for a record that did not keep the early-stop iterations (written before
    ``instability.imp_round`` stored them)."""
    imp = [r for r in record["imp"] if r["round"] >= 1]
    dense = [r for r in record["imp"] if r["round"] == 0]
    if not imp or not dense or "dense_stop" not in dense[0] or \
            any(f"{a}_stop" not in r for r in imp for a in ("reset", "rewind")):
        return None
    t = late_after(record["config"]["iterations"], last)
    out = {a: np.array([max(r[f"{a}_stop"]) > t for r in imp]) for a in ("reset", "rewind")}
    out["dense"] = np.array([max(dense[0]["dense_stop"]) > t])
    return out


def late_trials(record: dict, last: float = 0.1) -> dict[str, int] | None:
    """How many trials stopped late (:func:`imp_late`'s rule), per arm ("reset", "rewind",
    summed over the rounds of :func:`imp_curves`) and for "dense" (round 0); ``None`` for a
    record without early-stop iterations."""
    if imp_late(record, last) is None:
        return None
    t = late_after(record["config"]["iterations"], last)
    out = {"reset": 0, "rewind": 0, "dense": 0}
    for r in record["imp"]:
        for a in (("dense",) if r["round"] == 0 else ("reset", "rewind")):
            out[a] += sum(int(s > t) for s in r[f"{a}_stop"])
    return out


def late_note(record: dict, last: float = 0.1) -> str:
    """A clause for the text (ready for ``lth_utils.glue``): how many of :func:`plot_imp`'s
    points, the dense one included, have a trial whose early stop is late (:func:`imp_late`),
    and whether the dense network is among them (then the line the tickets are read against
    is itself a lower bound)."""
    late = imp_late(record, last)
    if late is None:
        return ("this record did not keep the IMP runs' early-stop iterations, so a stop at "
                "the end of training cannot be marked")
    part = "tenth" if abs(last - 0.1) < 1e-9 else f"{100 * last:g}%"
    n, total = sum(int(v.sum()) for v in late.values()), sum(len(v) for v in late.values())
    if n == 0:
        return (f"none of the {total} points (the dense network's included) has a trial whose "
                f"early stop falls in the last {part} of training: all are measured minima")
    text = (f"{n} of the {total} points (the dense network's included) have a trial whose "
            f"early stop falls in the last {part} of training, drawn hollow: lower bounds")
    d, trials = late_trials(record, last)["dense"], len(record["imp"][0]["dense"])
    if d:
        return text + (f"; the dense network is one of them ({d} of its {trials} trials "
                       "still improving), so the dense accuracy the tickets are compared "
                       "with is a lower bound too")
    return text + "; the dense network is not among them"


def imp_curves(record: dict) -> dict[str, np.ndarray]:
    """IMP accuracy (early stop, test set): ``fraction`` (R,), and per arm ("reset", "rewind")
    ``mean``/``lo``/``hi`` (R,) over trials; ``dense`` the dense networks' mean, and
    ``dense_lo``/``dense_hi`` their range over trials."""
    imp = [r for r in record["imp"] if r["round"] >= 1]
    if not imp:
        raise ValueError("the record has no IMP rounds: the ticket part runs for LeNet only")
    d = record["imp"][0]["dense"]
    out = {"fraction": np.array([r["fraction_remaining"] for r in imp]),
           "dense": float(np.mean(d)), "dense_lo": float(min(d)), "dense_hi": float(max(d))}
    for arm in ("reset", "rewind"):
        v = np.array([r[arm] for r in imp])
        out[arm] = {"mean": v.mean(1), "lo": v.min(1), "hi": v.max(1)}
    return out


def imp_stops(record: dict) -> dict[str, np.ndarray] | None:
    """IMP's early-stop iterations counted from θ0, per arm ("reset", "rewind"): (R, trials)
    in the rounds of :func:`imp_curves`. The rewound arm starts at θ_k, k iterations into the
    dense network's training, so k is added to its stops: a head start is not speed. ``None``
    for a record that did not keep the early-stop iterations (see :func:`imp_late`)."""
    if imp_late(record) is None:
        return None
    imp = [r for r in record["imp"] if r["round"] >= 1]
    k = record["config"]["rewind_iteration"]
    return {"reset": np.array([r["reset_stop"] for r in imp]),
            "rewind": np.array([r["rewind_stop"] for r in imp]) + k}


def vs_dense(record: dict) -> dict[str, np.ndarray]:
    """Each IMP arm's trial range against the dense network's, level by level: per arm
    ("reset", "rewind") an (R,) array of "above" (the arm's lowest trial above the dense
    network's highest), "below" (its highest below the dense lowest) or "overlap". Means are
    not compared: with a few trials, overlapping ranges cannot be read as a difference. Where
    the dense network stopped late (:func:`imp_late`), its accuracy is a lower bound, so an
    "above" is censored: the chapter says so."""
    c = imp_curves(record)
    return {a: np.where(c[a]["lo"] > c["dense_hi"], "above",
                        np.where(c[a]["hi"] < c["dense_lo"], "below", "overlap"))
            for a in ("reset", "rewind")}


def trial_accuracy(record: dict, part: str = "dense", k: int | None = 0) -> np.ndarray:
    """(trials,) test accuracy of each trial's two trained copies (the mean of its path's
    ends), for ``part`` (at ``k`` for the dense network): the dots of :func:`plot_tickets`."""
    rs = rows(record, part, k if part == "dense" else None)
    return np.array([1 - (r["errors"][0] + r["errors"][-1]) / 2 for r in rs])


# ----------------------------------------------------------------------------- figures

def add_footer(fig, records: list[dict], fontsize: float = 8, handles=(), labels=(),
               ncol: int | None = None) -> None:
    """:func:`lth_utils.plots.add_footer` with the records' provenance, one block each."""
    plots.add_footer(fig, [provenance(rec) for rec in records], handles, labels, ncol, fontsize)


def title(record: dict) -> str:
    """A panel's title: the network, and its optimiser when it is not the book's Adam."""
    c = record["config"]
    sgd = c.get("optimizer") == "sgd"
    return NAMES[c["network"]] + (f", SGD at lr {c['lr']:g}" if sgd else "")


def _error_axis(ax) -> None:
    percent_axis(ax, "y", log=False)
    ax.set_xlabel("interpolation α (0: copy A, 1: copy B)")
    ax.set_ylabel("test error")
    ax.grid(alpha=0.3)


def plot_paths(records: list[dict]):
    """Test error along the path between the two copies, one panel per record, one line per
    spawn point k (mean over trials; the band is the range); each panel's legend of its k
    sits under it, clear of the curves. Returns the figure."""
    fig, axes = plt.subplots(1, len(records), figsize=(MAX_WIDTH, 4.2), layout="constrained",
                             squeeze=False)
    for ax, rec in zip(axes[0], records):
        colors = plt.cm.viridis(np.linspace(0, 0.85, len(ks(rec))))
        for c, k in zip(colors, ks(rec)):
            e = np.array([r["errors"] for r in rows(rec, "dense", k)])
            alphas = rows(rec, "dense", k)[0]["alphas"]
            ax.plot(alphas, e.mean(0), color=c, marker="o", ms=3, label=f"k = {k:,}")
            ax.fill_between(alphas, e.min(0), e.max(0), color=c, alpha=0.2, lw=0)
        _error_axis(ax)
        ax.set_title(title(rec), fontsize=10)
        ax.legend(fontsize=8, title="spawned at", title_fontsize=8, loc="upper center",
                  bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    add_footer(fig, records)
    # lay out once: the axes shrink for the legends, and their y ticks change with them
    fig.draw_without_rendering()
    return fig


def plot_instability_vs_k(records: list[dict], threshold: float = STABLE,
                          sharey: bool = False):
    """Instability against the spawn point k, one panel per record: every trial a dot, the
    mean a line, the paper's 2% threshold dashed. ``sharey``: one y scale for every panel
    (records of one network, e.g. two learning rates). Returns the figure."""
    fig, axes = plt.subplots(1, len(records), figsize=(MAX_WIDTH, 3.4), layout="constrained",
                             squeeze=False, sharey=sharey)
    lowest = min(min(0.0, *instabilities(rec, "dense", k)) for rec in records for k in ks(rec))
    for j, (ax, rec) in enumerate(zip(axes[0], records)):
        k_all = ks(rec)
        vals = [instabilities(rec, "dense", k) for k in k_all]
        x = np.arange(len(k_all))
        for i, v in enumerate(vals):
            ax.plot(np.full(len(v), x[i]), v, "o", color="0.5", ms=5, alpha=0.8,
                    label="one trial" if i == 0 else None)
        ax.plot(x, [v.mean() for v in vals], "-s", color=PART_COLORS["dense"], label="mean")
        ax.axhline(threshold, color="k", ls="--", lw=1, label="stable below (paper: 2%)")
        ax.set_xticks(x, [f"{k:,}" for k in k_all])
        T = rec["config"]["iterations"]
        ax.set_xlabel(f"spawn point k (iterations of {T:,})")
        ax.set_ylabel("" if sharey and j else "instability (error rise)")
        percent_axis(ax, "y", log=False)
        ax.set_ylim(bottom=(lowest if sharey else min(0.0, min(v.min() for v in vals)))
                    - 0.002)
        ax.set_title(title(rec), fontsize=10)
        ax.grid(alpha=0.3)
    # one legend under the panels: inside, it covered the threshold line or the trials
    add_footer(fig, records, 8, *axes[0][0].get_legend_handles_labels())
    return fig


def plot_tickets(record: dict, threshold: float = STABLE):
    """(a) instability and (b) accuracy of the trained copies, for the dense network from
    θ0, the IMP ticket reset to θ0, its mask with a new initialisation and the ticket rewound
    to θ_k: dots per trial, bars (a) and lines (b) the mean. Returns the figure."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(MAX_WIDTH, 3.6), layout="constrained")
    parts = ("dense",) + TICKET_PARTS
    left = [r for r in record["imp"] if r["round"] >= 1][-1]["fraction_remaining"]
    for i, p in enumerate(parts):
        rs = rows(record, p, 0 if p == "dense" else None)
        inst = [r["instability"] for r in rs]
        acc = [1 - (r["errors"][0] + r["errors"][-1]) / 2 for r in rs]
        a.bar(i, np.mean(inst), color=PART_COLORS[p], alpha=0.35)
        b.plot([i - 0.3, i + 0.3], [np.mean(acc)] * 2, color=PART_COLORS[p], lw=2)
        for ax, v in ((a, inst), (b, acc)):
            ax.plot(np.full(len(v), i), v, "o", color=PART_COLORS[p], ms=5)
    labels = [SHORT_LABELS[p] for p in parts]
    a.axhline(threshold, color="k", ls="--", lw=1, label="stable below (paper: 2%)")
    a.legend(fontsize=8)
    a.set_ylabel("instability (error rise)")
    a.set_title("(a) instability", fontsize=10)
    b.set_ylabel("test accuracy of the trained copies")
    b.set_title(f"(b) accuracy (tickets: {100 * left:.1f}% of weights)", fontsize=10)
    accs = [1 - e for r in record["paths"] if r["part"] in parts and
            (r["part"] != "dense" or r["k"] == 0) for e in (r["errors"][0], r["errors"][-1])]
    b.set_ylim(min(accs) - 0.01, max(accs) + 0.005)
    for ax in (a, b):
        ax.set_xticks(range(len(parts)), labels, fontsize=8)
        percent_axis(ax, "y", log=False)
        ax.grid(alpha=0.3, axis="y")
    add_footer(fig, [record])
    return fig


def plot_imp(record: dict):
    """Test accuracy at early stop against the weights remaining, IMP resetting to θ0 and
    rewinding to θ_k (mean, bars the range over trials), and the dense network at 100% (its
    mean dashed across, its range shaded). A point with a trial whose early stop falls in the
    last tenth of training (:func:`imp_late`), the dense one included, is drawn hollow, as in
    chapters 5-7; a record without early-stop iterations marks none."""
    c = imp_curves(record)
    late = imp_late(record)
    k = record["config"]["rewind_iteration"]
    fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
    d = {"fraction": np.array([1.0]), "mean": np.array([c["dense"]]),
         "lo": np.array([c["dense_lo"]]), "hi": np.array([c["dense_hi"]])}
    ax.axhspan(c["dense_lo"], c["dense_hi"], color=PART_COLORS["dense"], alpha=0.1, lw=0)
    ax.axhline(c["dense"], color=PART_COLORS["dense"], ls="--", lw=1)
    for arm, s, x, label in (
            ("dense", d, d["fraction"], "dense network (band: its trials' range)"),
            ("reset", c["reset"], c["fraction"], "reset to θ0"),
            ("rewind", c["rewind"], c["fraction"], f"rewind to θk, k = {k:,}")):
        ax.errorbar(x, s["mean"], [s["mean"] - s["lo"], s["hi"] - s["mean"]],
                    marker="o", ms=4, capsize=3, color=PART_COLORS[arm], label=label)
        if late is not None and late[arm].any():
            ax.plot(x[late[arm]], s["mean"][late[arm]], "o", ms=7, mfc="white",
                    mec=PART_COLORS[arm], mew=1.5, ls="none", zorder=3)
    if late is not None and any(v.any() for v in late.values()):
        ax.plot([], [], "o", ms=7, mfc="white", mec="0.3", mew=1.5, ls="none",
                label=late_label())
    percent_axis(ax, "x")            # log, reversed: dense on the left
    fraction_ticks(ax, c["fraction"])
    percent_axis(ax, "y", log=False)
    ax.set_xlabel("weights remaining")
    ax.set_ylabel("test accuracy at early stop")
    ax.set_title(f"IMP on {title(record)}:\nresetting vs rewinding", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    add_footer(fig, [record])
    return fig


# ----------------------------------------------------------------------------- "Try it"

def path_state(records: list[dict], i: int) -> dict:
    """What the slider shows at position ``i``: each record's (network's) i-th spawn point k
    (they differ between networks) with every trial's path errors and instability; a panel
    whose record has fewer spawn points has ``k`` None."""
    out = {"i": i, "panels": []}
    for rec in records:
        name, T, k_all = NAMES[rec["config"]["network"]], rec["config"]["iterations"], ks(rec)
        if i >= len(k_all):
            out["panels"].append({"name": name, "T": T, "k": None, "trials": None})
            continue
        rs = rows(rec, "dense", k_all[i])
        out["panels"].append({"name": name, "T": T, "k": k_all[i], "alphas": rs[0]["alphas"],
                              "trials": [(r["errors"], r["instability"]) for r in rs]})
    return out


def slider_label(records: list[dict], i: int) -> str:
    """The slider's label at position ``i``: each network's k, "–" where it has none."""
    return " / ".join(f"{ks(r)[i]:,}" if i < len(ks(r)) else "–" for r in records)


def _draw_panel(ax, p: dict, fontsize: float = 9, name: bool = True) -> None:
    """One network's panel of a :func:`path_state`: one line per trial (trial i in colour Ci,
    no legend: see :func:`_trial_legend`), the trials' instabilities in the title, under the
    network's name if ``name``. A panel without the spawn point says so; only its own tick
    labels are hidden (``set_yticks([])`` would empty a shared y axis's whole column)."""
    spawn = "no further spawn point" if p["k"] is None else f"k = {p['k']:,} of {p['T']:,}"
    if p["trials"] is not None:
        insts = ", ".join(f"{100 * inst:.1f}" for _, inst in p["trials"])
        spawn += f"\ninstability by trial: {insts} pp"
    ax.set_title(f"{p['name']}\n{spawn}" if name else spawn, fontsize=fontsize)
    if p["trials"] is None:
        ax.text(0.5, 0.5, "not measured", ha="center", va="center",
                transform=ax.transAxes, fontsize=9, color="0.4")
        ax.tick_params(left=False, bottom=False, labelleft=False, labelbottom=False)
        return
    for i, (e, _) in enumerate(p["trials"]):
        ax.plot(p["alphas"], e, marker="o", ms=3, color=f"C{i % 10}", label=f"trial {i}")
    _error_axis(ax)


def _trial_legend(state: dict) -> tuple[list, list[str]]:
    """Handles and labels of the trials' lines (the most trials of any panel of ``state``)."""
    n = max((len(p["trials"]) for p in state["panels"] if p["trials"]), default=0)
    handles = [plt.Line2D([], [], color=f"C{i % 10}", marker="o", ms=3) for i in range(n)]
    return handles, [f"trial {i}" for i in range(n)]


def plot_path_state(state: dict, axes=None):
    """Draw a :func:`path_state`: one panel per network, one line per trial, the trials'
    legend under the panels (``axes``: one per panel, in a figure with constrained layout)."""
    if axes is None:
        fig, axes = plt.subplots(1, len(state["panels"]), figsize=(MAX_WIDTH, 3.3),
                                 layout="constrained", squeeze=False)
        axes = axes[0]
    for ax, p in zip(axes, state["panels"]):
        _draw_panel(ax, p)
    handles, labels = _trial_legend(state)
    if labels:
        axes[0].figure.legend(handles, labels, loc="outside lower center", ncol=len(labels),
                              fontsize=8, frameon=False)
    return axes[0].figure


def plot_path_grid(records: list[dict]):
    """Every position of the slider (the static page): one row per spawn point, one column
    per network (its name above the first row), y shared within a column; the trials'
    instabilities in each panel's title, one legend of the trials under the panels. Returns
    the figure."""
    n = max(len(ks(rec)) for rec in records)
    fig, axes = plt.subplots(n, len(records), figsize=(MAX_WIDTH, 2.3 * n + 1.0),
                             layout="constrained", squeeze=False, sharey="col")
    for i, row in enumerate(axes):
        for ax, p in zip(row, path_state(records, i)["panels"]):
            _draw_panel(ax, p, fontsize=8, name=i == 0)
            if p["trials"] is not None and i < n - 1:
                ax.set_xlabel("interpolation α")
    add_footer(fig, records, 8, *_trial_legend(path_state(records, 0)))
    return fig
