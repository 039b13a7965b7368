"""Reading study records (lth_utils.records) and marking early stops at the end of training
(records.late_early_stops and the figures of lottery_plots), on small synthetic records."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from lth_utils import lottery_plots, records, results  # noqa: E402

T = 1000                       # the horizon: iterations trained
FRACTIONS = [1.0, 0.8, 0.64, 0.512]


def trial(stop: int, acc: float = 0.95) -> dict:
    """One trial's record entry, evaluated every 100 iterations, early stop at ``stop``."""
    it = list(range(0, T + 1, 100))
    curve = [0.1 + (acc - 0.1) * min(1.0, i / max(stop, 1)) for i in it]
    return {"iteration": it, "test_acc": curve, "val_acc": curve,
            "val_loss": [1 - c for c in curve], "early_stop_iteration": stop,
            "early_stop_test_acc": acc, "final_test_acc": acc}


def make_record(stops: dict) -> dict:
    """A 3-round, 2-trial record; ``stops[(round, arm)]`` overrides the default early stops
    (500 and 600); round 0 is dense (ticket only); one one-shot level at round 3."""
    def arm(r, name):
        return [trial(s) for s in stops.get((r, name), (500, 600))]
    rounds = [{"round": 0, "fraction_remaining": 1.0, "arms": {"ticket": arm(0, "ticket")}}]
    rounds += [{"round": r, "fraction_remaining": FRACTIONS[r],
                "arms": {a: arm(r, a) for a in ("ticket", "reinit", "random_mask")}}
               for r in (1, 2, 3)]
    oneshot = [{"rounds_equivalent": 3, "fraction_remaining": FRACTIONS[3], "layers": {},
                "arms": {"oneshot": arm(3, "oneshot")}}]
    return {"schema": 1, "kind": "lth-study", "complete": True, "wall_time_s": 90,
            "config": {"name": "synthetic", "profile": "quick", "trials": 2, "iterations": T},
            "code_version": {"lth_utils": "0.1.0", "git": "abc1234", "source_sha256": "f" * 16},
            "rounds": rounds, "oneshot": oneshot}


LATE = make_record({(2, "ticket"): (500, 1000),        # one of two trials at the very end
                    (3, "reinit"): (950, 700),         # > 900: late
                    (2, "random_mask"): (900, 800),    # exactly 900: not late
                    (3, "oneshot"): (1000, 1000)})
CLEAN = make_record({(2, "random_mask"): (900, 800)})


def hollow(ax) -> list:
    """The flagged (hollow, white-faced) markers drawn on ``ax``: (color, x values) per line."""
    return [(line.get_markeredgecolor(), list(line.get_xdata())) for line in ax.lines
            if line.get_markerfacecolor() == "white" and len(line.get_xdata())]


def test_late_early_stops_lists_every_trial_in_the_last_tenth():
    late = records.late_early_stops(LATE)
    assert late == [
        {"round": 2, "fraction_remaining": 0.64, "arm": "ticket", "trial": 1, "iteration": 1000},
        {"round": 3, "fraction_remaining": 0.512, "arm": "reinit", "trial": 0, "iteration": 950},
        {"round": 3, "fraction_remaining": 0.512, "arm": "oneshot", "trial": 0, "iteration": 1000},
        {"round": 3, "fraction_remaining": 0.512, "arm": "oneshot", "trial": 1, "iteration": 1000}]
    assert records.late_early_stops(LATE, last=0.04) == [e for e in late if e["iteration"] > 960]
    assert records.late_early_stops(CLEAN) == []
    with pytest.raises(ValueError, match="last must be a fraction"):
        records.late_early_stops(LATE, last=1.5)


