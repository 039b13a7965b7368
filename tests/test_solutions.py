"""The worked solutions in book/solutions/ run, and every exercise has one.

For every chapter notebook of _toc.yml (book/NN_name.ipynb) there must be book/solutions/NN_name.md
with one ``## Exercise N`` section per item of the chapter's "## Exercises" list, one
``## Your run, further (x)`` section per item ``- (x)`` of the "**Take your run further.**" list
that ends a Part II chapter's "Your run" section (none where the chapter has no such list), and a
``## Recall questions`` section. The file's ```python blocks run in order, in one fresh Python
process per file (so later blocks see earlier blocks' names), under LTH_PROFILE=quick with the
repository root as working directory. A failure names the file, the block number and the
traceback.

Run one file by hand: ``python tests/test_solutions.py book/solutions/02_magnitude_pruning.md``.
"""
from __future__ import annotations

import atexit
import os
import re
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "book" / "solutions"
TIMEOUT_S = 3600          # per file; the machine running the tests may be small and shared
FAILED = "SOLUTION BLOCK FAILED"


def python_blocks(markdown: str) -> list[str]:
    """The contents of the ```python fenced blocks of ``markdown``, in order."""
    return re.findall(r"^```python[ \t]*\n(.*?)^```[ \t]*$", markdown, flags=re.S | re.M)


def run_blocks(path: Path) -> None:
    """Execute the python blocks of ``path`` in one namespace; on error, report and exit 1."""
    import matplotlib
    matplotlib.use("Agg")
    namespace = {"__name__": "__main__"}
    for i, block in enumerate(python_blocks(path.read_text()), start=1):
        try:
            exec(compile(block, f"<{path.name}, block {i}>", "exec"), namespace)
        except BaseException:
            print(f"{FAILED}: {path.name}, block {i}", file=sys.stderr)
            traceback.print_exc()
            sys.exit(1)


if __name__ == "__main__":           # the subprocess side: python tests/test_solutions.py FILE
    run_blocks(Path(sys.argv[1]))
    sys.exit(0)


import nbformat  # noqa: E402  (only the pytest side needs these)
import pytest  # noqa: E402

import toc  # noqa: E402  (tests/toc.py: the one reader of _toc.yml)


def exercise_count(notebook: Path) -> int:
    """How many items the chapter's "## Exercises" list has (lines starting "N. ")."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        match = re.search(r"^## Exercises[ \t]*$(.*?)(?=^#{1,6} |\Z)", cell.source, re.S | re.M)
        if match:
            return len(re.findall(r"^\d+\.\s", match.group(1), re.M))
    return 0


FURTHER = "**Take your run further.**"


def further_items(notebook: Path) -> list[str]:
    """The labels ("a", "b", ...) of the items "- (x) " of the chapter's "Take your run
    further" list, in order; [] where the chapter has none."""
    nb = nbformat.read(notebook, as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "markdown" and FURTHER in c.source]
    assert len(cells) <= 1, f"{notebook.name}: {len(cells)} cells hold {FURTHER}"
    if not cells:
        return []
    labels = re.findall(r"^- \(([a-z])\) ", cells[0], re.M)
    assert labels, f"{notebook.name}: no item '- (a) ...' under {FURTHER}"
    return labels


def solution_of(notebook: Path) -> Path:
    return SOLUTIONS / f"{notebook.stem}.md"


CHAPTERS = toc.chapter_notebooks(REPO)


def test_chapters_found():
    assert CHAPTERS, "no book/NN_name.ipynb chapter in _toc.yml"


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_every_exercise_has_a_solution(notebook: Path):
    n = exercise_count(notebook)
    assert n > 0, f"{notebook.name} has no '## Exercises' list"
    solution = solution_of(notebook)
    assert solution.exists(), (f"{notebook.name} has {n} exercises but no solution file "
                               f"{solution.relative_to(REPO)}")
    text = solution.read_text()
    found = sorted(int(k) for k in re.findall(r"^## Exercise (\d+)[ \t]*$", text, re.M))
    assert found == list(range(1, n + 1)), (
        f"{solution.name}: expected sections '## Exercise 1' .. '## Exercise {n}' "
        f"(one per exercise of {notebook.name}), found {found}")
    labels = further_items(notebook)
    assert labels == [chr(ord("a") + i) for i in range(len(labels))], (
        f"{notebook.name}: the '{FURTHER}' items are labelled {labels}, not (a), (b), ...")
    further = re.findall(r"^## Your run, further \(([a-z])\)[ \t]*$", text, re.M)
    assert further == labels, (
        f"{solution.name}: expected sections '## Your run, further (x)' for x in {labels} "
        f"(one per item of {notebook.name}'s '{FURTHER}' list, in order), found {further}")
    assert re.search(r"^## Recall questions[ \t]*$", text, re.M), (
        f"{solution.name} has no '## Recall questions' section")


