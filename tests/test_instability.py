"""lth_utils.instability: the path between two networks, its error, and the two copies."""
import pytest
import torch

from lth_utils import instability as ins
from lth_utils import models, results
from lth_utils.training import TrainConfig


def weights(seed: int) -> dict:
    return {n: p.detach().clone() for n, p in models.build("lenet", seed).named_parameters()}


def test_interpolate_ends_and_midpoint():
    a, b = weights(0), weights(1)
    path = ins.interpolate(a, b, [0, 0.5, 1])
    for n in a:
        assert path[n].shape == (3, *a[n].shape)
        assert torch.equal(path[n][0], a[n]) and torch.allclose(path[n][2], b[n])
        assert torch.allclose(path[n][1], (a[n] + b[n]) / 2)
    with pytest.raises(ValueError, match="same architecture"):
        ins.interpolate(a, {"fc1.weight": a["fc1.weight"]}, [0, 1])


def test_instability_is_the_bump_above_the_ends():
    assert ins.instability([0.1, 0.5, 0.3]) == pytest.approx(0.3)
    assert ins.instability([0.2, 0.1, 0.2]) == pytest.approx(0.0)   # the ends are the highest
    with pytest.raises(ValueError, match="two ends"):
        ins.instability([0.1])


def test_a_path_from_a_network_to_itself_is_flat(mnist_small):
    net, a = models.build("lenet", 0), weights(0)
    alphas, errors = ins.path_error(net, a, a, mnist_small.test_x, mnist_small.test_y, 5)
    assert alphas == [0, 0.25, 0.5, 0.75, 1.0] and len(set(errors)) == 1
    assert ins.instability(errors) == pytest.approx(0.0)


def test_two_random_networks_are_not_on_one_flat_path(mnist_small):
    # untrained networks: every point near chance, so nothing to find; trained copies from
    # different initialisations are separated by a barrier
    cfg = TrainConfig(iterations=60, eval_every=30)
    net = models.build("lenet", 0)
    _, a, _ = ins.spawn(net, weights(0), mnist_small, cfg, 0, (1, 1))
    _, b, _ = ins.spawn(net, weights(5), mnist_small, cfg, 0, (1, 1))
    _, errors = ins.path_error(net, a, b, mnist_small.test_x, mnist_small.test_y)
    assert max(errors) > max(errors[0], errors[-1])


def test_spawn_is_deterministic_and_copies_differ_only_by_batch_order(mnist_small):
    cfg = TrainConfig(iterations=40, eval_every=20)
    net, theta0 = models.build("lenet", 0), weights(0)
    k0, a, b = ins.spawn(net, theta0, mnist_small, cfg, 0, (3, 3))
    assert all(torch.equal(k0[n], theta0[n]) for n in theta0)          # k = 0 is θ0
    # same batches, same network (up to the rounding of a batched sum)
    assert all(torch.allclose(a[n], b[n], atol=1e-6) for n in a)
    k10, c, d = ins.spawn(net, theta0, mnist_small, cfg, 10, (3, 4))
    assert not torch.equal(k10["fc1.weight"], theta0["fc1.weight"])     # θ_k was trained
    assert not torch.equal(c["fc1.weight"], d["fc1.weight"])            # two batch orders
    again = ins.spawn(net, theta0, mnist_small, cfg, 10, (3, 4))[1]
    assert all(torch.equal(again[n], c[n]) for n in c)
    with pytest.raises(ValueError, match="k must be in"):
        ins.spawn(net, theta0, mnist_small, cfg, 40)


def test_instability_at_reports_every_k(mnist_small):
    cfg = TrainConfig(iterations=40, eval_every=20)
    rows = ins.instability_at(models.build("lenet", 0), weights(0), mnist_small, cfg, [0, 20],
                              points=3)
    assert [r["k"] for r in rows] == [0, 20]
    for r in rows:
        assert len(r["errors"]) == 3 and r["alphas"] == [0, 0.5, 1.0]
        assert r["instability"] == pytest.approx(ins.instability(r["errors"]), abs=1e-4)
        assert r["stable"] == (r["instability"] < ins.STABLE)


