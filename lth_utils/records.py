"""Reading a study record: from the JSON that ``lottery.run_study`` writes to numbers and tables.

A record (see ``data/results/*.json``) holds ``config`` (``iterations`` is the training horizon),
``rounds`` (round r: ``fraction_remaining`` and ``arms``: arm name -> one dict per trial with
``iteration``, ``test_acc``, ``early_stop_iteration``, ``early_stop_test_acc``, ...) and
``oneshot`` (the same per one-shot level, arm "oneshot", with ``rounds_equivalent``). Everything
here is pure: it reads a record and returns numbers, numpy arrays, rows (lists of dicts of strings)
or strings, and draws nothing. It works for any profile: it uses the rounds, trials and one-shot
levels the record has, never fixed numbers. The figures built on it are in :mod:`lottery_plots`.
"""
from __future__ import annotations

import html
import math

import numpy as np

from . import results

PAPER_FRACTIONS = (1.0, 0.51, 0.21, 0.07, 0.036, 0.019)   # the paper's LeNet Figure 3 curves
ARMS = ("ticket", "reinit", "random_mask")                 # the arms of the iterative rounds


def _stats(values) -> dict[str, np.ndarray]:
    """Mean, min and max over trials of a (trials, ...) array-like."""
    a = np.asarray(values, dtype=float)
    return {"mean": a.mean(0), "lo": a.min(0), "hi": a.max(0)}


def fraction_label(fraction: float) -> str:
    """'51.2%' for 0.512, '1.8%' for 0.018: how the book names a sparsity level."""
    return f"{100 * fraction:.1f}%" if fraction < 0.995 else "100%"


def nearest_rounds(record: dict, targets=PAPER_FRACTIONS) -> list[int]:
    """Indices of the record's rounds nearest (in log scale) to each target fraction remaining.

    Duplicates are dropped, so a record with few rounds gives fewer indices than targets.
    """
    fr = np.log([e["fraction_remaining"] for e in record["rounds"]])
    out: list[int] = []
    for t in targets:
        i = int(np.abs(fr - np.log(t)).argmin())
        if i not in out:
            out.append(i)
    return out


def round_curves(record: dict, round_index: int, arm: str = "ticket") -> dict | None:
    """Test accuracy over training of one arm in one round: iterations (E,), mean/lo/hi (E,).

    The dense round (0) has only the "ticket" arm: every control is the dense network there,
    so asking for a control at round 0 returns the dense curves. ``None`` if the arm is missing.
    """
    arms = record["rounds"][round_index]["arms"]
    members = arms.get(arm) if round_index > 0 else arms["ticket"]
    if not members:
        return None
    # the test curve has its own grid when the study tested less often than it validated
    grid = members[0].get("test_iteration", members[0]["iteration"])
    return {"iteration": np.asarray(grid), **_stats([m["test_acc"] for m in members])}


def acc_ylim(curves: list[dict], skip: float = 0.1) -> tuple[float, float]:
    """Y-limits for :func:`round_curves` results that zoom on where the networks end up, as the
    paper's Figure 3 does: the first ``skip`` of training (the climb from the untrained
    network's 10%) is left below the axis. Returns (lo, hi) in [0, 1]."""
    lows = [c["mean"][c["iteration"] >= skip * c["iteration"][-1]].min()
            for c in curves if len(c["mean"]) > 1]
    highs = [c["hi"].max() for c in curves]
    lo = max(0.0, min(lows) - 0.005) if lows else 0.0
    return lo, min(1.0, max(highs) + 0.003)


def _arm_levels(record: dict, arm: str) -> list[tuple[float, list[dict]]]:
    """(fraction remaining, trials) per sparsity level of ``arm``, the dense network first."""
    dense = record["rounds"][0]
    entries = [dense] + [e for e in record["rounds"][1:] if arm in e["arms"]] if arm != "oneshot" \
        else [dense] + list(record.get("oneshot", []))
    return [(e["fraction_remaining"], e["arms"].get(arm) or e["arms"]["ticket"]) for e in entries]


