"""The claims a chapter makes about a lottery study record, computed from the record.

A chapter's verdicts ("the ticket stays within a point of the dense network down to 5%", "it
beats both controls") are computed here, not typed, so that they stay true when a record is
recomputed. Each reads a record as :mod:`lth_utils.records` does, and reads an early stop in the
last tenth of training (:func:`lth_utils.records.late_early_stops`, chapter 5's rule) as what it
is: a run still improving near the end of training, whose accuracy is a lower bound, not a final
accuracy. Pure functions: numbers, dicts and sentences for ``lth_utils.glue``; nothing drawn.
"""
from __future__ import annotations

import numpy as np

from .records import (arm_summary, compare_ranges, fraction_label, late_early_stops, late_flags,
                      round_trials, ticket_extremes)
from .results import device_label

MIN_MARGIN = 0.01   # the smallest accuracy difference (1 pp) read as one when trials can't tell
ARM_NAMES = {"dense": "dense", "ticket": "ticket", "reinit": "random-reinitialisation",
             "random_mask": "random-mask", "oneshot": "one-shot"}


def late_by_arm(record: dict, last: float = 0.1) -> dict[str, tuple[int, int]]:
    """``(late trials, trials)`` per arm over the whole record, by :func:`late_early_stops`' rule.

    The dense round counts as the arm "dense" (not the ticket's), the one-shot levels as
    "oneshot"; arms in the order the record first has them. A control whose runs are late was
    still improving when training ended: its accuracy is a lower bound, not a final accuracy.
    """
    flagged = {(e["round"], e["arm"], e["trial"]) for e in late_early_stops(record, last)}
    levels = [(i, "dense" if i == 0 else arm, arm, members)
              for i, e in enumerate(record["rounds"]) for arm, members in e["arms"].items()]
    levels += [(e["rounds_equivalent"], "oneshot", "oneshot", e["arms"]["oneshot"])
               for e in record.get("oneshot", [])]
    counts: dict[str, list[int]] = {}
    for r, name, arm, members in levels:
        c = counts.setdefault(name, [0, 0])
        c[0] += sum((r, arm, k) in flagged for k in range(len(members)))
        c[1] += len(members)
    return {a: (c[0], c[1]) for a, c in counts.items()}


def control_levels(record: dict, controls=("reinit", "random_mask"),
                   last: float = 0.1) -> list[dict]:
    """The rounds where every arm of ``controls`` was trained, densest first.

    One dict per round: ``round`` (its index in ``record["rounds"]``), ``fraction``, ``label``,
    and per arm (the ticket, then ``controls``): ``mean`` and ``range`` (max minus min over
    trials) of the test accuracy at early stop, and ``late``, ``(late trials, trials)`` by
    :func:`late_early_stops`' rule. An empty list if no round has every control.
    """
    flagged = {(e["round"], e["arm"], e["trial"]) for e in late_early_stops(record, last)}
    out = []
    for i, e in enumerate(record["rounds"]):
        if i == 0 or not all(a in e["arms"] for a in controls):
            continue
        level = {"round": i, "fraction": e["fraction_remaining"],
                 "label": fraction_label(e["fraction_remaining"]),
                 "mean": {}, "range": {}, "late": {}}
        for arm in ("ticket", *controls):
            acc = [m["early_stop_test_acc"] for m in e["arms"][arm]]
            level["mean"][arm] = float(np.mean(acc))
            level["range"][arm] = float(np.ptp(acc))
            level["late"][arm] = (sum((i, arm, k) in flagged for k in range(len(acc))), len(acc))
        out.append(level)
    return out


def censoring_note(late: dict[str, tuple[int, int]], last: float = 0.1) -> str:
    """What late early stops mean for a comparison, as a sentence without its capital.

    ``late``: arm -> ``(late trials, trials)`` (a :func:`control_levels` entry's ``late``, or
    :func:`late_by_arm`). A late run was still improving when training ended, so its accuracy
    is a lower bound, not a final accuracy: the sentence names those arms and what follows for
    the ticket's lead over them.
    """
    part = "tenth" if abs(last - 0.1) < 1e-9 else f"{100 * last:g}%"
    cut = [f"{k} of {n} {ARM_NAMES.get(a, a)} run{'s' * (n != 1)}"
           for a, (k, n) in late.items() if k]
    if not cut:
        return (f"no run stopped in the last {part} of training: every accuracy here is "
                f"read at a measured minimum of the validation loss")
    listed = cut[0] if len(cut) == 1 else ", ".join(cut[:-1]) + " and " + cut[-1]
    text = (f"{listed} stopped in the last {part} of training: they were still improving "
            f"near its end, so their accuracies are lower bounds, not final accuracies")
    ticket = late.get("ticket")
    if ticket and not ticket[0] and len(cut) < len(late):
        text += (f"; the ticket's {ticket[1]} run{'s' * (ticket[1] != 1)} stopped earlier, at "
                 f"measured minima, so its lead over the others may shrink with a longer "
                 f"horizon")
    return text


