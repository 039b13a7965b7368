"""A chapter's verdicts on a lottery record (lth_utils.claims): the ticket against its controls
and the dense network, with runs cut off by the horizon read as lower bounds. On the small
synthetic records of test_records.py."""
import pytest

from lth_utils import claims
from test_records import LATE, make_record


def test_late_by_arm_counts_runs_by_chapter_5s_rule():
    assert claims.late_by_arm(LATE) == {"dense": (0, 2), "ticket": (1, 6), "reinit": (1, 6),
                                        "random_mask": (0, 6), "oneshot": (2, 2)}
    assert claims.late_by_arm(LATE, last=0.04) == {"dense": (0, 2), "ticket": (1, 6),
                                                   "reinit": (0, 6), "random_mask": (0, 6),
                                                   "oneshot": (2, 2)}


def test_control_levels_and_the_censoring_they_carry():
    levels = claims.control_levels(LATE)
    assert [lv["round"] for lv in levels] == [1, 2, 3]
    last = levels[-1]
    assert last["label"] == "51.2%" and last["mean"]["reinit"] == pytest.approx(0.95)
    assert last["late"] == {"ticket": (0, 2), "reinit": (1, 2), "random_mask": (0, 2)}
    assert levels[1]["late"] == {"ticket": (1, 2), "reinit": (0, 2), "random_mask": (0, 2)}
    no_controls = {**LATE, "rounds": [{**e, "arms": {"ticket": e["arms"]["ticket"]}}
                                      for e in LATE["rounds"]]}
    assert claims.control_levels(no_controls) == []
    assert claims.ticket_vs_controls(no_controls) is None


def test_censoring_note_names_the_late_arms_and_what_follows():
    note = claims.censoring_note({"ticket": (0, 2), "reinit": (2, 2), "random_mask": (1, 2)})
    assert note.startswith("2 of 2 random-reinitialisation runs and 1 of 2 random-mask runs "
                           "stopped in the last tenth of training")
    assert "lower bounds, not final accuracies" in note
    assert "the ticket's 2 runs stopped earlier" in note and "may shrink" in note
    everyone = claims.censoring_note({"ticket": (1, 1), "reinit": (1, 1)})
    assert everyone.startswith("1 of 1 ticket run and 1 of 1 random-reinitialisation run ")
    assert "may shrink" not in everyone              # the ticket is a lower bound too
    assert claims.censoring_note({"ticket": (0, 2)}).startswith("no run stopped")


def test_ticket_vs_controls_needs_a_gap_beyond_the_trials_range():
    rec = make_record({})
    for arm, accs in (("ticket", (0.96, 0.98)), ("reinit", (0.90, 0.91)),
                      ("random_mask", (0.955, 0.965))):
        for m, a in zip(rec["rounds"][3]["arms"][arm], accs):
            m["early_stop_test_acc"] = a
    v = claims.ticket_vs_controls(rec)
    assert v["round"] == 3 and v["margin"] == pytest.approx(0.02)    # the ticket's range
    assert v["gap"]["reinit"] == pytest.approx(0.065) and v["beats"]["reinit"]
    assert v["gap"]["random_mask"] == pytest.approx(0.01) and not v["beats"]["random_mask"]
    assert v["note"].startswith("no run stopped")
    one_trial = claims.ticket_vs_controls(make_record({}), floor=0.005)
    assert one_trial["margin"] == 0.005                # no spread to read: the floor


def test_near_dense_reads_the_ticket_against_the_dense_range():
    rec = make_record({})                              # dense: 0.95 in both trials
    for r, acc in ((1, 0.945), (2, 0.93), (3, 0.96)):
        for m in rec["rounds"][r]["arms"]["ticket"]:
            m["early_stop_test_acc"] = acc
    near = claims.near_dense(rec)
    assert near["tol"] == claims.MIN_MARGIN           # both dense trials agree: the floor
    assert near["within"] == 0.8 and near["within_note"] == "down to 80.0% of the weights"
    assert near["above"] == 1 and near["beyond"] == 1 and near["above_note"] == \
        "above it in mean at 1 of its 3 pruned rounds, beyond the dense trials' range at 1"
    assert near["best_left"] == 0.512 and near["best_gain"] == pytest.approx(0.01)
    # a mean above dense whose trials reach into the dense range is not beyond it
    rec["rounds"][3]["arms"]["ticket"][0]["early_stop_test_acc"] = 0.95
    near = claims.near_dense(rec)
    assert near["above"] == 1 and near["beyond"] == 0
    assert near["above_note"].endswith("beyond the dense trials' range at none")
    rec["rounds"][3]["arms"]["ticket"][0]["early_stop_test_acc"] = 0.96
    for m in rec["rounds"][1]["arms"]["ticket"]:
        m["early_stop_test_acc"] = 0.9
    for m in rec["rounds"][3]["arms"]["ticket"]:
        m["early_stop_test_acc"] = 0.94
    near = claims.near_dense(rec)
    assert near["within"] is None and near["within_note"].startswith("at no pruned round")
    assert near["above_note"] == "never above it" and near["best_gain"] < 0