def arm_summary(record: dict, arm: str, key: str = "early_stop_test_acc") -> dict | None:
    """``key`` of ``arm`` per sparsity level: fraction (L,), mean/lo/hi (L,) over trials.

    ``arm`` is "ticket", "reinit", "random_mask" (iterative rounds) or "oneshot" (the record's
    one-shot levels). Every arm starts at the dense network (100%), which they all share.
    ``None`` if the record has no such arm.
    """
    levels = _arm_levels(record, arm)
    if len(levels) < 2 and arm != "ticket":
        return None
    values = [[m[key] for m in members] for _, members in levels]
    s = {k: np.array([_stats(v)[k] for v in values]) for k in ("mean", "lo", "hi")}
    return {"fraction": np.array([f for f, _ in levels]), **s}


def round_state(record: dict, round: int, arms=ARMS) -> dict:
    """What chapter 5's pruning-round slider shows at ``round`` of a study ``record``.

    Returns ``{"round", "fraction_remaining", "label", "curves", "dense", "early_stop", "ylim"}``:
    ``curves`` maps each arm present in that round to ``{"iteration", "mean", "lo", "hi"}``
    (test accuracy over training: mean and min–max over trials, arrays of shape (E,));
    ``dense`` is the same for the unpruned network (round 0); ``early_stop`` maps each arm to its
    mean test accuracy at early stop; ``ylim`` is fixed for the whole record, so that moving the
    slider moves the curves, not the axis.
    """
    n = len(record["rounds"]) - 1
    if not 0 <= round <= n:
        raise ValueError(f"round must be between 0 and {n} for this record, got {round}")
    entry = record["rounds"][round]
    present = [a for a in arms if a in entry["arms"]]
    every = [round_curves(record, i, a) for i, e in enumerate(record["rounds"])
             for a in arms if a in e["arms"]]
    return {"round": round, "fraction_remaining": entry["fraction_remaining"],
            "label": fraction_label(entry["fraction_remaining"]),
            "curves": {a: round_curves(record, round, a) for a in present},
            "dense": round_curves(record, 0, "ticket"),
            "early_stop": {a: float(np.mean([m["early_stop_test_acc"] for m in entry["arms"][a]]))
                           for a in present},
            "ylim": acc_ylim(every)}


def provenance(record: dict) -> str:
    """One line saying where a figure's numbers come from (profile, trials, code, compute time).

    Its parts are joined by " · ", so that a figure can break it into lines between them.
    """
    c, p = record["config"], results.provenance_parts(record)
    return (f"record {c['name']} · profile {c['profile']} · {p['trials']} · "
            f"{len(record['rounds']) - 1} rounds · {c['iterations']:,} iterations each · "
            f"{p['code']} · {p['compute']}")


# --- early stops at the end of training: not a measured minimum ------------------------------

def late_after(horizon: float, last: float = 0.1) -> float:
    """The iteration after which an early stop of a run trained ``horizon`` iterations counts
    as late (chapter 5's rule): ``(1 - last) * horizon``. For a run whose horizon is not its
    record's ``config["iterations"]`` (a fine-tuning, edge-popup's own length)."""
    if not 0 < last < 1:
        raise ValueError(f"last must be a fraction of training in (0, 1), got {last!r}: "
                         f"e.g. 0.1 for the last tenth")
    return (1 - last) * horizon


def _late_threshold(record: dict, last: float) -> float:
    """The iteration after which an early stop of ``record``'s training counts as late."""
    return late_after(record["config"]["iterations"], last)


def is_late(record: dict, iteration: float, last: float = 0.1) -> bool:
    """Whether an early stop at ``iteration`` falls in the last ``last`` of ``record``'s training:
    ``iteration > (1 - last) * record["config"]["iterations"]``, the rule of
    :func:`late_early_stops`. Any record with ``config["iterations"]`` (the lottery,
    pruning-at-initialisation and transfer studies) can be read with it."""
    return bool(iteration > _late_threshold(record, last))