def test_is_late_is_the_same_rule_for_any_record():
    rec = {"config": {"iterations": 1000}}
    assert not records.is_late(rec, 900) and records.is_late(rec, 901)
    assert records.is_late(rec, 960, last=0.05) and not records.is_late(rec, 950, last=0.05)
    assert all(records.is_late(LATE, e["iteration"]) for e in records.late_early_stops(LATE))
    with pytest.raises(ValueError, match="last tenth"):
        records.is_late(rec, 950, last=0)


def test_late_flags_line_up_with_arm_summary():
    for arm, expected in (("ticket", [0, 0, 1, 0]), ("reinit", [0, 0, 0, 1]),
                          ("random_mask", [0, 0, 0, 0]), ("oneshot", [0, 1])):
        flags = records.late_flags(LATE, arm)
        assert len(flags) == len(records.arm_summary(LATE, arm)["fraction"])
        assert list(flags) == [bool(x) for x in expected], arm
        assert not records.late_flags(CLEAN, arm).any()
    no_oneshot = {**CLEAN, "oneshot": []}
    assert records.late_flags(no_oneshot, "oneshot") is None


def test_late_summary_gives_the_numbers_a_chapter_glues():
    s = records.late_summary(LATE)
    assert s["trials"] == 4 and s["points"] == 3 and s["total_points"] == 1 + 3 * 3 + 1
    assert s["arms"] == ["oneshot", "reinit", "ticket"]
    assert s["sparsest"] == 0.512 and s["sparsest_label"] == "51.2%"
    assert s["horizon"] == T and s["threshold"] == pytest.approx(900)
    clean = records.late_summary(CLEAN)
    assert clean["trials"] == clean["points"] == 0
    assert clean["sparsest"] is None and clean["sparsest_label"] == "none"


def test_early_stop_figure_marks_horizon_last_tenth_and_late_points():
    ax = lottery_plots.plot_early_stop(LATE, "early_stop_iteration")
    flagged = {to_hex(color): xs for color, xs in hollow(ax)}
    assert flagged == {to_hex(lottery_plots.COLORS["ticket"]): [0.64],      # any trial late
                       to_hex(lottery_plots.COLORS["reinit"]): [0.512]}     # random mask: none
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert lottery_plots.late_label() in labels
    assert "early stop in the last tenth: not a measured minimum" in labels
    assert "end of training (1,000 iterations)" in labels and "last tenth of training" in labels
    horizon = [line for line in ax.lines if list(line.get_ydata()) == [T, T]]
    assert horizon, "the horizon is drawn as a horizontal line"
    (band,) = [p for p in ax.patches if p.get_label() == "last tenth of training"]
    ext = band.get_window_extent()        # in pixels, whatever patch type axhspan returns
    ys = ax.transData.inverted().transform([[0, ext.y0], [0, ext.y1]])[:, 1]
    assert min(ys) == pytest.approx(900) and max(ys) == pytest.approx(T)
    assert ax.get_ylim()[1] > T
    plt.close("all")


def test_a_record_without_late_stops_flags_nothing():
    for key in ("early_stop_iteration", "early_stop_test_acc"):
        ax = lottery_plots.plot_early_stop(CLEAN, key)
        assert hollow(ax) == []
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert lottery_plots.late_label() not in labels
        assert ("end of training (1,000 iterations)" in labels) == (key == "early_stop_iteration")
    plt.close("all")


