"""The study engine (lth_utils.engine): units, checkpoints, resuming, the cache, the record's
header, parts; and the studies that moved onto it last (the horizon probes, chapter 12)."""
import json

import pytest

from lth_utils import engine, horizon, results, structured
from lth_utils.studies import STUDIES


class Counting(engine.Study):
    """A study without training: unit u of trial t adds t * 10 + u to the state."""
    kind = "instability"      # any kind of results.KINDS

    def __init__(self, config, trials=None, die_at=None):
        super().__init__(config, config["trials"], trials)
        self.die_at, self.stepped = die_at, []

    def start(self):
        return {"rows": []}

    def units(self):
        return [f"{t} {u}" for t in self.trials for u in range(self.config["units"])]

    def step(self, unit, state):
        self.stepped.append(unit)
        if unit == self.die_at:
            raise KeyboardInterrupt
        t, u = map(int, unit.split())
        state["rows"].append(t * 10 + u)

    def body(self, state):
        return {"rows": state["rows"]}


def test_a_killed_run_resumes_at_its_unit_and_the_cache_returns_the_record(tmp_path):
    out, cfg, logs = tmp_path / "r.json", {"trials": 2, "units": 3}, []
    with pytest.raises(KeyboardInterrupt):
        engine.run(Counting(cfg, die_at="1 1"), out, logs.append)
    assert not out.exists() and results.checkpoint_path(out).exists()
    again = Counting(cfg)
    rec = engine.run(again, out, logs.append)
    assert again.stepped == ["1 1", "1 2"], "resumed at the unit that was killed"
    assert any("resuming" in m and "4 unit(s) of 6" in m for m in logs)
    assert rec["rows"] == [0, 1, 2, 10, 11, 12] and rec["complete"]
    assert rec["kind"] == results.KINDS["instability"] and rec["schema"] == results.SCHEMA
    assert rec["config"] == cfg and rec["config_key"] == results.config_key(cfg)
    assert "trials" not in rec and rec["code_version"]["lth_utils"]
    assert not results.checkpoint_path(out).exists()
    cached = Counting(cfg)
    assert engine.run(cached, out) == rec and cached.stepped == []
    other = Counting({"trials": 2, "units": 2})
    assert engine.run(other, out, lambda s: None)["rows"] == [0, 1, 10, 11]


def test_the_record_names_the_code_its_run_started_with(tmp_path, monkeypatch):
    """A long run outlives edits and commits made while it trains: the record's code version
    is read before the first unit, not when the record is written."""
    head = {"git": "start"}
    monkeypatch.setattr(results, "code_version", lambda: dict(head))

    class Committing(Counting):      # a commit lands while the run trains
        def step(self, unit, state):
            super().step(unit, state)
            head["git"] = "later"

    rec = engine.run(Committing({"trials": 1, "units": 2}), tmp_path / "r.json",
                     lambda s: None)
    assert rec["code_version"] == {"git": "start"}


def test_parts_say_their_trials_and_partial_records_can_be_read(tmp_path):
    cfg = {"trials": 3, "units": 2}
    part = engine.run(Counting(cfg, trials=[1, 2]), tmp_path / "p.json", lambda s: None)
    assert part["trials"] == [1, 2] and part["rows"] == [10, 11, 20, 21]
    with pytest.raises(ValueError, match="holds trials"):
        engine.run(Counting(cfg, trials=[0]), tmp_path / "p.json")

    class Watched(Counting):
        partial = True

    with pytest.raises(KeyboardInterrupt):
        engine.run(Watched(cfg, die_at="1 0"), tmp_path / "w.json", lambda s: None)
    seen = json.loads((tmp_path / "w.json").read_text())
    assert seen["rows"] == [0, 1] and seen["complete"] is False


def test_the_study_refuses_its_config_before_any_unit(tmp_path):
    class Refusing(Counting):
        def check(self):
            raise ValueError("no")

    study = Refusing({"trials": 1, "units": 1})
    with pytest.raises(ValueError, match="no"):
        engine.run(study, tmp_path / "r.json")
    assert study.stepped == [] and not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("name", ["lenet-mnist", "conv2-cifar10", "conv4-cifar10",
                                  "conv6-cifar10", "prune-at-init"])
def test_the_committed_horizon_records_are_the_probes_cache(name):
    """The probes moved from a script onto the engine keep their records' cache keys."""
    cfg = horizon.config(name, "standard")
    path = horizon.record_path(name, cfg)
    assert path.name == f"horizon-{name}.json"
    study = horizon.OneShotHorizon(name, cfg) if name in horizon.ONE_SHOT else \
        horizon.PruneAtInitHorizon(cfg)
    assert engine.cached(study, path) is not None