# ----------------------------------------------------------------------------- the study

def tiny(**kw):
    """A study small enough for a unit test (mnist_small: 2,000 training images)."""
    base = dict(trials=1, iterations=20, ks=(0, 10), points=3, imp_rounds=1,
                imp_rates=(0.5, 0.25), rewind_iteration=5, imp_eval_every=10)
    return ins.study_config("lenet", "quick", **{**base, **kw})


def test_study_configs_change_sizes_only():
    q, s = ins.study_config("lenet", "quick"), ins.study_config("lenet", "standard")
    assert q.iterations < s.iterations and q.network == s.network == "lenet"
    assert s.ks == (0, 100, 500, 2000) and s.points == 11 and s.trials == 3
    c = ins.study_config("conv2", "standard")
    assert c.width == 0.25 and c.imp_rounds == 0 and c.eval_size == 5000
    paper = ins.study_config("conv2", "paper")
    assert paper.profile == "paper" and paper.iterations > c.iterations
    assert paper.width == 1.0 and paper.points == 30 and paper.lr == c.lr
    assert ins.record_path(c).name == "instability-conv2-standard.json"
    with pytest.raises(ValueError, match="network must be"):
        ins.study_config("resnet20")
    with pytest.raises(ValueError, match="ks must be increasing"):
        ins.study_config("lenet", "quick", ks=(0, 300))
    with pytest.raises(ValueError, match="rewind_iteration"):
        ins.study_config("lenet", "quick", rewind_iteration=0)
    with pytest.raises(ValueError, match="pruning rate"):
        ins.study_config("lenet", "quick", imp_rates=(1.0, 0.5))


def test_units_cover_every_k_trial_round_and_ticket():
    units = ins._units(tiny(trials=2))
    assert units[:4] == ["dense k=0 trial=0", "dense k=0 trial=1", "dense k=10 trial=0",
                         "dense k=10 trial=1"]
    assert units[4:6] == ["imp round=0", "imp round=1"]
    assert units[6:] == [f"{p} trial={t}" for p in ins.TICKET_PARTS for t in (0, 1)]
    assert ins._units(tiny(imp_rounds=0)) == ["dense k=0 trial=0", "dense k=10 trial=0"]


def test_imp_rounds_prune_each_layer_at_its_rate_and_keep_theta_k(mnist_small):
    cfg = tiny(trials=2)
    template, state = models.build("lenet"), {}
    row0 = ins.imp_round(cfg, template, mnist_small, state, 0)
    assert row0["fraction_remaining"] == 1.0 and len(row0["dense"]) == 2
    # the early stops are kept, so that a reader can flag those at the end of training
    assert len(row0["dense_stop"]) == 2
    assert all(0 <= i <= cfg.iterations for i in row0["dense_stop"])
    for t in range(2):
        m = state["reset"][t]
        assert m["fc1.weight"].sum() == 235200 // 2 and m["fc3.weight"].sum() == 750
        assert all(torch.equal(m[n], state["rewind"][t][n]) for n in m)   # one dense prune
        # θ_k: trained k iterations from θ0, not θ0 itself
        assert not torch.equal(state["theta_k"][t]["fc1.weight"],
                               ins.initial_weights(cfg, "init", t)["fc1.weight"])
    row1 = ins.imp_round(cfg, template, mnist_small, state, 1)
    assert row1["fraction_remaining"] == pytest.approx((265200 / 2 + 750) / 266200, abs=1e-5)
    assert len(row1["reset"]) == len(row1["rewind"]) == 2
    assert len(row1["reset_stop"]) == len(row1["rewind_stop"]) == 2
    assert state["reset"][0]["fc1.weight"].sum() == 235200 // 2   # the last round: no prune


