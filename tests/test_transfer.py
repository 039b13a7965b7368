"""The transfer study (chapter 11): mask overlap against chance, the four starts, the record."""
import math

import matplotlib
import matplotlib.pyplot
import pytest
import torch

from lth_utils import masks, models, transfer, transfer_plots

matplotlib.use("Agg")


def tiny_pair():
    """Two mask sets on layers of 8 and 4 weights whose overlap is known by hand."""
    a = {"l1.weight": torch.tensor([[1., 1, 1, 1], [0, 0, 0, 0]]),
         "l2.weight": torch.tensor([[1., 0, 0, 0]])}
    b = {"l1.weight": torch.tensor([[1., 1, 1, 0], [1, 0, 0, 0]]),
         "l2.weight": torch.tensor([[1., 1, 1, 1]])}
    return a, b


def test_mask_overlap_known_values():
    rows = {r["layer"]: r for r in transfer.mask_overlap(*tiny_pair())}
    l1, l2, total = rows["l1.weight"], rows["l2.weight"], rows["all"]
    # l1: a keeps 4 of 8, b keeps 4 of 8, 3 in common; chance 0.5 * 0.5
    assert (l1["kept_a"], l1["kept_b"], l1["shared"]) == (4, 4, 3)
    assert l1["both"] == 3 / 8 and l1["chance"] == 0.25
    assert l1["lift"] == 1.5 and l1["of_a"] == 0.75
    # l2: b keeps everything, so it shares all of a, exactly as chance would
    assert l2["shared"] == 1 and l2["chance"] == 0.25 and l2["lift"] == 1.0
    # all: chance is the count-weighted sum of the layers' products (2 + 1 of 12 weights),
    # not the product of the overall fractions (5/12 * 8/12)
    assert total["total"] == 12 and total["shared"] == 4
    assert math.isclose(total["chance"], 3 / 12)
    assert not math.isclose(total["chance"], 5 / 12 * 8 / 12)
    assert math.isclose(total["lift"], 4 / 3) and math.isclose(total["of_a"], 4 / 5)
    # of a's 5 weights a random b with b's per-layer counts keeps 4 * 0.5 + 1 * 1 = 3 on
    # average: 3/5 of a, not b's overall fraction 8/12
    assert math.isclose(total["of_chance"], 3 / 5) and l1["of_chance"] == 0.5


def test_mask_overlap_of_a_mask_with_itself_and_with_random_masks():
    model = models.build("lenet", seed=0)
    g = torch.Generator().manual_seed(0)
    m = transfer.random_like({n: (torch.rand(t.shape, generator=g) < 0.1).float()
                              for n, t in masks.ones(model).items()}, g)
    same = transfer.mask_overlap(m, m)[-1]
    assert same["of_a"] == 1.0 and same["shared"] == same["kept_a"]
    # a random mask with the same counts shares about chance: lift near 1
    lifts = [transfer.mask_overlap(m, transfer.random_like(m, g))[0]["lift"] for _ in range(5)]
    assert all(abs(v - 1) < 0.05 for v in lifts)


def test_the_chance_share_is_what_random_masks_keep_on_average():
    """``of_chance`` of the row "all" is the mean share of a's weights that random masks with b's
    per-layer counts keep, also when a prunes its layers at different rates than b."""
    g = torch.Generator().manual_seed(1)
    a = {"l1.weight": (torch.rand(40, 10, generator=g) < 0.2).float(),
         "l2.weight": (torch.rand(10, 5, generator=g) < 0.9).float()}
    b = {"l1.weight": (torch.rand(40, 10, generator=g) < 0.1).float(),
         "l2.weight": (torch.rand(10, 5, generator=g) < 0.5).float()}
    want = transfer.mask_overlap(a, b)[-1]["of_chance"]
    got = [transfer.mask_overlap(a, transfer.random_like(b, g))[-1]["of_a"] for _ in range(400)]
    assert abs(sum(got) / len(got) - want) < 0.01
    assert abs(want - (b["l1.weight"].sum() + b["l2.weight"].sum()).item() / 450) > 0.05


def test_mask_overlap_refuses_masks_of_different_models():
    a, b = tiny_pair()
    b["l2.weight"] = torch.ones(1, 3)
    with pytest.raises(ValueError, match="same layers and shapes"):
        transfer.mask_overlap(a, b)