def ticket_vs_controls(record: dict, controls=("reinit", "random_mask"), last: float = 0.1,
                       floor: float = MIN_MARGIN) -> dict | None:
    """The ticket against each control at the sparsest round with every control.

    That round's :func:`control_levels` entry, plus ``gap`` (arm -> the ticket's mean minus the
    control's), ``margin`` (the widest range over trials of the arms there, at least ``floor``:
    what a gap must exceed to be read as a difference), ``beats`` (arm -> gap > margin) and
    ``note`` (:func:`censoring_note` of its late stops). ``None`` if no round has every control.
    """
    levels = control_levels(record, controls, last)
    if not levels:
        return None
    level = levels[-1]
    gap = {a: level["mean"]["ticket"] - level["mean"][a] for a in controls}
    margin = max(floor, *level["range"].values())
    return {**level, "gap": gap, "margin": margin,
            "beats": {a: bool(g > margin) for a, g in gap.items()},
            "note": censoring_note(level["late"], last)}


def near_dense(record: dict, floor: float = MIN_MARGIN) -> dict:
    """How the ticket's mean test accuracy at early stop compares with the dense network's.

    ``tol`` is the dense network's range over trials (at least ``floor``): a ticket less than
    ``tol`` below dense cannot be told from it with these trials. Returns ``{"dense", "tol",
    "within", "within_label", "within_note", "above", "beyond", "rounds", "best_gain", "best_left",
    "best_label", "above_note"}``: ``within`` is the sparsest fraction down to which every
    round is at most ``tol`` below dense (``None`` if the first pruned round is not; then
    ``within_label`` is "none"), ``within_note`` says the same as a phrase for the text,
    ``above`` counts the pruned rounds (of ``rounds``) above dense in mean, ``beyond`` those
    whose every trial is above every dense trial, ``best_gain`` is the ticket
    minus dense at its best round (``best_left``), ``above_note`` a clause for the text.

    Paired, each trial's ticket against its own trial's dense network (same θ0, batches and
    test images; the range above mixes in the spread between seeds): ``paired_below`` and
    ``paired_above`` list the fractions of the pruned rounds where the ticket is below (above)
    its dense network in every trial, ``paired_note`` says so in a sentence. With fewer than
    two trials both are empty.
    """
    acc = arm_summary(record, "ticket")
    dense = round_trials(record, 0)
    tol = max(floor, float(np.ptp(dense)))
    diff = acc["mean"][1:] - acc["mean"][0]
    ok = np.cumprod(diff >= -tol).astype(bool)
    within = float(acc["fraction"][1:][ok].min()) if ok.any() else None
    best = ticket_extremes(record)[1] - 1     # index into diff
    above = int((diff > 0).sum())
    beyond = sum(compare_ranges(round_trials(record, r), dense) == "above"
                 for r in range(1, len(acc["mean"])))
    paired = {"below": [], "above": []}
    for r in range(1, len(acc["mean"])):
        d = np.subtract(round_trials(record, r), dense)
        if len(d) > 1 and ((d < 0).all() or (d > 0).all()):
            paired["below" if d[0] < 0 else "above"].append(float(acc["fraction"][r]))
    labels = {k: ", ".join(fraction_label(f) for f in v) for k, v in paired.items()}
    paired_note = ("with one trial there is no pairing to read" if len(dense) < 2 else
                   "; ".join(f"{side} it in every trial at {labels[side]} of the weights"
                             for side in ("below", "above") if paired[side])
                   or "on neither side of it in every trial at any pruned round")
    return {"dense": float(acc["mean"][0]), "tol": tol, "within": within,
            "paired_below": paired["below"], "paired_above": paired["above"],
            "paired_note": paired_note,
            "within_label": fraction_label(within) if within is not None else "none",
            "within_note": f"down to {fraction_label(within)} of the weights"
            if within is not None else
            f"at no pruned round (already further below at {fraction_label(acc['fraction'][1])})",
            "above": above, "rounds": len(diff), "best_gain": float(diff[best]),
            "best_left": float(acc["fraction"][1 + best]),
            "best_label": fraction_label(acc["fraction"][1 + best]),
            "beyond": beyond,
            "above_note": "never above it" if not above else
            f"above it in mean at {above} of its {len(diff)} pruned rounds, beyond the "
            f"dense trials' range at {beyond or 'none'}"}