def test_oneshot_vs_iterative_flags_the_late_oneshot_level():
    fig = lottery_plots.plot_oneshot_vs_iterative(LATE)
    acc_ax, it_ax = fig.axes
    for ax in (acc_ax, it_ax):
        xs = sorted(x for _, line in hollow(ax) for x in line)
        assert xs == [0.512, 0.64]               # the one-shot level and the ticket's round 2
        assert lottery_plots.late_label() in [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(list(line.get_ydata()) == [T, T] for line in it_ax.lines)
    assert not any(list(line.get_ydata()) == [T, T] for line in acc_ax.lines)
    plt.close("all")


def test_round_state_and_tables_read_the_record():
    state = records.round_state(LATE, 2)
    assert set(state["curves"]) == {"ticket", "reinit", "random_mask"}
    assert state["label"] == "64.0%" and state["early_stop"]["ticket"] == pytest.approx(0.95)
    rows = records.summary_rows(LATE)
    assert [r["weights left"] for r in rows] == ["100%", "80.0%", "64.0%", "51.2%"]
    assert rows[3]["oneshot"] == "95.00%" and rows[1]["oneshot"] == ""
    text = records.provenance(LATE)
    assert text.startswith("record synthetic · profile quick · 2 trials · 3 rounds")
    one = {**LATE, "config": {**LATE["config"], "trials": 1}, "device": "cpu (1 threads)"}
    assert "· 1 trial ·" in records.provenance(one)
    assert results.provenance_parts(one)["device"] == "cpu (1 thread)"
    assert "(src ffffffff)" in text and "1.5 min of compute" in text
    assert "1.5 min of compute" in text
    cost = records.pruning_cost(LATE)
    assert cost == [{"round": 3, "fraction_remaining": 0.512, "iterative_runs": 4,
                     "oneshot_runs": 2, "iterative_iterations": 4 * T, "oneshot_iterations": 2 * T,
                     "iterative_acc": 0.95, "oneshot_acc": 0.95, "gap_by_trial": [0.0, 0.0]}]
    assert np.allclose(records.arm_summary(LATE, "ticket", "early_stop_iteration")["hi"],
                       [600, 600, 1000, 600])


def test_pruning_cost_pairs_iterative_and_oneshot_by_trial():
    rec = make_record({})
    for m, acc in zip(rec["rounds"][3]["arms"]["ticket"], (0.97, 0.90)):
        m["early_stop_test_acc"] = acc
    for m, acc in zip(rec["oneshot"][0]["arms"]["oneshot"], (0.96, 0.93)):
        m["early_stop_test_acc"] = acc
    (row,) = records.pruning_cost(rec)
    # the means say iterative loses by 1 point; trial by trial it wins one, loses one
    assert row["iterative_acc"] - row["oneshot_acc"] == pytest.approx(-0.01)
    assert row["gap_by_trial"] == pytest.approx([0.01, -0.03])
    rec["oneshot"][0]["arms"]["oneshot"].pop()
    with pytest.raises(ValueError, match="2 iterative trials but 1 one-shot"):
        records.pruning_cost(rec)


def test_conv_paper_comparison_names_the_best_rounds():
    rec = make_record({(0, "ticket"): (600, 600), (2, "ticket"): (200, 200),
                       (3, "ticket"): (1000, 1000)})
    for m in rec["rounds"][3]["arms"]["ticket"]:
        m["early_stop_test_acc"] = 0.97
    for m in rec["rounds"][3]["arms"]["random_mask"]:
        m["early_stop_test_acc"] = 0.90
    rows = {r["claim"].split(",")[0]: r["ours"] for r in records.conv_paper_comparison(rec)}
    assert rows["ticket reaches early stop sooner than dense"] == "3.0× (at 64.0%)"
    # the best round's early stops are the end of training: marked
    assert rows["ticket's test accuracy minus dense"] == "+2.00 pp (at 51.2%, late stop)"
    # rounds 1-2 tie with the dense network: above (or at) it in mean, not beyond its trials
    # ... through round 3, the record's last: the record ends the measurement
    assert rows["ticket stays above dense accuracy down to"] == \
        "at least to 51.2%, the record's sparsest round (in mean; trial ranges overlap)"
    before = [m["early_stop_test_acc"] for r in (1, 2) for m in rec["rounds"][r]["arms"]["ticket"]]
    for r in (1, 2):
        for m in rec["rounds"][r]["arms"]["ticket"]:
            m["early_stop_test_acc"] = 0.97
    rows = {r["claim"].split(",")[0]: r["ours"] for r in records.conv_paper_comparison(rec)}
    assert rows["ticket stays above dense accuracy down to"] == \
        "at least to 51.2%, the record's sparsest round"   # every trial above
    r3 = rec["rounds"][3]["arms"]["ticket"]
    for m in r3:
        m["early_stop_test_acc"] = 0.90                  # below dense: the band ends at round 2
    rows3 = {r["claim"].split(",")[0]: r["ours"] for r in records.conv_paper_comparison(rec)}
    assert rows3["ticket stays above dense accuracy down to"] == "64.0%"
    for m in r3:
        m["early_stop_test_acc"] = 0.97
    for m, a in zip([m for r in (1, 2) for m in rec["rounds"][r]["arms"]["ticket"]], before):
        m["early_stop_test_acc"] = a
    assert rows["random reinit. minus dense"] == "+0.00 pp (at 80.0%)"
    assert rows["random reinit. minus random mask"] == "+5.00 pp (at 51.2%)"
    for m in rec["rounds"][3]["arms"]["reinit"]:
        m["early_stop_iteration"] = 1000
    rows = {r["claim"].split(",")[0]: r["ours"] for r in records.conv_paper_comparison(rec)}
    assert rows["random reinit. minus random mask"] == \
        "+5.00 pp (at 51.2%; late stops, lower bounds)"
    # the paper's column: its claims in words, no figure the text does not state
    paper = {r["claim"].split(",")[0]: r["paper"] for r in records.conv_paper_comparison(rec)}
    assert "Figure 5" not in paper["random reinit. minus dense"]
    assert paper["random reinit. minus random mask"].startswith("not compared")
    for m in rec["rounds"][1]["arms"]["ticket"]:
        m["early_stop_test_acc"] = 0.90
    rows = {r["claim"].split(",")[0]: r["ours"] for r in records.conv_paper_comparison(rec)}
    assert rows["ticket stays above dense accuracy down to"].startswith("— (below dense")


@pytest.mark.parametrize("study", ["lenet-mnist", "conv2-cifar10", "conv4-cifar10", "conv6-cifar10"])
def test_committed_records_match_the_book_configs(study):
    """`make book` (standard) and `make test` (quick) read the committed records of chapters 5-7
    (chapter 7: Conv-2, Conv-4 and Conv-6):
    each must be complete and computed with exactly the config its profile asks for, or the
    chapters would silently retrain (hours, for the standard profile) while the book is built."""
    from lth_utils import lottery, results
    for profile in ("quick", "standard"):
        cfg = lottery.study_config(study, profile)
        path = lottery.record_path(cfg)
        assert path.exists(), f"{path} is missing: run python -m lth_utils study {study} " \
                              f"--profile {profile} and commit the record"
        rec = results.load_cached(path, cfg.to_dict())
        assert rec is not None, f"{path} is stale or incomplete for the {profile} config: rerun " \
                                f"python -m lth_utils study {study} --profile {profile}"
        assert rec.get("trials", list(range(cfg.trials))) == list(range(cfg.trials))
        assert rec.get("device") and rec.get("precision") == "fp32"


@pytest.mark.parametrize("profile", ["quick", "standard"])
@pytest.mark.parametrize("study, config", [("supermasks", "study_config"),
                                           ("prune_at_init", "study_config"),
                                           ("transfer", "transfer_config"),
                                           ("instability", "study_config:lenet"),
                                           ("instability", "study_config:conv2")])
def test_part_two_records_match_the_book_configs(study, config, profile):
    """Chapters 8-11 read the committed record of their profile (quick in `make test`, standard
    in `make book`); a missing or stale one would retrain while the book is built. A config
    "function:arg" calls ``function(arg, profile)`` (chapter 8: one record per network)."""
    import importlib

    from lth_utils import results
    module = importlib.import_module(f"lth_utils.{study}")
    name, _, arg = config.partition(":")
    cfg = getattr(module, name)(*([arg] if arg else []), profile)
    path = module.record_path(cfg)
    assert results.load_cached(path, cfg.to_dict(), verbose=False) is not None, (
        f"{path} is missing or stale for the {profile} config: rerun lth_utils.{study}'s study "
        f"at that profile and commit the record")


def test_table_cells_break_lines_in_html_and_escape_them():
    table = records.Table([{"a": "97.5*\n[97.2,97.8]", "b": "<1"}], {"a": "test\nacc"})
    assert "<td>97.5*<br>[97.2,97.8]</td><td>&lt;1</td>" in table._repr_html_()
    assert "<th>test<br>acc</th><th>b</th>" in table._repr_html_()
    assert str(table).splitlines()[0] == "| test acc | b |"
    assert str(table).splitlines()[-1] == "| 97.5* [97.2,97.8] | <1 |"


def test_summary_rows_can_mark_lower_bounds():
    rows = records.summary_rows(LATE, mark_late=True)
    assert rows[2]["ticket"] == "95.00% (late 1 of 2)" and rows[2]["random_mask"] == "95.00%"
    assert rows[3]["reinit"] == "95.00% (late 1 of 2)"
    assert rows[3]["oneshot"] == "95.00% (late 2 of 2)"
    assert records.summary_rows(LATE)[2]["ticket"] == "95.00%"     # chapter 5's table: as was


def test_rounds_grid_legend_has_every_arm_drawn():
    rec = make_record({})
    rec["rounds"][1]["arms"] = {"ticket": rec["rounds"][1]["arms"]["ticket"]}
    fig = lottery_plots.plot_rounds_grid(rec, rounds=[1, 3])
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert lottery_plots.LABELS["reinit"] in labels
    assert lottery_plots.LABELS["random_mask"] in labels
    plt.close("all")


def test_networks_figure_has_a_column_per_network_and_one_legend():
    small = make_record({})
    for r in small["rounds"][1:3]:                 # controls at the sparsest round only
        r["arms"] = {"ticket": r["arms"]["ticket"]}
    fig = lottery_plots.plot_networks({"Conv-2": LATE, "Conv-4": small})
    top, bottom = fig.axes[:2], fig.axes[2:]
    assert [ax.get_title() for ax in top] == ["Conv-2", "Conv-4"]
    assert len(fig.axes) == 4 and not any(ax.get_legend() for ax in fig.axes)
    assert [ax.get_ylabel() for ax in bottom] == ["test accuracy at early stop", ""]
    # late points hollow in the network that has them, in both rows; none in the other
    assert hollow(top[0]) and hollow(bottom[0]) and not hollow(top[1])
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(labels) == len(set(labels))
    assert lottery_plots.LABELS["random_mask"] in labels and lottery_plots.late_label() in labels
    with pytest.raises(ValueError, match="at least one record"):
        lottery_plots.plot_networks({})
    plt.close("all")


# --- two arms over trials: beyond or within the range of the trials ---------------------------

@pytest.mark.parametrize("a, b, side", [
    ([0.92, 0.93], [0.90, 0.91], "above"),     # every a above every b
    ([0.90, 0.91], [0.92, 0.93], "below"),
    ([0.90, 0.93], [0.91, 0.92], "within"),    # b's range inside a's
    ([0.91, 0.93], [0.90, 0.92], "within"),    # a mean ahead, but the ranges overlap
    ([0.92, 0.93], [0.91, 0.92], "within"),    # touching: min(a) == max(b) is not beyond
    ([0.91, 0.92], [0.92, 0.93], "within"),    # touching from below
    ([0.90, 0.94], [0.91, 0.93], "within"),    # equal means
    ([0.92, 0.92], [0.92, 0.92], "within"),    # the same numbers
    ([0.95], [0.90, 0.91], "within"),          # one trial on a side: no range to judge by
    ([0.95, 0.96], [0.90], "within"),
    ([0.95], [0.90], "within"),
    ((0.5, 0.6, 0.7), np.array([0.1, 0.2]), "above"),   # any 1-D sequences, any trial counts
])
def test_compare_ranges_reads_the_trial_ranges(a, b, side):
    assert records.compare_ranges(a, b) == side
    flipped = {"above": "below", "below": "above", "within": "within"}[side]
    assert records.compare_ranges(b, a) == flipped


def test_range_gap_is_the_stretch_between_the_ranges():
    assert records.range_gap([0.93, 0.95], [0.90, 0.91]) == pytest.approx(0.02)
    assert records.range_gap([0.92, 0.93], [0.91, 0.92]) == 0.0          # touching
    assert records.range_gap([0.91, 0.93], [0.90, 0.92]) == pytest.approx(-0.01)  # overlap
    assert records.range_gap([0.90, 0.91], [0.93, 0.95]) == pytest.approx(-0.05)  # below
    assert records.range_gap([0.4], [0.3]) == pytest.approx(0.1)         # a point is a range
    # the same rule as compare_ranges: positive exactly when above (several trials)
    rng = np.random.default_rng(0)
    for _ in range(200):
        a, b = rng.integers(0, 6, (2, 3)) / 10
        assert (records.range_gap(a, b) > 0) == (records.compare_ranges(a, b) == "above")
        assert (records.range_gap(b, a) > 0) == (records.compare_ranges(a, b) == "below")


@pytest.mark.parametrize("bad", [[], [[0.9, 0.8], [0.7, 0.6]], [0.9, float("nan")]])
def test_compare_ranges_refuses_what_is_not_values_over_trials(bad):
    with pytest.raises(ValueError, match="^a "):
        records.compare_ranges(bad, [0.5, 0.6])
    with pytest.raises(ValueError, match="^b "):
        records.range_gap([0.5, 0.6], bad)


# --- the test set's noise: two standard errors of a test accuracy -----------------------------

def test_two_se_is_two_standard_errors_of_a_test_accuracy():
    # by hand: 0.9 * 0.1 / 10,000 = 9e-6, its square root 0.003, twice that 0.006
    assert records.two_se(0.9, 10_000) == pytest.approx(0.006)
    assert records.two_se(0.5, 100) == pytest.approx(0.1)       # 2 * sqrt(0.25 / 100)
    # a test error 1 - p gives the same
    assert records.two_se(0.1, 10_000) == pytest.approx(records.two_se(0.9, 10_000))
    assert records.two_se(0.0, 500) == records.two_se(1.0, 1) == 0.0
    assert type(records.two_se(np.float64(0.9), np.int64(100))) is float


def test_paired_two_se_counts_only_the_images_the_networks_disagree_on():
    rng = np.random.default_rng(0)
    a = (rng.random(2000) < 0.9).astype(float)
    assert records.paired_two_se(a - a) == 0.0        # the same answers: no noise in the gap
    # against a network wrong everywhere, the gap is a's accuracy: two_se, up to n / (n - 1)
    p = a.mean()
    assert records.paired_two_se(a - 0 * a) == pytest.approx(
        records.two_se(p, 2000) * math.sqrt(2000 / 1999))
    # by hand: 10 images, disagreements +1, +1, -1, the rest 0
    d = np.array([1, 1, -1] + [0] * 7, dtype=float)
    sd = math.sqrt(((1 - 0.1) ** 2 * 2 + (-1 - 0.1) ** 2 + 0.1 ** 2 * 7) / 9)
    assert records.paired_two_se(d) == pytest.approx(2 * sd / math.sqrt(10))
    assert records.paired_two_se(d, z=1) == pytest.approx(sd / math.sqrt(10))
    assert records.paired_two_se(torch.tensor(d)) == pytest.approx(2 * sd / math.sqrt(10))


@pytest.mark.parametrize("d", [[1.0], np.zeros((3, 3)), []])
def test_paired_two_se_needs_one_difference_per_image(d):
    with pytest.raises(ValueError, match="one difference per test image"):
        records.paired_two_se(d)


def test_two_se_scales_with_z():
    one = records.two_se(0.8, 500, z=1)
    assert one == pytest.approx((0.8 * 0.2 / 500) ** 0.5)
    assert records.two_se(0.8, 500) == pytest.approx(2 * one)   # z = 2 by default
    assert records.two_se(0.8, 500, z=3) == pytest.approx(3 * one)


@pytest.mark.parametrize("p", [-0.1, 1.5, 98.0, float("nan")])
def test_two_se_refuses_an_accuracy_outside_0_1(p):
    with pytest.raises(ValueError, match=r"p is a test accuracy as a fraction in \[0, 1\]"):
        records.two_se(p, 1000)


@pytest.mark.parametrize("n", [0, -5])
def test_two_se_refuses_fewer_than_one_test_image(n):
    with pytest.raises(ValueError, match="how many test images.*at least 1"):
        records.two_se(0.9, n)


def test_controls_trained_at_fewer_sparsities_are_joined_by_dashes():
    # controls at every round: solid; controls only at the sparsest round: dashed, since
    # nothing was trained between the dense network and that round
    def styles(rec):
        ax = lottery_plots.plot_early_stop(rec, "early_stop_test_acc")
        colors = {to_hex(lottery_plots.COLORS[a]): a for a in ("ticket", "reinit", "random_mask")}
        return {colors[to_hex(line.get_color())]: line.get_linestyle() for line in ax.lines
                if len(line.get_xdata()) > 1 and to_hex(line.get_color()) in colors
                and line.get_linestyle() != "None"}       # markers only: hollow points
    assert styles(CLEAN) == {"ticket": "-", "reinit": "-", "random_mask": "-"}
    sparse = make_record({})
    for r in (1, 2):
        for arm in ("reinit", "random_mask"):
            del sparse["rounds"][r]["arms"][arm]
    assert styles(sparse) == {"ticket": "-", "reinit": "--", "random_mask": "--"}
    plt.close("all")


def test_curve_rounds_are_the_rounds_every_arm_trained_nearest_the_papers():
    rec = make_record({})               # rounds at 80%, 64% and 51.2% of the weights
    assert lottery_plots.curve_rounds(rec) == [0, 3]            # 51.2% is nearest 51% and 21%
    del rec["rounds"][3]["arms"]["reinit"]
    assert lottery_plots.curve_rounds(rec) == [0, 2]            # without it, 64% is nearest
    assert lottery_plots.curve_rounds(rec, arms=("ticket",)) == [0, 3]


def test_paper_comparison_says_where_the_record_stops_and_where_controls_are_missing():
    def ours(rec):
        return {r["claim"]: r["ours"] for r in records.paper_comparison(rec)}
    rec = make_record({})                                  # every accuracy 0.95
    for r in (2, 3):
        for m in rec["rounds"][r]["arms"]["reinit"]:
            m["early_stop_test_acc"] = 0.9
    row = ours(rec)
    # the ticket never falls below dense: the record's last round, not a measured limit
    assert row["ticket stays at or above dense accuracy down to"] == \
        "at least to 51.2%, the record's sparsest round"
    assert row["random reinitialisation is below dense accuracy from"] == "64.0% on"
    del rec["rounds"][2]["arms"]["reinit"]                 # no control at 64%
    assert ours(rec)["random reinitialisation is below dense accuracy from"] == \
        "between 80.0% and 51.2% (no controls in between)"
    for m in rec["rounds"][3]["arms"]["ticket"]:
        m["early_stop_test_acc"] = 0.9
    assert ours(rec)["ticket stays at or above dense accuracy down to"] == "64.0%"


def test_one_shot_trained_at_fewer_sparsities_is_joined_by_dashes():
    # chapter 6: one-shot pruning at fewer levels than the ticket's rounds, like a control
    # trained at fewer rounds: thin dashes, not a solid line through values nobody measured
    rec = make_record({})
    rec["oneshot"].insert(0, {**rec["oneshot"][0], "rounds_equivalent": 1,
                              "fraction_remaining": FRACTIONS[1]})
    ax = lottery_plots.plot_early_stop(rec, arms=("ticket", "oneshot"))
    styles = {to_hex(line.get_color()): line.get_linestyle() for line in ax.lines
              if len(line.get_xdata()) > 1 and line.get_linestyle() != "None"}
    assert styles[to_hex(lottery_plots.COLORS["oneshot"])] == "--"
    assert styles[to_hex(lottery_plots.COLORS["ticket"])] == "-"
    plt.close("all")


def test_early_stop_panels_list_the_arms_first_in_one_order():
    # chapters 5 and 7 draw both keys one above the other: their legends read alike
    orders = []
    for key in ("early_stop_iteration", "early_stop_test_acc"):
        ax = lottery_plots.plot_early_stop(LATE, key)
        orders.append([t.get_text() for t in ax.get_legend().get_texts()])
    arms = [lottery_plots.LABELS[a] for a in ("ticket", "reinit", "random_mask")]
    assert [o[:3] for o in orders] == [arms, arms]
    assert orders[0][3] == orders[1][3] == lottery_plots.LABELS["dense"]
    plt.close("all")


def test_rounds_grid_draws_the_rounds_with_controls_by_default():
    # controls at rounds 1 and 3 only (chapter 5's standard record: 3, 7 and 15 of 15)
    rec = make_record({})
    rec["rounds"][2]["arms"] = {"ticket": rec["rounds"][2]["arms"]["ticket"]}
    assert lottery_plots.grid_rounds(rec) == [1, 3]
    fig = lottery_plots.plot_rounds_grid(rec)
    assert [ax.get_title() for ax in fig.axes] == ["round 1: 80.0% left", "round 3: 51.2% left"]
    assert not any(t.get_text() == lottery_plots.NO_CONTROLS for ax in fig.axes
                   for t in ax.texts)
    plt.close(fig)
    # a round without controls, asked for: it says so; an odd count: the legend in the spare
    # cell, with every arm
    fig = lottery_plots.plot_rounds_grid(rec, rounds=[1, 2, 3])
    notes = [[t.get_text() for t in ax.texts] for ax in fig.axes[:3]]
    assert notes == [[], [lottery_plots.NO_CONTROLS], []]
    labels = [t.get_text() for t in fig.axes[3].get_legend().get_texts()]
    assert lottery_plots.LABELS["random_mask"] in labels and not fig.legends
    plt.close(fig)
    # no controls at all: a quarter, half, three quarters and all of the way
    for r in rec["rounds"]:
        r["arms"] = {"ticket": r["arms"]["ticket"]}
    assert lottery_plots.grid_rounds(rec) == [1, 2, 3]


def test_networks_ticks_stay_apart_in_a_third_of_the_width():
    # Conv-4 and Conv-6 stop near 9% of the weights: 100% and 50% nearly touched
    rec = make_record({})
    for r, f in zip(rec["rounds"][1:], (0.4, 0.2, 0.086)):
        r["fraction_remaining"] = f
    fig = lottery_plots.plot_networks({"Conv-2": rec, "Conv-4": rec, "Conv-6": rec})
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        boxes = sorted((t.get_window_extent(renderer) for t in ax.get_xticklabels()
                        if t.get_visible() and t.get_text()), key=lambda b: b.x0)
        gaps = [b.x0 - a.x1 for a, b in zip(boxes, boxes[1:])]
        assert min(gaps) > 0.1 * fig.dpi, [t.get_text() for t in ax.get_xticklabels()]
    plt.close(fig)