def test_pack_roundtrip_and_pixel_keep():
    template = masks.ones(models.build("lenet"))
    g = torch.Generator().manual_seed(1)
    m = {n: (torch.rand(t.shape, generator=g) < 0.3).float() for n, t in template.items()}
    back = transfer.unpack(transfer.pack(m), template)
    assert all(torch.equal(back[n], m[n]) for n in m)
    m["fc1.weight"][:, 0] = 1.0
    m["fc1.weight"][:, 783] = 0.0
    px = transfer.pixel_keep(m)
    assert px.shape == (28, 28) and px[0, 0] == 1.0 and px[27, 27] == 0.0


def test_four_starts_share_counts_and_theta0_where_they_should():
    cfg = transfer.transfer_config("quick")
    template = masks.ones(models.build("lenet"))
    g = torch.Generator().manual_seed(2)
    source = transfer.random_like({n: (torch.rand(t.shape, generator=g) < 0.2).float()
                                   for n, t in template.items()}, g)
    target = transfer.random_like(source, g)
    starts = transfer.four_starts(cfg, source, target, 0, 2, ("mnist", "fashion-mnist"))
    assert [s for s, _, _ in starts] == list(transfer.STARTS)
    init = {s: p for s, p, _ in starts}
    mask = {s: m for s, _, m in starts}
    for s in transfer.STARTS:      # identical per-layer counts
        assert all(int(mask[s][n].sum()) == int(source[n].sum()) for n in source)
    assert all(torch.equal(init["source_ticket"][n], init["target_ticket"][n])
               for n in init["reinit"])
    assert not torch.equal(init["reinit"]["fc1.weight"], init["source_ticket"]["fc1.weight"])
    assert mask["source_ticket"] is source and mask["target_ticket"] is target
    assert not torch.equal(mask["random_mask"]["fc1.weight"], source["fc1.weight"])
    again = transfer.four_starts(cfg, source, target, 0, 2, ("mnist", "fashion-mnist"))
    assert torch.equal(again[2][2]["fc1.weight"], mask["random_mask"]["fc1.weight"])


def test_bad_configs_say_what_to_do():
    with pytest.raises(ValueError, match="increasing rounds"):
        transfer.transfer_config("quick", levels=(4, 2))
    with pytest.raises(ValueError, match="two different"):
        transfer.transfer_config("quick", datasets=("mnist", "mnist"))
    with pytest.raises(ValueError, match="profile"):
        transfer.transfer_config("huge")


@pytest.fixture(scope="module")
def tiny_record(tmp_path_factory):
    cfg = transfer.transfer_config("quick", levels=(1, 2), iterations=10, eval_every=5,
                                   train_subset=300, eval_size=300)
    path = tmp_path_factory.mktemp("transfer") / "tiny.json"
    return cfg, path, transfer.run_transfer(cfg, out=path, progress=False, log=lambda s: None)


def test_tiny_study_records_both_directions_and_is_cached(tiny_record, monkeypatch):
    cfg, path, rec = tiny_record
    assert [(d["source"], d["target"]) for d in rec["directions"]] == \
        [("mnist", "fashion-mnist"), ("fashion-mnist", "mnist")]
    for d in rec["directions"]:
        for lv in d["levels"]:
            assert set(lv["starts"]) == set(transfer.STARTS)
            assert all(len(v) == cfg.trials for v in lv["starts"].values())
    fr = [lv["fraction_remaining"] for lv in rec["levels"]]
    assert fr[0] == pytest.approx(0.5, abs=0.01) and fr[1] == pytest.approx(0.25, abs=0.01)
    tickets = transfer.level_masks(rec, 1)
    assert masks.fraction_remaining(tickets["mnist"]) == pytest.approx(fr[1])
    # the same per-layer counts on both datasets: the overlap's kept_a == kept_b
    assert all(r["kept_a"] == r["kept_b"] for r in rec["levels"][1]["overlap"][0])
    monkeypatch.setattr(transfer, "find_tickets", lambda *a, **k: pytest.fail("recomputed"))
    assert transfer.run_transfer(cfg, out=path, progress=False) == rec