def late_early_stops(record: dict, last: float = 0.1) -> list[dict]:
    """Every trial whose early stop falls in the last ``last`` of training.

    The early stop is the iteration of lowest validation loss; when it falls at (or next to) the
    end of training, the loss was still going down: it is not a measured minimum, and the run
    might have gone on improving. Late means ``early_stop_iteration > (1 - last) * horizon``,
    with the horizon ``record["config"]["iterations"]``.

    Returns one dict per late trial, ``{"round", "fraction_remaining", "arm", "trial",
    "iteration"}``: iterative rounds first (``round`` is the index in ``record["rounds"]``; the
    dense round 0 has the arm "ticket"), then one-shot levels (``arm`` "oneshot", ``round`` their
    ``rounds_equivalent``). An empty list when every early stop is a measured minimum.
    """
    t = _late_threshold(record, last)
    out = []
    entries = [(i, e) for i, e in enumerate(record["rounds"])] + \
        [(e["rounds_equivalent"], e) for e in record.get("oneshot", [])]
    for r, e in entries:
        for arm, members in e["arms"].items():
            out += [{"round": r, "fraction_remaining": e["fraction_remaining"], "arm": arm,
                     "trial": k, "iteration": m["early_stop_iteration"]}
                    for k, m in enumerate(members) if m["early_stop_iteration"] > t]
    return out


def late_flags(record: dict, arm: str, last: float = 0.1) -> np.ndarray | None:
    """Which points of :func:`arm_summary` ``(record, arm)`` to flag as late: (L,) booleans.

    A point (an arm at one sparsity) is flagged when *any* of its trials stops late (see
    :func:`late_early_stops`): its mean then mixes measured minima with runs still improving.
    ``None`` if the record has no such arm.
    """
    if arm != "ticket" and arm_summary(record, arm, "early_stop_iteration") is None:
        return None
    t = _late_threshold(record, last)
    return np.array([any(m["early_stop_iteration"] > t for m in members)
                     for _, members in _arm_levels(record, arm)])


def late_summary(record: dict, last: float = 0.1) -> dict:
    """What a chapter says about late early stops (values ready for ``lth_utils.glue``).

    Returns ``{"trials", "points", "total_points", "arms", "sparsest", "sparsest_label",
    "horizon", "threshold"}``: ``trials`` late trials (:func:`late_early_stops`), ``points`` the
    (arm, sparsity) points with at least one (out of ``total_points``), ``arms`` the arms
    affected, ``sparsest`` the smallest fraction remaining affected (``None`` if none, then
    ``sparsest_label`` is "none"), ``horizon`` the iterations trained and ``threshold`` the
    iteration after which a stop is late.
    """
    late = late_early_stops(record, last)
    points = {(e["arm"], e["round"]) for e in late}
    total = sum(len(e["arms"]) for e in record["rounds"]) + len(record.get("oneshot", []))
    sparsest = min((e["fraction_remaining"] for e in late), default=None)
    return {"trials": len(late), "points": len(points), "total_points": total,
            "arms": sorted({a for a, _ in points}), "sparsest": sparsest,
            "sparsest_label": "none" if sparsest is None else fraction_label(sparsest),
            "horizon": record["config"]["iterations"], "threshold": _late_threshold(record, last)}


# --- two arms over trials: beyond or within the range of the trials --------------------------

def _trial_values(values, name: str) -> np.ndarray:
    """``values`` as a 1-D float array, refused when empty or not a number (NaN)."""
    a = np.asarray(values, dtype=float)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of values over trials, got "
                         f"shape {a.shape}: pool several arms into one list first")
    if np.isnan(a).any():
        raise ValueError(f"{name} has a NaN value: {a.tolist()}")
    return a


def range_gap(a, b) -> float:
    """How far the trials of ``a`` lie above those of ``b``: ``min(a) - max(b)``.

    ``a``, ``b``: the values of two arms over trials (1-D, e.g. test accuracies, shape
    (trials,)). Positive: every trial of ``a`` is above every trial of ``b``, by this much (the
    empty stretch between the two ranges). Zero: the ranges touch. Negative: they overlap (or
    ``a`` lies below ``b``). Swap the arguments for how far ``b`` lies above ``a``.
    """
    return float(_trial_values(a, "a").min() - _trial_values(b, "b").max())