def test_run_study_resumes_after_a_kill_and_ends_with_the_same_record(mnist_small, tmp_path):
    cfg = tiny()
    whole = ins.run_study(cfg, tmp_path / "whole.json", data=mnist_small, log=lambda s: None)
    assert whole["complete"] and whole["config"] == cfg.to_dict()
    assert [(p["part"], p["k"]) for p in whole["paths"]] == [
        ("dense", 0), ("dense", 10), ("ticket", 0), ("reinit", 0), ("rewound", 5)]
    assert [r["round"] for r in whole["imp"]] == [0, 1]
    for p in whole["paths"]:
        assert len(p["errors"]) == 3 and p["stable"] == (p["instability"] < ins.STABLE)

    calls = []

    def killer(msg):   # dies after the third unit, as a killed process would
        calls.append(msg)
        if len(calls) == 3:
            raise KeyboardInterrupt

    out = tmp_path / "killed.json"
    with pytest.raises(KeyboardInterrupt):
        ins.run_study(cfg, out, data=mnist_small, log=killer)
    assert out.with_suffix(".ckpt.pt").exists() and not out.exists()
    resumed = ins.run_study(cfg, out, data=mnist_small, log=calls.append)
    assert any("resuming" in c and "3 unit" in c for c in calls)
    assert resumed["paths"] == whole["paths"] and resumed["imp"] == whole["imp"]
    assert not out.with_suffix(".ckpt.pt").exists()
    # cached: the same record back, nothing recomputed; another config recomputes
    assert ins.run_study(cfg, out, data=mnist_small, log=calls.append) == resumed
    assert ins.run_study(tiny(imp_rounds=0), out, data=mnist_small,
                         log=lambda s: None)["imp"] == []


def test_split_by_trials_then_merge_equals_one_run(mnist_small, tmp_path, monkeypatch):
    """Trials 0-1 and 2 apart: every path and every IMP number of the merged record equals
    the one-run record's (the populations of a part hold fewer members)."""
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path))
    cfg, quiet = tiny(trials=3), dict(data=mnist_small, log=lambda s: None)
    whole = ins.run_study(cfg, tmp_path / "whole.json", **quiet)
    parts = [ins.run_study(cfg, trials=ts, **quiet) for ts in ([2], [0, 1])]
    # the tiny config is not the book's: its parts carry a .variant-KEY, never the book's name
    part01 = results.part_path(ins.record_path(cfg), [0, 1], 3)
    assert part01.exists() and part01.name.startswith("instability-lenet-quick.variant-")
    assert part01.name.endswith(".trials-0-1.json")
    merged = ins.merge(parts)
    assert merged["paths"] == whole["paths"] and merged["imp"] == whole["imp"]
    assert [p["trials"] for p in merged["merged_from"]] == [[2], [0, 1]]
    with pytest.raises(ValueError, match="holds trials"):
        ins.run_study(cfg, part01, trials=[2], **quiet)


# ----------------------------------------------------------------------------- readers, figures

def synthetic(network="lenet", ks=(0, 10, 50), inst=((0.03, 0.05), (0.01, 0.03), (0.0, 0.01)),
              imp=True):
    """A record shaped like run_study's: dense paths whose instability is ``inst[k][trial]``."""
    paths = []
    for k, values in zip(ks, inst):
        for t, v in enumerate(values):
            errors = [0.1] * 11
            errors[5] = 0.1 + v
            paths.append({"part": "dense", "k": k, "trial": t, "alphas": [i / 10 for i in
                          range(11)], "errors": errors, "instability": v, "stable": v < 0.02})
    rec = {"config": {"network": network, "profile": "quick", "trials": 2, "iterations": 100,
                      "ks": list(ks), "points": 11, "rewind_iteration": 10},
           "code_version": {"lth_utils": "0"}, "wall_time_s": 60.0, "paths": paths, "imp": []}
    if imp:
        for part in ins.TICKET_PARTS:
            for t in range(2):
                paths.append({"part": part, "k": 10 if part == "rewound" else 0, "trial": t,
                              "alphas": paths[0]["alphas"], "errors": [0.2] * 11,
                              "instability": 0.0, "stable": True})
        rec["imp"] = [{"round": 0, "fraction_remaining": 1.0, "dense": [0.9, 0.92]},
                      {"round": 1, "fraction_remaining": 0.5, "reset": [0.91, 0.93],
                       "rewind": [0.92, 0.94]},
                      {"round": 2, "fraction_remaining": 0.25, "reset": [0.8, 0.9],
                       "rewind": [0.85, 0.95]}]
    return rec


