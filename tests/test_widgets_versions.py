"""The "Try it" panels (lth_utils.widgets) under ipywidgets 7 and 8: Colab ships ipywidgets 7
(7.7.1), a local install gets 8, and requirements.txt allows both (``ipywidgets>=7.7``).

tests/widget_probe.py builds every panel and moves each control, in a fresh interpreter. The
installed ipywidgets covers its own major version; the other is installed once, without its
dependencies, into a folder of the virtual environment (``<venv>/ipywidgets-<version>``) and put
first on PYTHONPATH. That install needs the package registry the first time; without it the test
fails and says so (it never skips).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import ipywidgets
import pytest

REPO = Path(__file__).resolve().parents[1]
PROBE = REPO / "tests" / "widget_probe.py"

# The version tested for each major one when the installed ipywidgets is the other: for 7,
# Colab's (googlecolab/backend-info, pip-freeze.txt of the Python 3.13 runtime, 2026-08-19).
VERSIONS = {7: "7.7.1", 8: "8.1.5"}
# ipywidgets 7 imports ipython_genutils, which ipywidgets 8's environment no longer has.
EXTRA = {7: ["ipython_genutils==0.2.0"], 8: []}


def installed_copy(major: int) -> Path:
    """A folder holding ipywidgets ``VERSIONS[major]`` (and what it imports that the venv lacks),
    made once with ``pip install --no-deps --target`` and reused."""
    version = VERSIONS[major]
    home = Path(sys.prefix) / f"ipywidgets-{version}"
    if (home / ".complete").exists():
        return home
    tmp = home.with_name(home.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(tmp),
           f"ipywidgets=={version}", *EXTRA[major]]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if run.returncode:
        pytest.fail(f"could not install ipywidgets {version} to test the panels against it "
                    f"(the package registry is needed once; the copy is kept in {home}):\n"
                    f"$ {' '.join(cmd)}\n{run.stderr[-2000:]}")
    (tmp / ".complete").write_text(f"ipywidgets=={version}\n")
    shutil.rmtree(home, ignore_errors=True)
    tmp.rename(home)
    return home


@pytest.mark.parametrize("major", [7, 8])
def test_every_panel_works_with_ipywidgets(major):
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1", LTH_PROGRESS="1")
    env.pop("PYTHONPATH", None)
    if int(ipywidgets.__version__.split(".")[0]) != major:
        env["PYTHONPATH"] = str(installed_copy(major))
    run = subprocess.run([sys.executable, str(PROBE)], capture_output=True, text=True,
                         env=env, cwd=REPO, timeout=300)
    assert run.returncode == 0, f"ipywidgets {major}:\n{run.stderr[-3000:]}"
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["ipywidgets"].split(".")[0] == str(major), report["ipywidgets"]
    assert len(report["panels"]) == 7, sorted(report["panels"])
    print(f"ipywidgets {report['ipywidgets']}: {len(report['panels'])} panels, every control "
          f"moved")


def test_requirements_admit_colabs_ipywidgets():
    text = (REPO / "requirements.txt").read_text()
    bound = re.search(r"^ipywidgets\s*>=\s*([\d.]+)", text, re.M).group(1)
    as_tuple = lambda v: tuple(int(p) for p in v.split("."))  # noqa: E731
    assert as_tuple(bound) <= as_tuple(VERSIONS[7]), (bound, VERSIONS[7])