def test_killed_study_resumes_to_the_same_record(tiny_record, tmp_path, monkeypatch):
    cfg, _, rec = tiny_record
    path = tmp_path / "killed.json"
    real, calls = transfer.train_population, []

    def dies_in_the_second_direction(*args, **kwargs):
        calls.append(args[-1] if len(args) > 6 else kwargs.get("desc"))
        if len(calls) == 2 * max(cfg.levels) + 2:      # both datasets' rounds, one direction
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(transfer, "train_population", dies_in_the_second_direction)
    with pytest.raises(KeyboardInterrupt):
        transfer.run_transfer(cfg, out=path, progress=False, log=lambda s: None)
    assert path.with_suffix(".ckpt.pt").exists() and not path.exists()
    monkeypatch.setattr(transfer, "find_tickets", lambda *a, **k: pytest.fail("tickets redone"))
    monkeypatch.setattr(transfer, "train_population", real)
    again = transfer.run_transfer(cfg, out=path, progress=False, log=lambda s: None)
    strip = ("code_version", "wall_time_s")
    assert {k: v for k, v in again.items() if k not in strip} == \
        {k: v for k, v in rec.items() if k not in strip}
    assert not path.with_suffix(".ckpt.pt").exists()


def test_split_by_trials_then_merge_equals_one_run(tmp_path, monkeypatch):
    """Trials 0 and 1 apart (one population each) merge into the two-trial run's record."""
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path))
    cfg = transfer.transfer_config("quick", trials=2, levels=(1, 2), iterations=10,
                                   eval_every=5, train_subset=300, eval_size=300)
    quiet = dict(progress=False, log=lambda s: None)
    whole = transfer.run_transfer(cfg, out=tmp_path / "whole.json", **quiet)
    parts = [transfer.run_transfer(cfg, trials=[t], **quiet) for t in (1, 0)]
    # a config that is not the book's: its parts carry a .variant-KEY, never the book's name
    part1 = transfer.record_path(cfg, [1])
    assert part1.exists() and part1.name.startswith("transfer-lenet-quick.variant-")
    merged = transfer.merge(parts)
    for key in ("dense", "levels", "directions"):
        assert merged[key] == whole[key], key
    with pytest.raises(ValueError, match="holds trials"):
        transfer.run_transfer(cfg, out=part1, trials=[0], **quiet)


def test_figures_fit_the_column(tiny_record):
    _, _, rec = tiny_record
    figs = [transfer_plots.plot_transfer(rec), transfer_plots.plot_overlap(rec),
            transfer_plots.plot_overlap_grid(rec)]
    for fig in figs:
        assert fig.get_figwidth() <= 7.5
        fig.canvas.draw()
        sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]
        assert min(sizes) >= 8
    state = transfer.overlap_state(rec, 0)
    assert state["pixels"]["mnist"].shape == (28, 28) and state["rows"][-1]["layer"] == "all"
    assert "transfer-lenet" in transfer.provenance(rec)


def test_slider_redraws_for_the_chosen_level(tiny_record):
    from lth_utils import widgets
    _, _, rec = tiny_record
    box = widgets.transfer_slider(rec)
    assert box.slider.value == 1 and box.state["label"].endswith("(round 2)")  # the sparsest
    (before,) = box.children[1].outputs
    box.slider.value = 0
    (after,) = box.children[1].outputs        # redrawn, not appended
    assert after["data"]["image/png"] != before["data"]["image/png"]
    assert box.state["label"].endswith("(round 1)")
    matplotlib.pyplot.close("all")


def made_up_record(acc: dict, stops: dict, iterations: int = 1000) -> dict:
    """A transfer record of one direction (mnist -> fashion-mnist), one level and two trials:
    ``acc`` and ``stops`` map each start to its two trials' accuracy and early-stop iteration."""
    starts = {s: [{"early_stop_test_acc": a, "early_stop_iteration": i}
                  for a, i in zip(acc[s], stops[s])] for s in transfer.STARTS}
    return {"config": {"iterations": iterations},
            "levels": [{"fraction_remaining": 0.05}],
            "directions": [{"source": "mnist", "target": "fashion-mnist",
                            "levels": [{"starts": starts}]}]}


def test_control_margins_judge_the_lead_by_the_trials_range():
    acc = {"source_ticket": [0.90, 0.92], "reinit": [0.88, 0.89], "random_mask": [0.80, 0.91],
           "target_ticket": [0.95, 0.96]}
    stops = {s: [500, 600] for s in transfer.STARTS}
    [row] = transfer.control_margins(made_up_record(acc, stops))
    # the better control by mean is reinit (0.885 > 0.855): a lead of 0.025 ...
    assert row["control"] == "reinit" and row["margin"] == pytest.approx(0.025)
    # ... but the random mask's best trial (0.91) is above the ticket's worst (0.90)
    assert row["ahead"] and not row["apart"]
    acc["random_mask"] = [0.80, 0.85]
    [row] = transfer.control_margins(made_up_record(acc, stops))
    assert row["ahead"] and row["apart"] and row["ticket"] == pytest.approx((0.91, 0.90, 0.92))
    acc["source_ticket"] = [0.70, 0.71]                 # behind, below the reinit's range
    [row] = transfer.control_margins(made_up_record(acc, stops))
    assert not row["ahead"] and row["apart"]
    assert transfer.own_gaps(made_up_record(acc, stops), "mnist") == \
        pytest.approx([0.25, 0.25])