def test_readers_give_per_trial_numbers():
    from lth_utils import instability_plots as ip
    rec = synthetic()
    assert ip.ks(rec) == [0, 10, 50]
    assert list(ip.instabilities(rec, "dense", 10)) == [0.01, 0.03]
    assert ip.stable_from(rec) == 50      # k = 10 has a trial at 3%
    assert ip.stable_from(synthetic(inst=((0.0, 0.0), (0.0, 0.0), (0.03, 0.0)))) is None
    assert ip.stable_from(synthetic(inst=((0.0, 0.01),) * 3)) == 0
    # threshold=None: each spawn point's noise floor (2 s.e. of a 10% error on 10,000 images,
    # 0.6 points): k = 0 is under 2% but above the noise
    small = synthetic(inst=((0.01, 0.015), (0.004, 0.0), (0.0, 0.005)))
    assert ip.noise_floor(small, "dense", 0) == pytest.approx(0.006)
    assert ip.stable_from(small) == 0 and ip.stable_from(small, threshold=None) == 10
    assert ip.end_accuracy(rec) == pytest.approx(0.9)
    assert ip.end_accuracy(rec, "reinit") == pytest.approx(0.8)
    c = ip.imp_curves(rec)
    assert list(c["fraction"]) == [0.5, 0.25] and c["dense"] == pytest.approx(0.91)
    assert (c["dense_lo"], c["dense_hi"]) == (0.9, 0.92)
    # ranges, not means: reset [0.91, 0.93] overlaps the dense [0.9, 0.92], and so does
    # [0.8, 0.9] (touching); only a range wholly above (or below) the dense one counts
    assert {a: list(v) for a, v in ip.vs_dense(rec).items()} == \
        {"reset": ["overlap", "overlap"], "rewind": ["overlap", "overlap"]}
    rec["imp"][1]["rewind"], rec["imp"][2]["reset"] = [0.93, 0.94], [0.8, 0.89]
    assert {a: list(v) for a, v in ip.vs_dense(rec).items()} == \
        {"reset": ["overlap", "below"], "rewind": ["above", "overlap"]}
    assert list(ip.trial_accuracy(rec, "dense", 0)) == pytest.approx([0.9, 0.9])
    assert list(ip.trial_accuracy(rec, "reinit")) == pytest.approx([0.8, 0.8])
    assert c["rewind"]["mean"][1] == pytest.approx(0.9) and c["reset"]["lo"][1] == 0.8
    with pytest.raises(ValueError, match="give k"):
        ip.instabilities(rec, "dense")
    with pytest.raises(ValueError, match="no 'rewound' paths"):
        ip.rows(synthetic(imp=False), "rewound")
    with pytest.raises(ValueError, match="no IMP rounds"):
        ip.imp_curves(synthetic(imp=False))


def test_noise_floor_is_two_standard_errors_of_the_copies_test_error():
    from lth_utils import instability_plots as ip
    from lth_utils import records
    rec = synthetic()                  # dense copies end at 10% error; LeNet: 10,000 images
    assert ip.test_images(rec) == 10_000
    assert ip.noise_floor(rec, "dense", 0) == pytest.approx(2 * (0.1 * 0.9 / 10_000) ** 0.5)
    assert ip.noise_floor(rec, "dense", 0) == pytest.approx(records.two_se(0.1, 10_000))
    rec["config"]["eval_size"] = 500   # the paths of a record evaluated on 500 images
    assert ip.test_images(rec) == 500
    assert ip.noise_floor(rec, "reinit", z=1) == pytest.approx((0.2 * 0.8 / 500) ** 0.5)


