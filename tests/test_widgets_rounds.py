"""Chapter 5's pruning-round slider, the record readers (lth_utils.records) and the chapter 5-6
figures (lth_utils.lottery_plots), on a tiny real study."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lth_utils import lottery, lottery_plots, records, widgets  # noqa: E402


@pytest.fixture(scope="module")
def record(tmp_path_factory, mnist_small):
    """A real 2-round study: 1 trial, 60 iterations, MNIST subset, ticket + reinit + one-shot."""
    cfg = lottery.StudyConfig(trials=1, rounds=2, iterations=60, eval_every=30, train_subset=2000,
                              controls=("reinit",), oneshot_rounds=(2,))
    return lottery.run_study(cfg, out=tmp_path_factory.mktemp("study") / "r.json",
                             progress=False, data=mnist_small, log=lambda *a: None)


def test_round_state_shows_that_rounds_fraction_and_curves(record):
    entry = record["rounds"][2]
    state = records.round_state(record, 2)
    assert state["round"] == 2
    assert state["fraction_remaining"] == entry["fraction_remaining"] < 0.7
    assert state["label"] == records.fraction_label(entry["fraction_remaining"])
    assert set(state["curves"]) == {"ticket", "reinit"}  # only the arms the record has
    for arm in ("ticket", "reinit"):
        c = state["curves"][arm]
        np.testing.assert_allclose(c["mean"], entry["arms"][arm][0]["test_acc"])
        assert list(c["iteration"]) == [0, 30, 60]
        assert state["early_stop"][arm] == \
            pytest.approx(entry["arms"][arm][0]["early_stop_test_acc"])
    dense = record["rounds"][0]["arms"]["ticket"][0]
    np.testing.assert_allclose(state["dense"]["mean"], dense["test_acc"])
    lo, hi = state["ylim"]
    assert 0 <= lo < hi <= 1
    assert records.round_state(record, 1)["ylim"] == state["ylim"]  # the axis does not jump
    with pytest.raises(ValueError, match="round must be between 0 and 2"):
        records.round_state(record, 3)


def test_slider_redraws_for_the_chosen_round(record):
    box = widgets.round_slider(record)
    assert box.slider.value == 2 and box.state["round"] == 2  # starts at the sparsest round
    assert [v for _, v in box.slider.options] == [1, 2]
    first = records.fraction_label(record["rounds"][1]["fraction_remaining"])
    assert box.slider.options[0][0].startswith(first)  # labelled by weights remaining
    out = box.children[1]
    (before,) = out.outputs  # the initial figure is drawn at once, inside the Output widget
    assert "image/png" in before["data"]
    box.slider.value = 1
    assert box.state["round"] == 1
    (after,) = out.outputs  # redrawn, not appended
    assert after["data"]["image/png"] != before["data"]["image/png"]
    assert box.state["fraction_remaining"] == record["rounds"][1]["fraction_remaining"]
    plt.close("all")


def test_figure_helpers_work_on_any_record(record):
    near = records.nearest_rounds(record)  # 100%, 80%, 64% left: nearest the paper's 100%, 51%, ...
    assert near == [0, 2]
    assert records.nearest_rounds(record, (0.8,)) == [1]
    s = records.arm_summary(record, "reinit")
    assert len(s["fraction"]) == 3 and s["fraction"][0] == 1.0
    assert records.arm_summary(record, "random_mask") is None
    o = records.arm_summary(record, "oneshot")
    assert o["fraction"][1] == pytest.approx(record["rounds"][2]["fraction_remaining"], abs=1e-3)
    rows = records.paper_comparison(record)
    assert len(rows) == 4 and all(set(r) == {"claim", "paper", "ours"} for r in rows)
    assert records.markdown_table(rows).count("\n") == len(rows) + 1
    table = records.Table(rows, {"ours": "this record"})
    assert table._repr_html_().count("<tr>") == len(rows) + 1 and "this record" in str(table)
    cost = records.pruning_cost(record)
    assert cost[0]["iterative_iterations"] == 3 * 60 and cost[0]["oneshot_iterations"] == 2 * 60
    assert "profile quick" in records.provenance(record)
    for fig in (lottery_plots.plot_accuracy_curves(record),
                lottery_plots.plot_rounds_grid(record),
                lottery_plots.plot_oneshot_vs_iterative(record),
                lottery_plots.plot_cost(record).figure):
        assert fig.axes and all(ax.get_title() for ax in fig.axes)
    plt.close("all")