@pytest.mark.parametrize("profile", ["quick", "standard"])
def test_the_committed_chapter_12_records_are_its_cache(profile):
    cfg = structured.study_config(profile)
    assert engine.cached(structured.Chapter12Study(cfg),
                         structured.record_path(cfg["name"])) is not None


def test_the_lenet_horizon_probe_runs_from_the_command_line(tmp_path, monkeypatch, capsys):
    """Quick sizes: one early stop per network, every validation curve kept; a second run reads
    the record back."""
    from lth_utils import cli, training
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path))
    assert cli.main(["study", "horizon-lenet-mnist", "--profile", "quick",
                     "--no-progress"]) == 0
    out = capsys.readouterr().out
    rec = json.loads((tmp_path / "horizon-lenet-mnist-quick.json").read_text())
    c = rec["config"]
    assert c == horizon.config("lenet-mnist", "quick") and rec["kind"] == "lth-horizon"
    assert len(rec["sparse"]) == 3 * len(c["rounds"])
    assert len(rec["dense"]["val_loss"]) == c["dense_iterations"] // c["eval_every"] + 1
    for arm in rec["sparse"]:
        assert len(arm["val_loss"]) == c["sparse_iterations"] // c["eval_every"] + 1
        best = min(range(len(arm["val_loss"])), key=arm["val_loss"].__getitem__)
        assert arm["early_stop_iteration"] == best * c["eval_every"]
    assert "early stop at" in out and "dense:" in out
    monkeypatch.setattr(training, "train_population", lambda *a, **k: pytest.fail("trained"))
    assert cli.main(["study", "horizon-lenet-mnist", "--profile", "quick"]) == 0
    assert STUDIES["horizon-lenet-mnist"].merge is None


@pytest.mark.parametrize("kind", [None, "supermasks"])
def test_an_output_in_a_missing_folder_is_refused_for_every_study(tmp_path, kind):
    """One rule for every study: a mistyped folder is not created, the message says how."""
    out = tmp_path / "no" / "such" / "r.json"
    with pytest.raises(FileNotFoundError, match="mkdir -p"):
        results.check_output(out, kind)
    assert not (tmp_path / "no").exists()


def test_the_conv2_horizon_probe_starts_from_the_lottery_studys_trial_0(tmp_path):
    """The Conv-2 probe trains the lottery study's network, data and seeds: at the quick sizes
    its dense network's validation curve is the committed quick Conv-2 record's trial 0;
    then the three arms at the sparsest controls' round, with test curves on the study's grid
    (the first 100 iterations of each phase, to keep the test short)."""
    from lth_utils import lottery
    cfg = {**horizon.config("conv2-cifar10", "quick"), "dense_iterations": 100,
           "sparse_iterations": 100, "test_every": 100}
    rec = horizon.run_probe("conv2-cifar10", cfg, tmp_path / "h.json", progress=False,
                            log=lambda *a: None)
    study = lottery.run_study(lottery.study_config("conv2-cifar10", "quick"))
    dense = study["rounds"][0]["arms"]["ticket"][0]
    # the same curve up to float rounding (which can move a near-tied early stop by a step
    # with another thread count); another seed, width or data would be far off
    assert rec["dense"]["val_loss"] == pytest.approx(dense["val_loss"][:3], rel=1e-3)
    sparsest = study["rounds"][cfg["rounds"][0]]["fraction_remaining"]
    assert [a["arm"] for a in rec["sparse"]] == ["oneshot", "reinit", "random_mask"]
    for arm in rec["sparse"]:
        assert arm["fraction_remaining"] == pytest.approx(sparsest, abs=0.01)
        assert arm["test_iteration"] == [0, 100] and len(arm["test_acc"]) == 2
        assert len(arm["val_loss"]) == 100 // cfg["eval_every"] + 1
    lines = horizon.summary("conv2-cifar10", rec)
    assert lines[0].startswith("dense: early stop at ") and lines[0].endswith("%)")