def paper_claims(record: dict, last: float = 0.1) -> dict:
    """The paper's two claims for each of its conv networks, read against a record's trials.

    *Speed*: the ticket's fastest round (lowest mean early-stop iteration) against the dense
    network; *accuracy*: its most accurate round (highest mean test accuracy at early stop)
    against the dense network, each by :func:`lth_utils.records.compare_ranges` (every trial of
    one beyond every trial of the other; one trial a side is "within"). Both rounds are picked
    after looking, among the record's pruned rounds. Returns ``{"speed", "accuracy"}`` (the
    verdicts: "below"/"within"/"above" for the early stop, "above"/"within"/"below" for the
    accuracy), ``"held"`` (claim -> reproduced in direction: speed "below", accuracy "above"),
    ``"ratio"`` (dense mean early stop over the fastest round's), ``"fast_left"``,
    ``"fast_late"`` (that round has a trial stopped in the last ``last`` of training), ``"gain"``
    (best round minus dense, a fraction), ``"best_left"``, ``"best_late"``, ``"trials"``.
    """
    it = arm_summary(record, "ticket", "early_stop_iteration")
    acc = arm_summary(record, "ticket")
    late = late_flags(record, "ticket", last)
    fast, best = ticket_extremes(record)

    speed = compare_ranges(round_trials(record, fast, "early_stop_iteration"),
                           round_trials(record, 0, "early_stop_iteration"))
    accuracy = compare_ranges(round_trials(record, best), round_trials(record, 0))
    return {"speed": speed, "accuracy": accuracy,
            "held": {"speed": speed == "below", "accuracy": accuracy == "above"},
            "ratio": float(it["mean"][0] / it["mean"][fast]),
            "fast_left": float(it["fraction"][fast]), "fast_late": bool(late[fast]),
            "gain": float(acc["mean"][best] - acc["mean"][0]),
            "best_left": float(acc["fraction"][best]), "best_late": bool(late[best]),
            "trials": len(round_trials(record, 0))}


def network_rows(records: dict[str, dict], controls=("reinit", "random_mask"),
                 last: float = 0.1) -> list[dict]:
    """One row per network (``records``: name -> conv study record) for a table beside the
    paper's Figure 5, as strings: ``"network"``, ``"dense"`` (mean test accuracy at early stop,
    range over trials), ``"speed"`` (the fastest ticket: times sooner than dense, where, and
    "beyond" when every trial of that round is beyond every dense trial, else "within":
    :func:`paper_claims`), ``"accuracy"`` (the best ticket minus dense, where, beyond or
    within), ``"controls"`` (the ticket minus each control at the sparsest round with every
    control, with that round's late runs: a late run's accuracy is a lower bound). A late point
    is marked "late".
    """
    rows = []
    for name, record in records.items():
        c = paper_claims(record, last)
        dense = round_trials(record, 0)
        vs = ticket_vs_controls(record, controls, last)
        if vs is None:
            versus = "no round with every control"
        else:
            k = sum(vs["late"][a][0] for a in controls)
            n = sum(vs["late"][a][1] for a in controls)
            versus = (", ".join(f"{100 * vs['gap'][a]:+.1f}" for a in controls)
                      + f" pp at {vs['label']}" + (f" ({k} of {n} late)" if k else ""))
        said = {k: "within" if c[k] == "within" else "beyond" for k in ("speed", "accuracy")}
        rows.append({
            "network": name,
            "dense": f"{100 * np.mean(dense):.1f}% ({100 * min(dense):.1f}-{100 * max(dense):.1f})",
            "speed": f"{c['ratio']:.1f}× at {fraction_label(c['fast_left'])} ({said['speed']}"
                     + (", late)" if c["fast_late"] else ")"),
            "accuracy": f"{100 * c['gain']:+.2f} pp at {fraction_label(c['best_left'])} "
                        f"({said['accuracy']}" + (", late)" if c["best_late"] else ")"),
            "controls": versus})
    return rows


