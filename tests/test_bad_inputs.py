"""Bad input fails before training, with a message that says what to do (issue 18, item 5).

The cases are tools/bad_inputs.py's table (one source: the probe runs them all and writes its
report; this test runs every fast one). Each runs with training, data loading, the benchmark and
Dask clusters replaced by a ``TrainingReached`` that no ``except Exception`` catches, in its own
temporary folder (``LTH_RESULTS_DIR`` and ``LTH_DATA_DIR`` point there). It must raise a
``ValueError``, ``TypeError`` or ``OSError`` (the command line: exit status 2) whose message
matches the case's hint (the bad value, or what to do), and lose nothing it had written; a fault
the library should absorb (a corrupt checkpoint) must be absorbed.
"""
import importlib
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import bad_inputs as probe  # noqa: E402  (tools/bad_inputs.py)

# what the cases import on first use (seconds), imported once here so that each case's time is
# its own
for _module in ("ipywidgets", "matplotlib.pyplot", "torchvision"):
    importlib.import_module(_module)

CASES = [c for c in probe.CASES if c.fast and not c.unfixed]


def test_the_table_covers_every_area_with_enough_cases():
    areas = {c.area for c in CASES}
    assert {"cli", "merge", "lottery", "instability", "supermasks", "prune-at-init", "transfer",
            "structured", "horizon", "run", "faults", "records", "masks", "data",
            "widgets"} <= areas
    assert len(CASES) >= 150
    assert all(c.hint or c.handled for c in CASES), "every error case says what a clear " \
                                                     "message names"


@pytest.mark.parametrize("case", CASES, ids=[f"{c.area}: {c.name}" for c in CASES])
def test_bad_input_fails_clearly_before_training(case, tmp_path):
    with probe.environment(tmp_path, case.env), probe.no_training():
        if case.handled:
            with probe.fault(case.fault):
                assert case.call(tmp_path) is None
            return
        with pytest.raises(probe.CLEAR + case.types, match=re.compile(case.hint, re.I | re.S)):
            with probe.fault(case.fault):
                case.call(tmp_path)
        if case.after:
            assert case.after(tmp_path) is None, "the error lost what was there"


def test_the_probe_sorts_what_it_finds(tmp_path):
    """The probe's own sorting: a case that trains is late, one that returns is silent, a
    KeyError is a traceback, a message without the hint is a traceback too."""
    def trains(t):
        probe.training.train_population(None, None, None, None, None, None)

    def key_error(t):
        raise KeyError("rounds")

    def vague(t):
        raise ValueError("something went wrong")
    outcomes = [probe.run_case(probe.Case("x", "test", call, r"rounds.*recompute"))[0]
                for call in (trains, lambda t: 1, key_error, vague)]
    assert outcomes == ["late", "silent", "traceback", "traceback"]
