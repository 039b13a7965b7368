"""The parts of tools/gpu_check.sh that need Python, each a command that writes JSON, and the
summary table that reads them back.

    python tools/gpu_check.py bench OUT.json          the benchmark (lth_utils.bench), its rows kept
    python tools/gpu_check.py study NAME OUT.json     a quick study on $LTH_DEVICE, timed
    python tools/gpu_check.py summary DIR GPU PART=STATUS ...
                                                      the table; exit 1 if any part failed

``GPU_CHECK_SMOKE=1`` shrinks every size (a check of the script, not of the machine).
"""
from __future__ import annotations

import json
import os
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

SMOKE = os.environ.get("GPU_CHECK_SMOKE", "0") == "1"
# smoke sizes: a study of seconds (one round, one one-shot level, controls every round), its
# evaluations on 200 validation and 200 test images
TINY_STUDY = dict(trials=1, rounds=1, iterations=20, eval_every=10, test_every=None,
                  train_subset=600, val_size=200, oneshot_rounds=(1,), control_rounds=None)
TINY_EVAL = 200
PAPER_STUDIES = ("lenet-mnist", "conv2-cifar10")


def bench(out: str) -> None:
    from lth_utils.bench import run_bench
    result = (run_bench(iterations=10, ks=(1, 4), widths=(0.25,), min_run_time=0.05) if SMOKE
              else run_bench())
    Path(out).write_text(json.dumps(result, indent=1))


def study(name: str, out: str) -> None:
    """Run the quick study ``name`` afresh (an earlier record at ``out`` is removed, so that
    the wall time is measured), print its accuracies, write its timing beside the record."""
    import lth_utils
    from lth_utils import data, lottery
    record_path = Path(out).with_suffix(".record.json")
    for stale in record_path.parent.glob(record_path.stem + ".*"):   # record, checkpoints
        stale.unlink()
    cfg = lottery.study_config(name, "quick", **(TINY_STUDY if SMOKE else {}))
    start = time.perf_counter()
    splits = (data.load(cfg.dataset, val_size=cfg.val_size, train_subset=cfg.train_subset,
                        eval_size=TINY_EVAL) if SMOKE else None)
    record = lottery.run_study(cfg, record_path, progress=False, data=splits)
    wall = time.perf_counter() - start
    mean = lambda ms: sum(m["early_stop_test_acc"] for m in ms) / len(ms)
    timing = {"study": name, "device": lth_utils.device_name(), "wall_s": wall,
              "network_iterations": lottery.network_iterations(cfg),
              "dense_acc": mean(record["rounds"][0]["arms"]["ticket"]),
              "last_ticket_acc": mean(record["rounds"][-1]["arms"]["ticket"])}
    print(f"{name} on {timing['device']}: {wall:.0f} s; dense {100 * timing['dense_acc']:.2f}%, "
          f"last round's ticket {100 * timing['last_ticket_acc']:.2f}%")
    Path(out).write_text(json.dumps(timing, indent=1))


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _tests(path: Path) -> str:
    try:
        suites = list(ET.parse(path).getroot().iter("testsuite"))   # read more than once
        n = {k: sum(int(s.get(k, 0)) for s in suites)
             for k in ("tests", "failures", "errors", "skipped")}
    except (OSError, ET.ParseError):
        return "no test report"
    passed = n["tests"] - n["failures"] - n["errors"] - n["skipped"]
    return (f"{passed} passed, {n['failures']} failed, {n['errors']} errors, "
            f"{n['skipped']} skipped")


def _estimate(name: str, rows: list[dict]) -> str:
    """The paper profile's training time on the bench's device: its network-iterations (from
    lottery's profile sizes) x the bench's ms per network-iteration of the engine at its
    largest K for that network. Steps only: evaluations are not in the bench."""
    from lth_utils import lottery
    cfg = lottery.study_config(name, "paper")
    engine = [r for r in rows if r["model"] == cfg.model and r["width"] == cfg.width
              and r["loop"].startswith("(c)")]
    n = lottery.network_iterations(cfg)
    sizes = f"{cfg.trials} trials, {cfg.rounds} rounds, {cfg.iterations:,} its: {n:,} net-its"
    if not engine:
        return f"{sizes}; no bench row for {cfg.model} at width {cfg.width:g}"
    row = max(engine, key=lambda r: r["k"])
    hours = n * row["ms"] / 1e3 / 3600
    return f"{sizes} x {row['ms']:.3f} ms (bench, K = {row['k']}) = {hours:.1f} h"


def summary(folder: str, gpu: str, statuses: list[str]) -> int:
    out = Path(folder)
    status = dict(s.rsplit("=", 1) for s in statuses)
    lines = []

    def line(part: str, result: str) -> None:
        rc = status.get(part)
        mark = "-" if rc is None else ("ok" if rc == "0" else f"FAIL ({rc})")
        lines.append(f"{part:<24}{mark:<10}{result}")

    if "gpu" in status:
        line("gpu", "a GPU is visible to PyTorch" if status["gpu"] == "0" else "no GPU")
    line("tests", _tests(out / "tests.xml"))
    result = _read(out / "bench.json")
    rows = result["rows"] if result else []
    line("bench", f"{len(rows)} rows, {result['machine']}, torch threads {result['threads']}"
         if result else "no bench rows")
    for r in rows:
        lines.append(f"{'':<34}{r['model']} width {r['width']:g}  {r['loop']:<62}"
                     f"{r['ms']:>9.3f} ms")
    for name in PAPER_STUDIES:
        for dev in dict.fromkeys((gpu, "cpu")):
            t = _read(out / f"{name}-quick-{dev}.json")
            line(f"{name}-{dev}", "no timing" if t is None else
                 f"quick study {t['wall_s']:.0f} s wall on {t['device']} "
                 f"({t['network_iterations']:,} net-its; dense {100 * t['dense_acc']:.2f}%, "
                 f"last ticket {100 * t['last_ticket_acc']:.2f}%)")
    for name in PAPER_STUDIES:
        lines.append(f"{name + ' paper':<24}{'estimate':<10}{_estimate(name, rows)}")
    print("== summary" + (" (GPU_CHECK_SMOKE=1: sizes shrunk, numbers mean nothing)"
                          if SMOKE else ""))
    print(f"{'part':<24}{'status':<10}result")
    print("\n".join(lines))
    return int(any(rc != "0" for rc in status.values()))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "bench":
        bench(*args)
    elif command == "study":
        study(*args)
    elif command == "summary":
        sys.exit(summary(args[0], args[1], args[2:]))
    else:
        sys.exit(f"unknown command {command!r}: bench, study or summary")