def test_near_dense_pairs_each_trial_with_its_own_dense_network():
    rec = make_record({})                              # dense: 0.95 in both trials
    rec["rounds"][0]["arms"]["ticket"][1]["early_stop_test_acc"] = 0.97
    # round 1: below its own dense in both trials, though trial 1 is above trial 0's dense
    for m, acc in zip(rec["rounds"][1]["arms"]["ticket"], (0.94, 0.96)):
        m["early_stop_test_acc"] = acc
    for m, acc in zip(rec["rounds"][2]["arms"]["ticket"], (0.96, 0.98)):   # above in both
        m["early_stop_test_acc"] = acc
    for m, acc in zip(rec["rounds"][3]["arms"]["ticket"], (0.96, 0.96)):   # one each way
        m["early_stop_test_acc"] = acc
    near = claims.near_dense(rec)
    assert near["paired_below"] == [0.8] and near["paired_above"] == [0.64]
    assert near["paired_note"] == ("below it in every trial at 80.0% of the weights; above it "
                                   "in every trial at 64.0% of the weights")
    one = make_record({})
    for r in one["rounds"]:
        r["arms"]["ticket"] = r["arms"]["ticket"][:1]
    assert claims.near_dense(one)["paired_note"] == "with one trial there is no pairing to read"



def set_acc(record: dict, r: int, arm: str, accs) -> None:
    for m, a in zip(record["rounds"][r]["arms"][arm], accs):
        m["early_stop_test_acc"] = a


def test_paper_claims_read_speed_and_accuracy_against_the_trials():
    rec = make_record({(0, "ticket"): (500, 600), (1, "ticket"): (200, 300),
                       (2, "ticket"): (450, 700), (3, "ticket"): (950, 400)})
    set_acc(rec, 0, "ticket", (0.90, 0.91))
    set_acc(rec, 1, "ticket", (0.905, 0.92))        # overlaps dense: within
    set_acc(rec, 2, "ticket", (0.93, 0.94))         # the best, beyond dense
    set_acc(rec, 3, "ticket", (0.85, 0.86))
    c = claims.paper_claims(rec)
    assert c["speed"] == "below" and c["ratio"] == pytest.approx(550 / 250)
    assert c["fast_left"] == pytest.approx(0.8) and not c["fast_late"]
    assert c["accuracy"] == "above" and c["gain"] == pytest.approx(0.93 - 0.905 + 0.005)
    assert c["best_left"] == pytest.approx(0.64) and c["held"] == {"speed": True,
                                                                     "accuracy": True}
    set_acc(rec, 2, "ticket", (0.905, 0.94))        # touching the dense range: within
    c = claims.paper_claims(rec)
    assert c["accuracy"] == "within" and not c["held"]["accuracy"]
    rec["rounds"][1]["arms"]["ticket"][1]["early_stop_iteration"] = 550   # overlaps dense
    assert claims.paper_claims(rec)["speed"] == "within"


def test_network_rows_one_per_network_with_verdicts_and_late_controls():
    rec = make_record({(0, "ticket"): (500, 600), (1, "ticket"): (200, 300),
                       (3, "reinit"): (950, 700)})
    set_acc(rec, 0, "ticket", (0.90, 0.91))
    set_acc(rec, 1, "ticket", (0.91, 0.92))
    set_acc(rec, 2, "ticket", (0.90, 0.90))
    set_acc(rec, 3, "ticket", (0.93, 0.93))
    set_acc(rec, 3, "reinit", (0.88, 0.88))
    set_acc(rec, 3, "random_mask", (0.90, 0.90))
    no_controls = {**rec, "rounds": [{**e, "arms": {"ticket": e["arms"]["ticket"]}}
                                     for e in rec["rounds"]]}
    rows = claims.network_rows({"Conv-4": rec, "Conv-6": no_controls})
    assert [r["network"] for r in rows] == ["Conv-4", "Conv-6"]
    assert rows[0]["dense"] == "90.5% (90.0-91.0)"
    assert rows[0]["speed"] == "2.2× at 80.0% (beyond)"
    assert rows[0]["accuracy"] == "+2.50 pp at 51.2% (beyond)"
    assert rows[0]["controls"] == "+5.0, +3.0 pp at 51.2% (1 of 4 late)"
    assert rows[1]["controls"] == "no round with every control"