def test_late_stops_count_the_last_tenth_of_training():
    acc = {s: [0.9, 0.9] for s in transfer.STARTS}
    stops = {"source_ticket": [900, 950], "reinit": [901, 1000], "random_mask": [1000, 200],
             "target_ticket": [300, 400]}
    rec = made_up_record(acc, stops)
    late = transfer.late_stops(rec)
    # late means after 0.9 x 1,000 iterations: 900 itself is a measured minimum
    assert (late["late"], late["total"], late["threshold"]) == (4, 8, 900)
    assert late["by_start"] == {"source_ticket": (1, 2), "reinit": (2, 2),
                                "random_mask": (1, 2), "target_ticket": (0, 2)}
    assert late["stops"]["target_ticket"] == (300, 350.0, 400)
    assert transfer.late_flags(rec, "mnist", "random_mask").tolist() == [True]
    assert transfer.late_flags(rec, "mnist", "target_ticket").tolist() == [False]


def test_transfer_figure_draws_late_points_hollow(tiny_record):
    from lth_utils.lottery_plots import late_label
    _, _, rec = tiny_record
    fig = transfer_plots.plot_transfer(rec)
    hollow = [line for ax in fig.axes for line in ax.get_lines()
              if line.get_markerfacecolor() == "white" and len(line.get_xdata())]
    flagged = sum(int(transfer.late_flags(rec, d["source"], s).sum())
                  for d in rec["directions"] for s in transfer.STARTS)
    assert sum(len(line.get_xdata()) for line in hollow) == flagged
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert (late_label() in labels) == (flagged > 0)
    matplotlib.pyplot.close(fig)


def test_transfer_figure_uses_the_books_colours(tiny_record):
    """Chapter 11 draws each start in the colour plots.COLORS gives it elsewhere in the book
    (the transferred ticket a ticket's blue, the target's own ticket cyan) and the dense
    network's dashed line in the dense green."""
    from matplotlib.colors import to_hex

    from lth_utils import plots
    _, _, rec = tiny_record
    book = {"source_ticket": "ticket", "reinit": "reinit", "random_mask": "random_mask",
            "target_ticket": "target_ticket"}
    assert {s: to_hex(c) for s, c in transfer_plots.COLORS.items()} == \
        {s: to_hex(plots.COLORS[k]) for s, k in book.items()}
    fig = transfer_plots.plot_transfer(rec)
    for ax in fig.axes:
        dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
        assert dashed and all(to_hex(line.get_color()) == to_hex(plots.COLORS["dense"])
                              for line in dashed)
        drawn = {to_hex(line.get_color()) for line in ax.get_lines() if line.get_marker() == "o"
                 and line.get_markerfacecolor() != "white"}
        assert drawn == {to_hex(plots.COLORS[k]) for k in book.values()}
    matplotlib.pyplot.close(fig)


def test_the_overlap_figure_keeps_clear_of_the_books_arm_colours(tiny_record):
    """The overlap figure's layers take no colour the book gives an arm, a start or the dense
    network (brown is chapter 8's rewound ticket, green the dense network): a reader who has
    learnt the palette reads no layer as a network."""
    from matplotlib.colors import to_hex

    from lth_utils import plots
    _, _, rec = tiny_record
    taken = {to_hex(plots.COLORS[k]) for k in ("ticket", "reinit", "random_mask", "oneshot",
                                                "dense", "rewound", "target_ticket")}
    fig = transfer_plots.plot_overlap(rec)
    drawn = {to_hex(line.get_color()) for line in fig.axes[0].get_lines()}
    assert len(drawn) == len(transfer.overlap_state(rec, 0)["rows"])   # one per layer
    assert not drawn & taken, drawn & taken
    matplotlib.pyplot.close(fig)


def test_a_pair_lenet_cannot_read_is_refused_before_training():
    with pytest.raises(ValueError, match="choose two of mnist, fashion-mnist"):
        transfer.TransferConfig(datasets=("mnist", "cifar10"))
