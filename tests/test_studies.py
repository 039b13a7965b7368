"""Every study runs, splits and merges from the command line (``python -m lth_utils study``)."""
import dataclasses
import json
from pathlib import Path

import pytest

from lth_utils import cli, instability, results, studies

ROOT = Path(__file__).resolve().parents[1]


def test_every_study_has_a_config_per_profile_and_is_listed(capsys):
    for study in studies.STUDIES.values():
        for profile in ("quick", "standard", "paper"):
            study.config(profile)
    with pytest.raises(SystemExit):
        cli.main(["study", "--help"])
    listed = capsys.readouterr().out
    assert all(name in listed for name in studies.STUDIES)
    assert "ch12-lenet" in listed and "prune-at-init" in listed and "paper" in listed


def test_every_committed_study_record_has_exactly_one_owner():
    """The merge command finds a part's study by its config: no record is claimed twice."""
    for path in sorted((ROOT / "data" / "results").glob("*.json")):
        record = json.loads(path.read_text())
        if record.get("kind") not in results.STUDY_KINDS:
            continue
        study = studies.owner(record)
        stem = path.stem.replace("-probe", "").split("-sgd")[0]
        assert stem.startswith(study.name) or study.name.startswith("instability"), path.name


def test_the_books_configs_have_the_books_record_paths_and_a_changed_config_another(
        tmp_path, monkeypatch):
    """Every study's own config at every profile writes NAME-PROFILE.json (the committed
    records' names); the same study with one setting changed (an exercise's dropout or learning
    rate) writes a .variant-KEY file of its own, so it never replaces the book's record."""
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path))
    for study in studies.STUDIES.values():
        for profile in ("quick", "standard", "paper"):
            cfg = study.config(profile)
            path = study.path(cfg, None)
            assert ".variant-" not in path.name, (study.name, profile, path.name)
            if dataclasses.is_dataclass(cfg) and study.name != "ch12-lenet":
                field = "lr" if hasattr(cfg, "lr") else "iterations"
                changed = dataclasses.replace(cfg, **{field: getattr(cfg, field) * 2})
                other = study.path(changed, None)
                assert other.name.startswith(path.stem + ".variant-"), (study.name, other)
                assert other.suffix == ".json" and other != path
                assert study.path(dataclasses.replace(changed), None) == other   # stable
    committed = {p.name for p in (ROOT / "data" / "results").glob("*.json")}
    for name in ("lenet-mnist-standard.json", "conv2-cifar10-standard.json",
                 "instability-lenet-standard.json", "prune-at-init-standard.json",
                 "transfer-lenet-standard.json", "supermasks-lenet-mnist-standard.json"):
        assert name in committed, name


def _tiny_instability(monkeypatch):
    """The instability study at a unit test's size, under its CLI name."""
    def tiny(profile):
        return instability.study_config(
            "lenet", "quick", trials=2, iterations=20, ks=(0, 10), points=3, imp_rounds=1,
            imp_rates=(0.5, 0.25), rewind_iteration=5, imp_eval_every=10, train_subset=500,
            eval_size=200)
    real = studies.STUDIES["instability-lenet"]
    monkeypatch.setitem(studies.STUDIES, "instability-lenet",
                        dataclasses.replace(real, config=tiny))


def test_split_on_the_command_line_then_merge_equals_one_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path))
    _tiny_instability(monkeypatch)
    run = ["study", "instability-lenet", "--no-progress"]
    assert cli.main(run + ["--trials", "1"]) == 0
    assert cli.main(run + ["--trials", "0"]) == 0
    # the tiny config is not the book's, so its records carry a .variant-KEY
    parts = sorted(tmp_path.glob("instability-lenet-quick.variant-*.trials-*.json"))
    assert [p.name.split(".", 2)[2] for p in parts] == ["trials-0-0.json", "trials-1-1.json"]
    merged = tmp_path / "merged.json"
    assert cli.main(["merge", *map(str, parts), "--out", str(merged)]) == 0
    assert "2 trials" in capsys.readouterr().out
    assert cli.main(run + ["--out", str(tmp_path / "whole.json")]) == 0
    whole, got = (results.load_record(p) for p in (tmp_path / "whole.json", merged))
    assert got["paths"] == whole["paths"] and got["imp"] == whole["imp"]
    assert whole["kind"] == got["kind"] == "lth-instability"     # each study its own kind
    assert studies.owner(got).name == "instability-lenet"
    # another study's record is not an --out to overwrite
    msg = _exit_message(capsys, ["study", "prune-at-init", "--out", str(merged)])
    assert "holds a lth-instability record, not a lth-prune-at-init one" in msg
    assert results.load_record(merged) == got
    assert [p["trials"] for p in got["merged_from"]] == [[0], [1]]


def _exit_message(capsys, argv) -> str:
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    assert stop.value.code == 2, argv
    return capsys.readouterr().err


def test_bad_splits_and_merges_say_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LTH_PROFILE", "quick")
    assert "no trials to split" in _exit_message(capsys, ["study", "ch12-lenet", "--trials", "0"])
    msg = _exit_message(capsys, ["study", "prune-at-init", "--trials", "3"])
    assert "--trials '3'" in msg and "this study has" in msg
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"kind": results.KIND, "schema": results.SCHEMA,
                                   "complete": True, "config": {"what": 1}}))
    assert "matches no study" in _exit_message(
        capsys, ["merge", str(foreign), "--out", str(tmp_path / "m.json")])


def test_a_local_dask_cluster_of_two_workers_writes_the_one_run_record(tmp_path, monkeypatch):
    """The trials as two tasks on a local Dask cluster (two worker processes): the merged
    record equals the in-process run's, and both part records are kept."""
    from lth_utils import cluster
    assert cluster.split([0, 1, 2, 3, 4], 2) == [[0, 1, 2], [3, 4]]
    assert cluster.split([0, 1], 5) == [[0], [1]]
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path))
    _tiny_instability(monkeypatch)
    study = studies.STUDIES["instability-lenet"]
    cfg = study.config("quick")
    whole = study.run(cfg, tmp_path / "whole.json", None, False)
    got = cluster.run_on_dask(study, cfg, tmp_path / "dask.json", parts=2, scheduler="local")
    assert got["paths"] == whole["paths"] and got["imp"] == whole["imp"]
    assert results.load_record(tmp_path / "dask.json") == got
    assert sorted(p.name for p in tmp_path.glob("dask.trials-*.json")) == [
        "dask.trials-0-0.json", "dask.trials-1-1.json"]
    assert {p["code_version"]["source_sha256"] for p in got["merged_from"]} == \
        {whole["code_version"]["source_sha256"]}