# --- running the files: in the test, or ahead of it in a background thread ------------------
# Running every solution takes minutes, one thread each. tests/conftest.py moves these tests to
# the end (before the page checks) and calls start_background() once the page build is under
# way: a thread runs the files from the last chapter backwards on the core the build leaves
# idle once it ends, while the tests take them from the first chapter on; each file runs once,
# in whichever side claims it first.
# solution -> {"done": Event, "popen", "returncode", "stdout", "stderr", "timeout", "seconds",
# "where"}
_CLAIMED: dict[Path, dict] = {}
_LOCK = threading.Lock()
# the environment as the session starts: the background thread runs while other tests
# monkeypatch os.environ (LTH_RESULTS_DIR, LTH_DEVICE), which a solution must not inherit
_ENV = dict(os.environ)


def _claim(solution: Path) -> bool:
    """True for the first caller: it runs the file; later callers wait for its result."""
    with _LOCK:
        if solution in _CLAIMED:
            return False
        _CLAIMED[solution] = {"done": threading.Event()}
        return True


def _run(solution: Path, where: str) -> None:
    """Run ``solution`` in a fresh process under the quick profile; record the outcome."""
    # one BLAS thread unless told otherwise: on a small shared machine, threads that spin-wait for
    # each other make these small matrix products many times slower
    env = {**_ENV, "LTH_PROFILE": "quick", "LTH_PROGRESS": "0", "MPLBACKEND": "Agg",
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    entry, start = _CLAIMED[solution], time.time()
    proc = subprocess.Popen([sys.executable, __file__, str(solution)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    entry["popen"] = proc
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
        entry.update(returncode=proc.returncode, stdout=out, stderr=err, timeout=False)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        entry.update(timeout=True)
    entry.update(seconds=time.time() - start, where=where)
    entry["done"].set()


def _stop_background() -> None:
    for entry in list(_CLAIMED.values()):
        if "popen" in entry and entry["popen"].poll() is None:
            entry["popen"].kill()


def start_background(notebooks: list[Path],
                     after: subprocess.Popen | None = None) -> threading.Thread:
    """Run the solution files of ``notebooks`` (the selected tests' chapters), last first, in a
    daemon thread, after ``after`` (the page build, when one runs) has ended; a file a test has
    already claimed is skipped."""
    def worker() -> None:
        if after is not None:
            after.wait()
        for notebook in reversed(notebooks):
            solution = solution_of(notebook)
            if solution.exists() and _claim(solution):
                _run(solution, "background")

    atexit.register(_stop_background)
    thread = threading.Thread(target=worker, name="solutions", daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_solution_code_runs(notebook: Path):
    solution = solution_of(notebook)
    if not solution.exists():
        pytest.fail(f"no solution file {solution.relative_to(REPO)} for {notebook.name}")
    assert python_blocks(solution.read_text()), f"{solution.name} has no ```python block"
    if _claim(solution):
        _run(solution, "in the test")
    entry = _CLAIMED[solution]
    entry["done"].wait()
    print(f"{solution.name}: {entry['seconds']:.0f} s ({entry['where']})")
    if entry["timeout"]:
        pytest.fail(f"{solution.name}: its code ran longer than {TIMEOUT_S} s")
    if entry["returncode"] != 0:
        pytest.fail(f"{solution.name} failed (exit {entry['returncode']}):\n"
                    f"{entry['stderr'][-6000:]}\n--- stdout (end) ---\n{entry['stdout'][-2000:]}")