def probe_vs_record(probe: dict, record: dict, last: float = 0.1) -> dict:
    """A conv horizon probe (``horizon-convN-cifar10``, N = 2, 4 or 6) read against the lottery
    record whose sparsest controls it trains twice as long.

    ``beyond`` (arm -> :func:`lth_utils.horizon.beyond_horizon`'s row at the record's horizon
    ``T``) and ``vs`` (:func:`ticket_vs_controls` of the record), then numbers for the text:
    ``late_std`` ("k of its n" control runs late in the record there), ``left`` (the probe's
    fraction of weights), ``minutes`` and ``device`` (its wall time and where it ran), ``T2``
    and ``every`` (its length and test grid), per arm ``gain_ARM``, ``es_ARM`` (its early
    stop), ``at_ARM`` (its accuracy at ``T``), ``acc_ARM`` (at its early stop), per control ``stdgap_ARM`` (the record's lead of
    the ticket over it), ``lead_ARM`` (the one-shot ticket's lead at both networks' own early
    stops) and ``share_ARM`` (its gain over the record's lead), ``share`` ("48%" or "40% to
    48%"), ``late_note`` (which of the probe's own early stops are late, as a clause),
    ``dense`` (``probe`` and ``record``: the two dense networks' results) and ``dense_same``
    (whether the probe's dense network repeats the record's trial 0 exactly).
    """
    from .horizon import beyond_horizon
    controls = ("reinit", "random_mask")
    T = record["config"]["iterations"]
    beyond = {r["arm"]: r for r in beyond_horizon(probe, T, last)}
    vs = ticket_vs_controls(record, controls, last)
    left = probe["sparse"][0]["fraction_remaining"]
    if vs is None or abs(left - vs["fraction"]) > 0.01:
        where = "has no round with both controls" if vs is None else \
            f"has its sparsest controls at {vs['fraction']:.1%}"
        raise ValueError(f"this probe trains {left:.1%} of the weights, but the record "
                         f"{where}: read horizon-NAME against the standard record NAME")
    d0 = record["rounds"][0]["arms"]["ticket"][0]
    out = {"beyond": beyond, "vs": vs, "T": T, "left": left,
           "late_std": f"{sum(vs['late'][a][0] for a in controls)} of its "
                       f"{sum(vs['late'][a][1] for a in controls)}",
           "minutes": probe["wall_time_s"] / 60, "T2": probe["config"]["sparse_iterations"],
           "device": device_label(probe),
           "every": probe["config"]["test_every"],
           "dense": {"probe": probe["dense"], "record": d0},
           "dense_same": all(probe["dense"][k] == d0[k]
                             for k in ("early_stop_iteration", "early_stop_test_acc"))}
    for arm, r in beyond.items():
        out.update({f"gain_{arm}": 100 * r["gain"], f"es_{arm}": r["early_stop_iteration"],
                    f"at_{arm}": r["acc_at_horizon"], f"acc_{arm}": r["early_stop_test_acc"]})
    ticket = beyond["oneshot"]["early_stop_test_acc"]
    for arm in controls:
        out.update({f"stdgap_{arm}": 100 * vs["gap"][arm],
                    f"lead_{arm}": 100 * (ticket - beyond[arm]["early_stop_test_acc"]),
                    f"share_{arm}": beyond[arm]["gain"] / vs["gap"][arm]})
    lo, hi = (f"{min(out[f'share_{a}'] for a in controls):.0%}",
              f"{max(out[f'share_{a}'] for a in controls):.0%}")
    out["share"] = lo if lo == hi else f"{lo} to {hi}"
    whose = {"oneshot": "one-shot ticket's", "reinit": "reinitialised network's",
             "random_mask": "random mask's"}
    late = [whose[a] for a in whose if beyond[a]["late"]]
    out["late_note"] = (f"the {' and the '.join(late)} lowest validation loss falls in the "
                        "last tenth of the probe's run too, so a longer run might narrow the "
                        "lead further" if late else "every early stop of the probe falls "
                        "before the last tenth of its run: measured minima")
    return out