def test_imp_figure_marks_late_stops_when_the_record_keeps_them():
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    from lth_utils import instability_plots as ip
    from lth_utils.lottery_plots import late_label

    def hollow(fig):
        return {to_hex(line.get_markeredgecolor()): list(line.get_xdata())
                for line in fig.axes[0].lines
                if line.get_markerfacecolor() == "white" and len(line.get_xdata())}

    rec = synthetic()                  # written before the stops were kept: nothing to mark
    assert ip.imp_late(rec) is None and ip.late_trials(rec) is None
    fig = ip.plot_imp(rec)
    assert hollow(fig) == {}
    plt.close(fig)
    for row, reset in zip(rec["imp"][1:], ([95, 40], [40, 50])):    # T = 100: late after 90
        row["reset_stop"], row["rewind_stop"] = reset, [40, 90]      # 90 itself is not late
    assert ip.imp_late(rec) is None    # the dense round's stops missing: not half a verdict
    rec["imp"][0]["dense_stop"] = [50, 50]
    late = ip.imp_late(rec)
    assert list(late["reset"]) == [True, False] and not late["rewind"].any()
    assert list(late["dense"]) == [False]
    assert ip.late_trials(rec) == {"reset": 1, "rewind": 0, "dense": 0}
    fig = ip.plot_imp(rec)
    assert hollow(fig) == {to_hex(ip.PART_COLORS["reset"]): [0.5]}
    assert late_label() in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    plt.close(fig)
    # a dense trial stopped at the horizon: its point (100%) is hollow, and counted
    rec["imp"][0]["dense_stop"] = [50, 100]
    late = ip.imp_late(rec)
    assert list(late["dense"]) == [True]
    assert sum(int(v.sum()) for v in late.values()) == 2
    assert ip.late_trials(rec) == {"reset": 1, "rewind": 0, "dense": 1}
    fig = ip.plot_imp(rec)
    assert hollow(fig) == {to_hex(ip.PART_COLORS["reset"]): [0.5],
                           to_hex(ip.PART_COLORS["dense"]): [1.0]}
    plt.close(fig)
    # three trials, every stop kept (the shape of the recomputed LeNet record)
    rec3 = synthetic(inst=((0.0,) * 3,) * 3)
    rec3["imp"] = [{"round": 0, "fraction_remaining": 1.0, "dense": [0.9, 0.92, 0.91],
                    "dense_stop": [95, 60, 70]},
                   {"round": 1, "fraction_remaining": 0.5, "reset": [0.91, 0.93, 0.92],
                    "rewind": [0.92, 0.94, 0.93], "reset_stop": [40, 50, 60],
                    "rewind_stop": [91, 50, 60]}]
    assert ip.late_trials(rec3) == {"reset": 0, "rewind": 1, "dense": 1}
    note = ip.late_note(rec3)
    assert note.startswith("2 of the 3 points") and "1 of its 3 trials" in note
    rec3["imp"][0]["dense_stop"] = [10, 20, 30]
    assert ip.late_note(rec3).endswith("the dense network is not among them")
    rec3["imp"][1]["rewind_stop"] = [10, 20, 30]
    assert ip.late_note(rec3).startswith("none of the 3 points")
    assert "did not keep" in ip.late_note(synthetic())
    assert ip.imp_curves(rec3)["dense_hi"] == 0.92
    plt.close(ip.plot_imp(rec3))
    # speed, counted from θ0: the rewound arm's stops carry its head start of k iterations
    rec3["config"]["rewind_iteration"] = 5
    stops = ip.imp_stops(rec3)
    assert stops["reset"].tolist() == [[40, 50, 60]]
    assert stops["rewind"].tolist() == [[15, 25, 35]]
    assert ip.imp_stops(synthetic()) is None


def test_slider_positions_pair_each_networks_spawn_points():
    from lth_utils import instability_plots as ip
    recs = [synthetic(), synthetic("conv2", ks=(0, 20), inst=((0.1, 0.2), (0.0, 0.0)),
                                   imp=False)]
    assert ip.slider_label(recs, 1) == "10 / 20" and ip.slider_label(recs, 2) == "50 / –"
    state = ip.path_state(recs, 2)
    assert [p["k"] for p in state["panels"]] == [50, None]
    assert state["panels"][1]["trials"] is None and len(state["panels"][0]["trials"]) == 2
    from lth_utils import widgets
    box = widgets.path_slider(recs)
    assert box.slider.value == 2 and len(box.slider.options) == 3
    box.slider.value = 0
    assert [p["k"] for p in box.state["panels"]] == [0, 0]


