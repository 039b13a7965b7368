import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lth_utils import lottery, models, population, pruning, results, training
from lth_utils.masks import ones

ROOT = Path(__file__).resolve().parent.parent

TINY = dict(trials=2, rounds=4, iterations=80, eval_every=40, train_subset=1000, val_size=500,
            controls=("reinit", "random_mask"), oneshot_rounds=(2,), rates=(0.5, 0.25))


def tiny(**kw) -> lottery.StudyConfig:
    return lottery.StudyConfig(**{**TINY, **kw})


def agree(a, b) -> bool:
    """Records (or parts of them) equal: exactly on a CPU, where a member computes bit for bit
    what it computes in a population of any size. On a GPU a population of another size runs
    other kernels (tests/test_population.py): there numbers agree within 5e-3 (half a point of
    accuracy) and everything else exactly; a first bound, to narrow once measured on a GPU."""
    import lth_utils
    if lth_utils.device().type == "cpu":
        return a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(agree(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(agree, a, b))
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(b, (int, float)) and abs(a - b) <= 5e-3
    return a == b


def strip(record: dict) -> dict:
    """A record without what legitimately differs between two runs: wall time, the device it
    ran on (its thread count differs between a subprocess and pytest), and the code version
    (the sources may be edited while a test runs)."""
    return {k: v for k, v in record.items()
            if k not in ("wall_time_s", "code_version", "device")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    return lottery.run_study(tiny(), tmp_path_factory.mktemp("ref") / "ref.json", progress=False)


def test_study_prunes_resets_and_records_every_round(reference):
    rounds = reference["rounds"]
    assert reference["complete"] and [r["round"] for r in rounds] == [0, 1, 2, 3, 4]
    fracs = [r["fraction_remaining"] for r in rounds]
    assert all(a > b for a, b in zip(fracs, fracs[1:]))
    assert rounds[1]["layers"]["fc1.weight"] == pytest.approx(0.5, abs=1e-4)
    assert rounds[1]["layers"]["fc3.weight"] == pytest.approx(0.75, abs=1e-3)
    assert set(rounds[2]["arms"]) == {"ticket", "reinit", "random_mask"}
    assert all(len(ms) == 2 for ms in rounds[2]["arms"].values())
    assert reference["oneshot"][0]["fraction_remaining"] == pytest.approx(rounds[2]["fraction_remaining"], rel=1e-3)
    assert reference["schema"] == results.SCHEMA and reference["code_version"]["source_sha256"]


def test_network_iterations_count_every_network_the_study_trained(reference):
    cfg = tiny()
    trained = sum(len(ms) for stage in reference["rounds"] + reference["oneshot"]
                  for ms in stage["arms"].values())
    assert lottery.network_iterations(cfg) == trained * cfg.iterations
    fewer = tiny(control_rounds=(2,))   # controls only at round 2: 2 trials x 2 arms fewer x 3
    assert lottery.network_iterations(cfg) - lottery.network_iterations(fewer) == 12 * 80


def test_same_seed_same_record(reference, tmp_path):
    again = lottery.run_study(tiny(), tmp_path / "again.json", progress=False)
    assert strip(again) == strip(reference)


def test_killed_study_resumes_to_the_same_record(reference, tmp_path):
    out = tmp_path / "killed.json"
    script = (f"from lth_utils import lottery\n"
              f"cfg = lottery.StudyConfig(**{TINY!r})\n"
              f"lottery.run_study(cfg, {str(out)!r}, progress=False)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    deadline = time.time() + 300
    while time.time() < deadline:  # wait until round 1 is recorded, then kill it in round 2
        if out.exists() and len(json.loads(out.read_text())["rounds"]) >= 2:
            break
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = json.loads(out.read_text())
    assert not partial["complete"] and 2 <= len(partial["rounds"]) < 5
    assert out.with_suffix(".ckpt.pt").exists()
    logs = []
    resumed = lottery.run_study(tiny(), out, progress=False, log=logs.append)
    assert any("resuming" in line for line in logs)
    assert strip(resumed) == strip(reference)
    assert not out.with_suffix(".ckpt.pt").exists()


def test_cache_reuses_only_the_same_config(reference, tmp_path, monkeypatch, capsys):
    out = tmp_path / "cached.json"
    results.save_record(reference, out)
    calls = []
    monkeypatch.setattr(lottery, "train_population",
                        lambda *a, **k: calls.append(1) or (_ for _ in ()).throw(RuntimeError("trained")))
    assert lottery.run_study(tiny(), out, progress=False) == reference and not calls
    with pytest.raises(RuntimeError, match="trained"):  # a changed config is recomputed
        lottery.run_study(tiny(iterations=81), out, progress=False)
    assert "config changed (iterations): recomputing" in capsys.readouterr().out


def test_corrupt_or_foreign_records_say_what_to_do(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="corrupt.*delete it"):
        results.load_record(bad)
    bad.write_text(json.dumps({"kind": results.KIND, "schema": 99, "config": {"name": "x"}}))
    with pytest.raises(ValueError, match="schema 99 .* reads schema 1"):
        results.load_record(bad)
    bad.write_text(json.dumps({"hello": 1}))
    with pytest.raises(ValueError, match="not an lth_utils study record"):
        lottery.run_study(tiny(), bad, progress=False)


def test_bad_study_input():
    with pytest.raises(ValueError, match="unknown study"):
        lottery.study_config("resnet-imagenet")
    with pytest.raises(ValueError, match="unknown profile"):
        lottery.study_config("lenet-mnist", "huge")
    with pytest.raises(ValueError, match="unknown dataset"):
        tiny(dataset="svhn")
    with pytest.raises(ValueError, match="unknown model"):
        tiny(model="vgg")
    with pytest.raises(ValueError, match="unknown control"):
        tiny(controls=("lucky",))
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        tiny(rates=(1.2, 0.1))


def test_profiles_change_sizes_only():
    cfgs = {p: lottery.study_config("lenet-mnist", p) for p in lottery.PROFILES}
    assert {c.model for c in cfgs.values()} == {"lenet"}
    assert cfgs["quick"].iterations < cfgs["standard"].iterations < cfgs["paper"].iterations
    assert cfgs["paper"].trials == 5 and cfgs["paper"].iterations == 50_000
    for name in lottery.STUDIES:
        lottery.study_config(name, "quick")


@pytest.mark.parametrize("name", ["conv4-cifar10", "conv6-cifar10"])
def test_conv4_and_conv6_stand_ins_reach_conv2s_levels(name):
    """Their standard sizes: three rounds of four paper rounds each, both controls at the
    last, Conv-2's width, batch and optimiser; the paper's per-layer rates compounded."""
    cfg, conv2 = lottery.study_config(name, "standard"), lottery.study_config("conv2-cifar10")
    assert (cfg.rounds, cfg.trials, cfg.width, cfg.iterations) == (3, 3, 0.25, 20_000)
    assert [lottery.controls_at(cfg, r) for r in (1, 2, 3)] == [(), (), cfg.controls]
    assert cfg.batch_size == conv2.batch_size and cfg.optimizer == conv2.optimizer
    paper = lottery.STUDIES[name]["rates"]
    assert cfg.rates == pytest.approx([1 - (1 - r) ** 4 for r in paper], abs=0.005)
    assert lottery.study_config(name, "quick").rounds == conv2.rounds


def test_split_by_trials_then_merge_equals_one_run(reference, tmp_path):
    parts = [lottery.run_study(tiny(), tmp_path / f"part{t}.json", progress=False, trials=[t])
             for t in (1, 0)]
    assert [p["trials"] for p in parts] == [[1], [0]]
    merged = lottery.merge(parts)
    skip = ("wall_time_s", "merged_from", "device", "trials")
    assert agree({k: v for k, v in merged.items() if k not in skip},
                 {k: v for k, v in reference.items() if k not in skip})
    assert merged["trials"] == reference["trials"] == [0, 1]
    # the command line does the same, and refuses parts that do not fit together
    from lth_utils import cli
    for i, p in enumerate(parts):
        results.save_record(p, tmp_path / f"p{i}.json")
    assert cli.main(["merge", str(tmp_path / "p0.json"), str(tmp_path / "p1.json"),
                     "--out", str(tmp_path / "m.json")]) == 0
    assert agree(results.load_record(tmp_path / "m.json")["rounds"], reference["rounds"])
    with pytest.raises(ValueError, match="exactly once: trials \\[1\\] appear twice"):
        lottery.merge([parts[0], parts[0]])
    with pytest.raises(ValueError, match="missing \\[0\\]"):
        lottery.merge([parts[0]])
    other = lottery.run_study(tiny(iterations=40, eval_every=20), tmp_path / "o.json",
                              progress=False, trials=[0])
    with pytest.raises(ValueError, match="configs differ in eval_every, iterations"):
        lottery.merge([parts[0], other])


def test_a_record_extends_by_more_trials(reference, tmp_path):
    """A complete record of 1 trial and a part holding trial 1 of the same study at 2 trials
    merge into the 2-trial record (in either order): a trial's numbers depend on its index only.
    A part may not differ in its trial count (only a complete record extends)."""
    one = lottery.run_study(tiny(trials=1), tmp_path / "one.json", progress=False)
    part = lottery.run_study(tiny(), tmp_path / "p1.json", progress=False, trials=[1])
    skip = ("wall_time_s", "merged_from", "device", "code_version")
    for records in ([one, part], [part, one]):
        merged = lottery.merge(records)
        assert merged["config"] == reference["config"]
        assert merged["config_key"] == results.config_key(reference["config"])
        assert agree({k: v for k, v in merged.items() if k not in skip},
                     {k: v for k, v in reference.items() if k not in skip})
    # trial 2 of a 3-trial study (relabelled, no need to run it) does not extend a part of 2
    third = {**part, "config": {**part["config"], "trials": 3}, "trials": [2]}
    with pytest.raises(ValueError, match="configs differ in trials"):
        lottery.merge([one, part, third])


def test_bad_trials_and_missing_folder_say_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="0-1 \\(this study has 2 trials\\)"):
        results.parse_trials("1-3", 2)
    with pytest.raises(ValueError, match="like 0-1"):
        results.parse_trials("one", 2)
    assert results.parse_trials("0,2-3", 5) == [0, 2, 3]
    with pytest.raises(FileNotFoundError, match="mkdir -p"):
        lottery.run_study(tiny(), tmp_path / "no" / "such" / "x.json", progress=False)


def test_truncated_checkpoint_falls_back_and_loses_nothing(reference, tmp_path):
    """Kill after round 2, cut the newest checkpoint short (a full disk, a bad copy): the study
    resumes from the checkpoint before it and ends with the record of an uninterrupted run."""
    out = tmp_path / "cut.json"
    logs: list[str] = []
    calls = {"n": 0}
    real = lottery.train_population

    def stop_after_round_2(*a, **k):
        calls["n"] += 1
        if calls["n"] > 4:   # dense, one-shot, round 1, round 2 done
            raise KeyboardInterrupt
        return real(*a, **k)

    lottery.train_population = stop_after_round_2
    try:
        with pytest.raises(KeyboardInterrupt):
            lottery.run_study(tiny(), out, progress=False)
    finally:
        lottery.train_population = real
    held = json.loads(out.read_text())["rounds"]
    assert len(held) == 3
    ckpt = out.with_suffix(".ckpt.pt")
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    resumed = lottery.run_study(tiny(), out, progress=False, log=logs.append)
    assert any("unreadable" in line and ".corrupt" in line for line in logs), logs
    assert any("resuming" in line for line in logs)
    assert strip(resumed) == strip(reference)
    assert resumed["rounds"][:3] == held
    assert not ckpt.exists() and not ckpt.with_suffix(".prev.pt").exists()


def test_width_is_stored_only_when_it_is_not_the_papers():
    # records written before `width` existed keep their config (and their cache key)
    assert "width" not in lottery.study_config("conv2-cifar10", "quick", width=1.0).to_dict()
    cfg = lottery.study_config("conv2-cifar10", "quick")
    assert cfg.to_dict()["width"] == 0.25
    assert lottery._init(cfg, 0)["conv1.weight"].shape == (16, 3, 3, 3)


def test_dropout_is_stored_only_when_set_and_trains_with_dropout(tmp_path):
    assert "dropout" not in lottery.study_config("lenet-mnist", "quick").to_dict()
    cfg = lottery.study_config("lenet-mnist", "quick", dropout=0.5, trials=1, rounds=1,
                               iterations=40, eval_every=20, train_subset=300, val_size=200,
                               controls=(), oneshot_rounds=())
    assert cfg.to_dict()["dropout"] == 0.5
    rec = lottery.run_study(cfg, tmp_path / "drop.json", progress=False, log=lambda *a: None)
    plain = lottery.run_study(lottery.StudyConfig(**{**cfg.to_dict(), "dropout": 0.0,
                                                     "rates": tuple(cfg.rates)}),
                              tmp_path / "plain.json", progress=False, log=lambda *a: None)
    curve = lambda r: r["rounds"][1]["arms"]["ticket"][0]["val_loss"]  # noqa: E731
    assert curve(rec) != curve(plain)    # dropout changed training, same seeds otherwise


class _Payload:
    """What an attacker would put in a checkpoint: unpickling it runs code (touches a file)."""
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_crafted_checkpoint_cannot_run_code(tmp_path):
    """Checkpoints are loaded with weights_only=True (tensors and plain data): a pickle that
    would run code on loading is refused, moved aside, and the study starts afresh."""
    marker = tmp_path / "pwned"
    logs: list[str] = []
    ckpt = tmp_path / "s.ckpt.pt"
    torch.save({"config": {"a": 1}, "x": _Payload(marker)}, ckpt)
    assert results.load_checkpoint(ckpt, {"a": 1}, logs.append) is None
    assert not marker.exists(), "loading a checkpoint ran code"
    assert any("unreadable" in m for m in logs) and (tmp_path / "s.ckpt.pt.corrupt").exists()
    # every study runs on the engine, which alone saves and loads checkpoints (one format)
    engine = (ROOT / "lth_utils" / "engine.py").read_text()
    assert "save_checkpoint(" in engine and "load_checkpoint(" in engine
    for f in ("lottery", "instability", "transfer", "supermasks", "prune_at_init",
              "structured", "horizon"):
        text = (ROOT / "lth_utils" / f"{f}.py").read_text()
        assert "(engine.Study):" in text and "engine.run(" in text, f
        for call in ("torch.load(", "torch.save(", "save_checkpoint(", "load_checkpoint(",
                     "writer_lock(", "save_record("):
            assert call not in text, (f, call)
    # no loader in the package unpickles arbitrary objects
    for f in (ROOT / "lth_utils").glob("*.py"):
        assert "weights_only=False" not in f.read_text(), f.name


def _cli_error(capsys, argv, env=None, monkeypatch=None) -> str:
    from lth_utils import cli
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2, argv
    return capsys.readouterr().err


def test_bad_command_lines_fail_before_training_with_what_to_do(tmp_path, capsys, monkeypatch):
    assert "unknown profile 'bogus'" in _cli_error(
        capsys, ["study", "lenet-mnist"], {"LTH_PROFILE": "bogus"}, monkeypatch)
    monkeypatch.setenv("LTH_PROFILE", "quick")
    assert "LTH_DEVICE='tpu'" in _cli_error(capsys, ["study", "lenet-mnist"],
                                            {"LTH_DEVICE": "tpu"}, monkeypatch)
    monkeypatch.delenv("LTH_DEVICE")
    config = tmp_path / "_config.yml"
    config.write_text("title: x\n")
    assert "ending in .json" in _cli_error(capsys, ["study", "lenet-mnist", "--out", str(config)])
    assert config.read_text() == "title: x\n"
    other = tmp_path / "notes.json"
    other.write_text('{"a": 1}')
    assert "not a study record: refusing" in _cli_error(
        capsys, ["study", "lenet-mnist", "--out", str(other)])
    part = tmp_path / "p.json"
    part.write_text("{}")
    assert "is one of the parts" in _cli_error(capsys, ["merge", str(part), "--out", str(part)])


def test_configs_that_cannot_work_are_refused_up_front():
    with pytest.raises(ValueError, match="oneshot_rounds must lie in 1..rounds=4"):
        tiny(oneshot_rounds=(30,))
    with pytest.raises(ValueError, match="rates must hold 2 pruning rates for lenet"):
        tiny(rates=(0.2,))
    with pytest.raises(ValueError, match="iterations must be a whole number"):
        tiny(iterations=80.5)
    with pytest.raises(ValueError, match="40 rounds at 50% per round would prune every weight of fc1.weight"):
        lottery._check_sparsest_round(tiny(rounds=40, rates=(0.5, 0.5)))


def test_two_parts_into_one_out_and_two_writers_are_refused(reference, tmp_path):
    out = tmp_path / "one.json"
    lottery.run_study(tiny(), out, progress=False, trials=[0])
    with pytest.raises(ValueError, match="holds trials \\[0\\] of this study, not \\[1\\]"):
        lottery.run_study(tiny(), out, progress=False, trials=[1])
    with results.writer_lock(tmp_path / "x.json"):
        with pytest.raises(RuntimeError, match="another process is writing"):
            with results.writer_lock(tmp_path / "x.json"):
                pass


def test_a_full_or_read_only_folder_says_so(tmp_path, monkeypatch):
    import errno
    import os

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="no space left on the device; free space"):
        results.save_record({"a": 1}, tmp_path / "r.json")
    assert not (tmp_path / "r.json").exists() and not list(tmp_path.glob("*.tmp"))


def test_a_dropout_study_cannot_be_split(tmp_path):
    with pytest.raises(ValueError, match="dropout study cannot be split by trials"):
        lottery.run_study(tiny(dropout=0.2), tmp_path / "d.json", progress=False, trials=[1])


def test_round_members_are_the_ticket_and_its_two_controls():
    """A round with controls trains, per trial, the ticket (θ0 under the mask), the same mask
    on a fresh initialisation, and θ0 under a random mask with each layer's count."""
    cfg = tiny(control_rounds=(1,))
    template = models.build("lenet", 0)
    theta0 = [lottery._init(cfg, lottery.derive_seed(cfg.seed, "init", t)) for t in (0, 1)]
    masks = [pruning.l1_unstructured(w, ones(template), {n: 0.5 for n in ones(template)})
             for w in theta0]
    members = lottery.round_members(cfg, 1, [0, 1], masks, theta0)
    assert [(m[0], m[1]) for m in members] == [
        ("ticket", 0), ("ticket", 1), ("reinit", 0), ("reinit", 1),
        ("random_mask", 0), ("random_mask", 1)]
    ticket, reinit, random_mask = members[0], members[2], members[4]
    assert ticket[2] is theta0[0] and ticket[3] is masks[0]
    assert reinit[3] is masks[0] and not torch.equal(reinit[2]["fc1.weight"],
                                                     theta0[0]["fc1.weight"])
    assert random_mask[2] is theta0[0]
    for n, m in masks[0].items():
        assert random_mask[3][n].sum() == m.sum() and not torch.equal(random_mask[3][n], m)
    assert [m[0] for m in lottery.round_members(cfg, 2, [0, 1], masks, theta0)] == \
        ["ticket", "ticket"]          # no controls at round 2


def test_a_conv_study_stores_its_images_in_the_engines_layout_once(cifar_small):
    """The lottery study converts the images once for all its rounds (each round's training
    then finds them in its layout and copies nothing); LeNet's stay as they are."""
    cfg = lottery.study_config("conv2-cifar10", "quick")
    study = lottery.LotteryStudy(cfg, data=cifar_small)
    study.prepare({})
    layout = population.conv_layout(study.template, cifar_small.device)
    x = study.data.train_x
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    assert x.is_contiguous(memory_format=fmt)
    assert layout == "channels_last" or cifar_small.device.type != "cpu"   # measured on CPUs
    assert torch.equal(x, cifar_small.train_x)                  # the same images
    assert training.images_in_layout(study.data, layout) is study.data   # no copy per round