def test_beyond_horizon_reads_what_training_past_the_studys_horizon_bought():
    arm = {"round": 7, "fraction_remaining": 0.045, "val_loss": [2.0, 1.5, 1.2, 1.1, 1.0],
           "test_iteration": [0, 100, 200, 300, 400], "test_acc": [0.1, 0.4, 0.5, 0.55, 0.6]}
    rec = {"config": {"sparse_iterations": 400, "test_every": 100},
           "sparse": [{**arm, "arm": "oneshot", "early_stop_iteration": 200,
                       "early_stop_test_acc": 0.5},
                      {**arm, "arm": "reinit", "early_stop_iteration": 400,
                       "early_stop_test_acc": 0.6}]}
    rows = horizon.beyond_horizon(rec, 200)
    assert [r["arm"] for r in rows] == ["oneshot", "reinit"]
    assert rows[0]["gain"] == pytest.approx(0.0) and not rows[0]["late"]
    assert rows[1]["acc_at_horizon"] == 0.5 and rows[1]["gain"] == pytest.approx(0.1)
    assert rows[1]["late"]                         # 400 > 360: the probe saw no minimum either
    with pytest.raises(ValueError, match="no test point at iteration 250"):
        horizon.beyond_horizon(rec, 250)
    lenet = {"config": {"sparse_iterations": 400}, "sparse": [{"arm": "oneshot"}]}
    with pytest.raises(ValueError, match="horizon-conv2-cifar10"):
        horizon.beyond_horizon(lenet, 200)


def test_a_probes_provenance_line_under_its_figure():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from lth_utils import plots
    rec = {"config": horizon.config("conv2-cifar10", "standard"), "wall_time_s": 90,
           "device": "cpu (1 threads)",
           "code_version": {"lth_utils": "0.1.0", "git": "abc1234", "source_sha256": "f" * 16}}
    text = horizon.provenance("conv2-cifar10", rec)
    assert text == ("record horizon-conv2-cifar10 · 1 trial · 20,000 + 40,000 iterations · "
                    "lth_utils 0.1.0 @ abc1234 (src ffffffff) · 1.5 min of compute on "
                    "cpu (1 thread)")
    fig = plt.figure(figsize=(4, 3))
    plots.add_provenance(fig, text)               # a string: written as it is, broken to fit
    (shown,) = fig.texts
    assert shown.get_text().replace("\n", " · ") == text and "\n" in shown.get_text()
    plt.close(fig)


def test_the_conv_probes_train_their_studys_sparsest_controls():
    """Each conv probe sits at its lottery study's sparsest round with controls, and the
    deeper probes' configs tell their records from the Conv-2 probe's at every profile."""
    from lth_utils import lottery
    names = ("conv2-cifar10", "conv4-cifar10", "conv6-cifar10")
    for name in names:
        cfg = lottery.study_config(name, "standard")
        assert horizon.config(name, "standard")["rounds"] == [cfg.control_rounds[-1]]
    for p in ("quick", "standard"):
        assert len({json.dumps(horizon.config(n, p), sort_keys=True) for n in names}) == 3
    bad = {**horizon.config("conv4-cifar10", "quick"), "study": "paper"}
    with pytest.raises(ValueError, match="'quick' or 'standard'"):
        horizon.check_config("conv4-cifar10", bad)


def test_a_probe_read_against_its_record_gives_the_takeaways_numbers():
    """Chapter 7's numbers: what the controls gained past the record's horizon, as a share of
    the record's lead over them, and the one-shot ticket's lead at each network's own early
    stop; read against a record with another sparsity, the probe is refused."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from lth_utils import claims, lottery_plots
    probe = results.load_record(results.results_dir() / "horizon-conv2-cifar10.json")
    std = results.load_record(results.results_dir() / "conv2-cifar10-standard.json")
    pv = claims.probe_vs_record(probe, std)
    assert pv["T"] == 20_000 and pv["T2"] == 40_000 and pv["dense_same"]
    assert pv["left"] == pytest.approx(pv["vs"]["fraction"], abs=0.01)
    for arm in ("reinit", "random_mask"):
        b = pv["beyond"][arm]
        assert pv[f"share_{arm}"] == pytest.approx(b["gain"] / pv["vs"]["gap"][arm])
        assert pv[f"lead_{arm}"] == pytest.approx(
            100 * (pv["acc_oneshot"] - b["early_stop_test_acc"]))
    assert pv["late_std"] == "6 of its 6" and pv["share"] == "48%"
    other = results.load_record(results.results_dir() / "conv4-cifar10-standard.json")
    with pytest.raises(ValueError, match="sparsest controls at 7.6%"):
        claims.probe_vs_record(probe, other)
    ax = lottery_plots.plot_beyond_horizon(probe, pv["T"])
    hollow = [ln.get_markerfacecolor() == "white" for ln in ax.lines if ln.get_marker() == "o"
              and len(ln.get_xdata())]
    assert hollow == [pv["beyond"][a["arm"]]["late"] for a in probe["sparse"]]
    plt.close(ax.figure)