def test_figures_fit_the_column():
    import matplotlib.pyplot as plt

    from lth_utils import instability_plots as ip
    from test_figure_sizes import readable
    recs = [synthetic(), synthetic("conv2", ks=(0, 20), inst=((0.1, 0.2), (0.0, 0.0)),
                                   imp=False)]
    for fig in (ip.plot_paths(recs), ip.plot_instability_vs_k(recs), ip.plot_tickets(recs[0]),
                ip.plot_imp(recs[0]), ip.plot_path_grid(recs),
                ip.plot_path_state(ip.path_state(recs, 1))):
        readable(fig)
        plt.close(fig)


def test_path_grid_keeps_a_columns_y_ticks_beside_an_empty_panel():
    # Conv-2 has one spawn point fewer: its last panel is empty ("not measured"); with y
    # shared per column, emptying that panel's ticks must not empty its column's
    import matplotlib.pyplot as plt

    from lth_utils import instability_plots as ip
    recs = [synthetic(), synthetic("conv2", ks=(0, 20), inst=((0.1, 0.2), (0.0, 0.0)),
                                   imp=False)]
    fig = ip.plot_path_grid(recs)
    fig.canvas.draw()
    conv = fig.axes[1::2]                       # the second column, row by row
    for ax in conv[:2]:
        assert [t.get_text() for t in ax.get_yticklabels() if t.get_visible()
                and t.get_text()], ax.get_title()
    assert not [t for t in conv[2].get_yticklabels() if t.get_visible() and t.get_text()]
    # the trials' instabilities in the titles, one legend for the figure, none in a panel
    assert "instability by trial: 10.0, 20.0 pp" in conv[0].get_title()
    assert not any(ax.get_legend() for ax in fig.axes) and len(fig.legends) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["trial 0", "trial 1"]
    plt.close(fig)


def test_path_legends_sit_outside_the_axes():
    # plot_paths: each panel's legend of its spawn points is under it, not on the bands
    import matplotlib.pyplot as plt

    from lth_utils import instability_plots as ip
    recs = [synthetic(), synthetic("conv2", ks=(0, 20), inst=((0.1, 0.2), (0.0, 0.0)),
                                   imp=False)]
    fig = ip.plot_paths(recs)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        legend = ax.get_legend().get_window_extent(renderer)
        assert legend.y1 < ax.get_window_extent(renderer).y0
    plt.close(fig)


def test_chapter_8_draws_each_network_in_the_books_colour():
    from lth_utils import instability_plots as ip
    from lth_utils.plots import COLORS
    assert ip.PART_COLORS["dense"] == COLORS["dense"] == "#2ca02c"       # green, as elsewhere
    assert ip.PART_COLORS["rewound"] == ip.PART_COLORS["rewind"] == COLORS["rewound"]
    assert ip.PART_COLORS["ticket"] == ip.PART_COLORS["reset"] == COLORS["ticket"]
    assert ip.PART_COLORS["reinit"] == COLORS["reinit"]


def test_instability_vs_k_has_one_legend_under_its_panels():
    """Inside a panel the legend covered the 2% threshold line (chapter 8's Conv-2 panel): one
    figure legend under the panels instead, above the provenance lines."""
    import matplotlib.pyplot as plt

    from lth_utils import instability_plots as ip
    recs = [synthetic(), synthetic("conv2", ks=(0, 20), inst=((0.1, 0.2), (0.0, 0.0)),
                                   imp=False)]
    fig = ip.plot_instability_vs_k(recs)
    fig.canvas.draw()
    assert all(ax.get_legend() is None for ax in fig.axes)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == \
        ["one trial", "mean", "stable below (paper: 2%)"]
    r = fig.canvas.get_renderer()
    box = legend.get_window_extent(r)
    assert all(box.y1 <= ax.get_tightbbox(r).y0 + 1 for ax in fig.axes)   # under every panel
    plt.close(fig)