def compare_ranges(a, b) -> str:
    """Where the trials of ``a`` lie against those of ``b``: "above", "below" or "within".

    ``a``, ``b``: the values of two arms over trials (1-D, e.g. test accuracies, shape
    (trials,)). "above" when every value of ``a`` is strictly above every value of ``b``
    (``min(a) > max(b)``), "below" when every value is strictly below (``max(a) < min(b)``):
    the book says "beyond the range of the trials". Otherwise "within": the two ranges overlap
    or touch (``min(a) == max(b)`` is within). A single value is no range: with fewer than two
    trials on either side the answer is "within" (a chapter says "one trial" in its own words).
    Equal means are always "within". Where the mean gap is told from noise by another rule
    (a spread, two standard errors: :func:`two_se`), that rule is the caller's; this one reads
    ranges only.
    """
    a, b = _trial_values(a, "a"), _trial_values(b, "b")
    if len(a) < 2 or len(b) < 2:
        return "within"
    return "above" if a.min() > b.max() else "below" if a.max() < b.min() else "within"


# --- the test set's noise: two standard errors of a test accuracy ----------------------------

def two_se(p: float, n: int, z: float = 2.0) -> float:
    """``z`` standard errors of a test accuracy ``p`` measured on ``n`` test images,
    ``z sqrt(p (1 - p) / n)`` (two by default): how far two test accuracies measured on ``n``
    images can differ by the draw of the test set alone.

    ``p`` and the result are fractions (0.98, not 98%): multiply by 100 for percentage points.
    A test error ``1 - p`` gives the same value. A gap between two accuracies smaller than this
    is one the test set cannot resolve.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"p is a test accuracy as a fraction in [0, 1] (0.98, not 98), "
                         f"got {p}")
    if n < 1:
        raise ValueError(f"n is how many test images the accuracy was measured on, at least 1, "
                         f"got {n}")
    return z * math.sqrt(p * (1 - p) / n)


def paired_two_se(d, z: float = 2.0) -> float:
    """``z`` standard errors of the mean of per-image differences ``d`` (1-D, one value per test
    image, e.g. ``correct_a - correct_b`` with 0/1 correctness, or a difference of two such
    differences): how far a gap between networks measured on the *same* test images can move by
    the draw of those images alone. ``z * sd(d) / sqrt(n)``, with the sample standard deviation.

    Paired, it counts only the images on which the networks disagree: two networks that are
    right and wrong on the same images have a gap no draw of images can change, however far
    their accuracies are from 0 and 1, which :func:`two_se` (one accuracy) cannot see. Fractions
    in, a fraction out (multiply by 100 for percentage points). Like :func:`two_se` it measures
    the test set's noise only, not the noise of training (seeds, batch orders).
    """
    a = np.asarray(d, dtype=float)
    if a.ndim != 1 or len(a) < 2:
        raise ValueError(f"d holds one difference per test image (1-D, at least 2 values), got "
                         f"shape {a.shape}")
    return float(z * a.std(ddof=1) / math.sqrt(len(a)))


# --- the paper's claims, costs and round-by-round tables --------------------------------------

def _ticket_at(record: dict, target: float, key: str) -> tuple[float, float]:
    """(fraction, mean of ``key`` over trials) for the ticket round nearest ``target``."""
    i = nearest_rounds(record, (target,))[0]
    e = record["rounds"][i]
    return e["fraction_remaining"], float(np.mean([m[key] for m in e["arms"]["ticket"]]))


def round_trials(record: dict, r: int, key: str = "early_stop_test_acc",
                 arm: str = "ticket") -> list[float]:
    """``key`` of each trial of ``arm`` at pruning round ``r`` (0: the dense network), the values
    :func:`compare_ranges` reads."""
    return [m[key] for m in record["rounds"][r]["arms"][arm]]


def _at_dense_levels(summary: dict, dense_acc: float) -> np.ndarray:
    """Indices of the pruned levels (of an :func:`arm_summary`) down to which the mean accuracy
    never falls below ``dense_acc``, densest first; empty if the first pruned level does."""
    ok = np.cumprod(summary["mean"] >= dense_acc).astype(bool)
    return np.flatnonzero(ok[1:]) + 1


def _stays_at_dense(summary: dict, levels: np.ndarray) -> str:
    """The sparsest of ``levels`` (:func:`_at_dense_levels` of the ticket's
    :func:`arm_summary`) as a label; a dash and the first level if there are none. If the
    ticket is still at dense in the record's sparsest round, the record ends the measurement:
    "at least to X, the record's sparsest round"."""
    if not len(levels):
        return f"— (below dense already at {fraction_label(summary['fraction'][1])})"
    label = fraction_label(summary["fraction"][levels].min())
    if levels[-1] == len(summary["fraction"]) - 1:       # censored by the last round
        return f"at least to {label}, the record's sparsest round"
    return label


def paper_comparison(record: dict) -> list[dict]:
    """The paper's LeNet claims beside the same quantities computed from ``record``.

    Rows: {"claim", "paper", "ours"} as strings; "ours" names the sparsity it was measured at
    (the record's round nearest the paper's).
    """
    dense_it = arm_summary(record, "ticket", "early_stop_iteration")["mean"][0]
    dense_acc = arm_summary(record, "ticket")["mean"][0]
    f21, it21 = _ticket_at(record, 0.21, "early_stop_iteration")
    f13, acc13 = _ticket_at(record, 0.135, "early_stop_test_acc")
    t = arm_summary(record, "ticket")
    at_dense = _at_dense_levels(t, dense_acc)
    stays = _stays_at_dense(t, at_dense)
    rows = [
        {"claim": "ticket reaches early stop sooner than dense, at ~21% weights remaining",
         "paper": "38% sooner",
         "ours": f"{100 * (1 - it21 / dense_it):.0f}% sooner (at {fraction_label(f21)})"},
        {"claim": "ticket's test accuracy minus dense, at ~13.5% weights remaining",
         "paper": "+0.3 pp",
         "ours": f"{100 * (acc13 - dense_acc):+.2f} pp (at {fraction_label(f13)})"},
        {"claim": "ticket stays at or above dense accuracy down to", "paper": "3.6%",
         "ours": stays},
    ]
    r = arm_summary(record, "reinit")
    if r is not None:
        below = r["mean"] < dense_acc
        # densest level from which on (to the sparsest) the reinitialised net stays below dense
        tail = np.flip(np.cumprod(np.flip(below[1:]))).astype(bool)
        if not tail.any():
            loses = "— (not below dense at any level)"
        else:
            start = int(np.flatnonzero(tail)[0]) + 1          # index into r's levels
            hi, lo = r["fraction"][start - 1], r["fraction"][start]
            # ticket rounds between the last control level at dense and the first below it
            skipped = int(((t["fraction"] < hi) & (t["fraction"] > lo)).sum())
            loses = (f"between {fraction_label(hi)} and {fraction_label(lo)} (no controls "
                     "in between)" if skipped else f"{fraction_label(lo)} on")
        rows.append({"claim": "random reinitialisation is below dense accuracy from",
                     "paper": "21.1% on", "ours": loses})
    return rows


def _gap(gap: float, fraction: float, late: bool) -> str:
    """'-2.12 pp (at 26.3%; late stops, lower bounds)': a gap in accuracy at a sparsity."""
    return f"{100 * gap:+.2f} pp (at {fraction_label(fraction)}" + \
        ("; late stops, lower bounds)" if late else ")")


def ticket_extremes(record: dict) -> tuple[int, int]:
    """The ticket's fastest round (lowest mean early-stop iteration) and its most accurate round
    (highest mean test accuracy at early stop) among the pruned rounds of a lottery ``record``:
    indices into ``record["rounds"]``, picked after looking (the paper's "at best")."""
    it = arm_summary(record, "ticket", "early_stop_iteration")
    acc = arm_summary(record, "ticket")
    return 1 + int(np.argmin(it["mean"][1:])), 1 + int(np.argmax(acc["mean"][1:]))


def conv_paper_comparison(record: dict) -> list[dict]:
    """The paper's Conv-2 claims (Section 3) beside the same quantities from a conv ``record``.

    The paper states best cases ("at best"), so "ours" is the best ticket round of the record,
    named with its sparsity. "paper" says in words what the paper's text states, as bounds
    rather than its exact figures. A point with an early stop in the last tenth of training
    (:func:`late_flags`) is marked: its accuracy is a lower bound. Rows: {"claim", "paper",
    "ours"} as strings.
    """
    it = arm_summary(record, "ticket", "early_stop_iteration")
    acc = arm_summary(record, "ticket")
    late = late_flags(record, "ticket")
    fast, best = ticket_extremes(record)
    at_dense = _at_dense_levels(acc, acc["mean"][0])
    stays = _stays_at_dense(acc, at_dense)
    dense = round_trials(record, 0)
    if any(compare_ranges(round_trials(record, r), dense) != "above" for r in at_dense):
        stays += " (in mean; trial ranges overlap)"   # a mean above, not the trials
    rows = [
        {"claim": "ticket reaches early stop sooner than dense, at best",
         "paper": "more than 3× sooner, with under 10% of the weights left",
         "ours": f"{it['mean'][0] / it['mean'][fast]:.1f}× (at "
                 f"{fraction_label(it['fraction'][fast])}"
                 f"{', late stop' if late[fast] else ''})"},
        {"claim": "ticket's test accuracy minus dense, at best", "paper": "more than +3 pp",
         "ours": f"{100 * (acc['mean'][best] - acc['mean'][0]):+.2f} pp "
                 f"(at {fraction_label(acc['fraction'][best])}"
                 f"{', late stop' if late[best] else ''})"},
        {"claim": "ticket stays above dense accuracy down to", "paper": "about 2%",
         "ours": stays}]
    r, m = arm_summary(record, "reinit"), arm_summary(record, "random_mask")
    if r is not None and m is not None:
        lr, lm = late_flags(record, "reinit"), late_flags(record, "random_mask")
        j = int(np.argmin(r["fraction"]))        # the sparsest level with controls
        rows += [{"claim": "random reinit. minus dense, first round with controls",
                  "paper": "initially steady, even improves (Conv-2, Conv-4)",
                  "ours": _gap(r["mean"][1] - r["mean"][0], r["fraction"][1], lr[1])},
                 {"claim": "random reinit. minus random mask, sparsest controls",
                  "paper": "not compared (its Figure 5: tickets and reinit. only)",
                  "ours": _gap(r["mean"][j] - m["mean"][j], r["fraction"][j], lr[j] or lm[j])}]
    return rows


def pruning_cost(record: dict) -> list[dict]:
    """Per one-shot level: training runs and iterations each method spends, and its accuracy.

    Iterative pruning to round r trains r + 1 networks (the dense one, r - 1 intermediate
    tickets, then the final ticket); one-shot trains 2 (the dense one, then the pruned one).
    Rows: {"round", "fraction_remaining", "iterative_runs", "oneshot_runs",
    "iterative_iterations", "oneshot_iterations", "iterative_acc", "oneshot_acc"} (numbers;
    the accuracies are means over trials) and "gap_by_trial": iterative minus one-shot accuracy
    in each trial (a list). Trial i's two networks share θ0 and batches, so the gaps are paired.
    """
    T = record["config"]["iterations"]
    by_round = {e["round"]: e for e in record["rounds"]}
    acc = lambda ms: float(np.mean([m["early_stop_test_acc"] for m in ms]))  # noqa: E731
    rows = []
    for e in record.get("oneshot", []):
        r = e["rounds_equivalent"]
        if r not in by_round:
            continue
        iterative, oneshot = by_round[r]["arms"]["ticket"], e["arms"]["oneshot"]
        if len(iterative) != len(oneshot):
            raise ValueError(f"round {r}: {len(iterative)} iterative trials but "
                             f"{len(oneshot)} one-shot trials; recompute the record")
        rows.append({"round": r, "fraction_remaining": e["fraction_remaining"],
                     "iterative_runs": r + 1, "oneshot_runs": 2,
                     "iterative_iterations": (r + 1) * T, "oneshot_iterations": 2 * T,
                     "iterative_acc": acc(iterative), "oneshot_acc": acc(oneshot),
                     "gap_by_trial": [a["early_stop_test_acc"] - b["early_stop_test_acc"]
                                      for a, b in zip(iterative, oneshot)]})
    return rows


def summary_rows(record: dict, arms=("ticket", "reinit", "random_mask", "oneshot"),
                 mark_late: bool = False, last: float = 0.1) -> list[dict]:
    """One row per pruning round: weights remaining, each arm's mean test accuracy at early stop
    and the ticket's mean early-stop iteration (strings, for :class:`Table`).

    ``mark_late``: an accuracy whose trials include early stops in the last ``last`` of training
    (:func:`late_early_stops`) gets their count, "51.62% (late 2 of 2)": a lower bound."""
    oneshot = {e["rounds_equivalent"]: e for e in record.get("oneshot", [])}
    t = _late_threshold(record, last)
    rows = []
    for e in record["rounds"]:
        row = {"round": e["round"], "weights left": fraction_label(e["fraction_remaining"])}
        for arm in arms:
            members = (oneshot[e["round"]]["arms"]["oneshot"] if e["round"] in oneshot else None) \
                if arm == "oneshot" else e["arms"].get(arm)
            if arm in ("ticket", "oneshot") or any(arm in x["arms"] for x in record["rounds"]):
                row[arm] = (f"{100 * np.mean([m['early_stop_test_acc'] for m in members]):.2f}%"
                            if members else "")
                k = sum(m["early_stop_iteration"] > t for m in members or [])
                if mark_late and k:
                    row[arm] += f" (late {k} of {len(members)})"
        row["ticket early stop"] = \
            f"{np.mean([m['early_stop_iteration'] for m in e['arms']['ticket']]):,.0f}"
        rows.append(row)
    if not record.get("oneshot"):
        for r in rows:
            r.pop("oneshot", None)
    return rows


def markdown_table(rows: list[dict], header: dict[str, str] | None = None) -> str:
    """A list of dicts (same keys) as a Markdown table; ``header`` renames columns."""
    keys = list(rows[0])
    header = header or {}
    lines = ["| " + " | ".join(str(header.get(k, k)).replace("\n", " ") for k in keys) + " |",
             "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(row[k]).replace("\n", " ") for k in keys) + " |"
              for row in rows]
    return "\n".join(lines)


class Table:
    """A small table for notebooks: ``display(Table(rows, header))``.

    ``rows``: a list of dicts with the same keys (the columns); ``header`` renames columns. It
    shows as HTML in Jupyter and on the web page (where Markdown outputs are rendered as
    CommonMark, which has no tables) and as Markdown in ``str()``. Line breaks in a cell or a
    header (``"97.5\n97.2–97.8"``) are line breaks in HTML, so a wide table can stack a value
    over its range; in Markdown they are spaces.
    """

    def __init__(self, rows: list[dict], header: dict[str, str] | None = None) -> None:
        if not rows:
            raise ValueError("a table needs at least one row")
        self.rows, self.header = rows, header or {}

    def __str__(self) -> str:
        return markdown_table(self.rows, self.header)

    def _repr_markdown_(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        keys = list(self.rows[0])

        def cell(value) -> str:
            return "<br>".join(html.escape(part) for part in str(value).split("\n"))

        head = "".join(f"<th>{cell(self.header.get(k, k))}</th>" for k in keys)
        body = "".join("<tr>" + "".join(f"<td>{cell(r[k])}</td>" for k in keys) + "</tr>"
                       for r in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
