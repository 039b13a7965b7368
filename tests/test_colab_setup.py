"""Colab readiness: the chapters' setup cell, and the package Colab installs from the repository.

- Every chapter notebook's first code cell is exactly the book's setup cell.
- That cell does nothing but import and print outside Colab (its `!pip` line runs only when
  `google.colab` is imported), and inside Colab installs lth_utils from the repository URL of
  _config.yml.
- `pip wheel` builds the package from a copy of the repository, the wheel imports (all modules)
  from where it was installed, and its metadata never asks for torch or torchvision, so pip in
  Colab leaves Colab's own CUDA build of torch alone.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml

import toc  # tests/toc.py: the one reader of _toc.yml

REPO = Path(__file__).resolve().parents[1]

sys.path.insert(0, str(REPO / "tools"))
from setup_cell import repository_url, setup_cell  # noqa: E402  (tools/setup_cell.py)

SETUP_CELL = setup_cell()


def chapter_notebooks() -> list[str]:
    """Every notebook of _toc.yml (any entry without a .md file), plus any book/NN_*.ipynb."""
    names = {str(p.relative_to(REPO)) for p in toc.notebooks(REPO)}
    names |= {str(p.relative_to(REPO)) for p in (REPO / "book").glob("[0-9][0-9]_*.ipynb")}
    return sorted(names)


def first_code_cell(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path.name} has no code cell"
    return code[0].source


def run_setup_cell(source: str, in_colab: bool) -> tuple[list[str], str]:
    """Run the cell as IPython would (shell lines become get_ipython().system calls) with a fake
    IPython that records the shell commands instead of running them. Returns (commands, printed)."""
    from IPython.core.inputtransformer2 import TransformerManager

    python = TransformerManager().transform_cell(source)
    commands: list[str] = []

    class FakeIPython:
        def system(self, cmd):
            commands.append(cmd)

        def run_line_magic(self, name, line):
            commands.append(f"%{name} {line}")

    import contextlib
    import io

    saved = sys.modules.get("google.colab")
    saved_env = dict(os.environ)
    out = io.StringIO()
    try:
        if in_colab:
            sys.modules["google.colab"] = type(sys)("google.colab")
        else:
            sys.modules.pop("google.colab", None)
        with contextlib.redirect_stdout(out):
            exec(compile(python, "<setup cell>", "exec"), {"get_ipython": FakeIPython})
    finally:
        os.environ.clear()
        os.environ.update(saved_env)      # the cell's setdefault("LTH_PROFILE") stays in it
        if saved is not None:
            sys.modules["google.colab"] = saved
        else:
            sys.modules.pop("google.colab", None)
    return commands, out.getvalue()


@pytest.mark.parametrize("notebook", chapter_notebooks())
def test_first_code_cell_is_the_setup_cell(notebook):
    path = REPO / notebook
    assert path.exists(), f"{notebook} is listed in _toc.yml but does not exist"
    source = first_code_cell(path)
    assert source.rstrip() == SETUP_CELL, (
        f"the first code cell of {notebook} must be the book's setup cell (run "
        f"`python tools/setup_cell.py --write`):\n{SETUP_CELL}\nfound:\n{source}")


def test_setup_cell_has_no_effect_outside_colab():
    commands, printed = run_setup_cell(SETUP_CELL, in_colab=False)
    assert commands == [], f"outside Colab the setup cell ran {commands}"
    assert re.fullmatch(r"lth_utils \S+ · profile '(quick|standard|paper)'\n", printed), printed
    # Every shell/magic line sits inside the `if "google.colab" in sys.modules:` block.
    lines = SETUP_CELL.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("!", "%")):
            assert line.startswith((" ", "\t")), f"unguarded shell line: {line!r}"
            guard = next(l for l in reversed(lines[:i]) if not l.startswith((" ", "\t")))
            assert guard == 'if "google.colab" in sys.modules:', f"{line!r} is guarded by {guard!r}"


def test_setup_cell_in_colab_installs_from_this_repository():
    commands, _ = run_setup_cell(SETUP_CELL, in_colab=True)
    url = repository_url()
    # the shell line continues on the next line (backslash): compare without the extra spaces
    assert [" ".join(c.split()) for c in commands] == [f"pip install -q git+{url}"], commands
    assert all(len(line) <= 80 for line in SETUP_CELL.splitlines()), "the setup cell must fit"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built by pip from a clean copy of the package sources (no build files in the repo)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "lth_utils", src / "lth_utils",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copytree(REPO / "data" / "results", src / "data" / "results",
                    ignore=shutil.ignore_patterns("*.tmp", "*.ckpt*", "*.prev.pt"))
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(src)], capture_output=True, text=True)
    assert proc.returncode == 0, f"pip wheel failed:\n{proc.stdout}\n{proc.stderr}"
    wheels = list(out.glob("lth_utils-*.whl"))
    assert len(wheels) == 1, f"expected one lth_utils wheel, got {wheels}"
    return wheels[0]


def test_wheel_does_not_require_torch(wheel):
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        requires = [l.split(":", 1)[1].strip() for l in z.read(meta).decode().splitlines()
                    if l.startswith("Requires-Dist:")]
    names = [re.split(r"[\s<>=!~;\[(@]", r, maxsplit=1)[0].lower() for r in requires]
    assert "torch" not in names and "torchvision" not in names, (
        f"the wheel requires {requires}: pip in Colab would replace Colab's CUDA build of torch")


def test_wheel_installs_and_imports(wheel, tmp_path):
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                           "--target", str(target), str(wheel)], capture_output=True, text=True)
    assert proc.returncode == 0, f"pip install --target failed:\n{proc.stdout}\n{proc.stderr}"
    modules = sorted(p.stem for p in (REPO / "lth_utils").glob("*.py")
                     if p.stem not in ("__init__", "__main__"))
    code = ("import importlib, lth_utils\n"
            f"for m in {modules!r}: importlib.import_module('lth_utils.' + m)\n"
            "print(lth_utils.__file__)")
    env = dict(os.environ, PYTHONPATH=str(target))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"importing the installed wheel failed:\n{proc.stderr}"
    location = Path(proc.stdout.strip().splitlines()[-1]).resolve()
    assert location.is_relative_to(target.resolve()), (
        f"lth_utils was imported from {location}, not from the wheel installed in {target}")


def test_wheel_ships_the_committed_records(wheel):
    committed = sorted(p.name for p in (REPO / "data" / "results").iterdir()
                       if p.suffix in (".json", ".lthc"))
    with zipfile.ZipFile(wheel) as z:
        shipped = sorted(Path(n).name for n in z.namelist()
                         if n.startswith("lth_utils/book_records/"))
    assert shipped == committed, "the wheel must carry every committed record (data/results/)"


@pytest.fixture(scope="module")
def colab(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment outside the repository with the package installed from the
    wheel, as the setup cell installs it in Colab (pip builds the same wheel from the URL). The
    libraries Colab brings (torch, Jupyter) come from this project's environment via a .pth."""
    root = tmp_path_factory.mktemp("colab")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")],
                   check=True)
    python = root / "venv" / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True)
    site = Path(site.stdout.strip())
    import sysconfig
    (site / "colab_libraries.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                           "--target", str(site), str(wheel)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return python


@pytest.mark.parametrize("chapter", ["07_conv_nets"])
def test_a_chapter_in_colab_reads_the_books_records_and_does_not_train(colab, chapter, tmp_path):
    """The chapter, executed in /content-like folder with the installed package and the
    published profile, finds the shipped records (copied to ./data/results) and trains no study:
    every record it leaves there is byte for byte the shipped one, and no other file is written."""
    import time
    content = tmp_path / "content"
    content.mkdir()
    shutil.copy(REPO / "book" / f"{chapter}.ipynb", content)
    run = ("import sys, nbformat, nbclient\n"
           "nb = nbformat.read(sys.argv[1], as_version=4)\n"
           "nbclient.NotebookClient(nb, timeout=600, kernel_name='python3',\n"
           "    resources={'metadata': {'path': '.'}}).execute()\n"
           "import lth_utils; print(lth_utils.__file__)\n")
    env = {k: v for k, v in os.environ.items() if k != "LTH_RESULTS_DIR"}
    # Colab's own datasets folder stands in for the download; the records are not there
    env.update(LTH_PROFILE="standard", LTH_DATA_DIR=str(REPO / "data"), LTH_PROGRESS="0",
               LTH_DEVICE="cpu")
    t = time.time()
    proc = subprocess.run([str(colab), "-c", run, f"{chapter}.ipynb"], cwd=content, env=env,
                          capture_output=True, text=True, timeout=900)
    took = time.time() - t
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "venv" in proc.stdout and str(REPO) not in proc.stdout, proc.stdout
    written = sorted(p.name for p in (content / "data" / "results").iterdir())
    shipped = sorted(p.name for p in (REPO / "data" / "results").iterdir()
                     if p.suffix in (".json", ".lthc"))
    assert written == shipped, f"files other than the shipped records: {set(written) ^ set(shipped)}"
    changed = [n for n in written if (content / "data" / "results" / n).read_bytes()
               != (REPO / "data" / "results" / n).read_bytes()]
    assert not changed, f"{chapter} recomputed {changed} instead of reading the book's records"
    print(f"{chapter}: executed in a fresh environment in {took:.0f} s, no study trained")


def test_the_repository_url_is_written_in_one_place():
    """_config.yml names the repository; the chapters' cells are made from it (tools/)."""
    url = repository_url()
    holders = [p.relative_to(REPO).as_posix() for p in
               [*REPO.glob("*.yml"), *REPO.glob("*.toml"), *(REPO / "lth_utils").glob("*.py"),
                *(REPO / "tools").glob("*"), *(REPO / "tests").glob("*.py")]
               if p.is_file() and url in p.read_text(errors="ignore")]
    assert holders == ["_config.yml"], f"the repository URL is also written in {holders}"


def test_in_colab_the_setup_cell_shows_the_published_profile(monkeypatch):
    monkeypatch.delenv("LTH_PROFILE", raising=False)
    _, printed = run_setup_cell(SETUP_CELL, in_colab=True)
    assert "profile 'standard'" in printed and "LTH_PROFILE" not in os.environ
    monkeypatch.setenv("LTH_PROFILE", "quick")      # a reader's own choice is kept
    _, printed = run_setup_cell(SETUP_CELL, in_colab=True)
    assert "profile 'quick'" in printed


@pytest.mark.parametrize("notebook", chapter_notebooks())
def test_chapters_are_committed_without_outputs(notebook):
    """The rule for committed notebooks: no outputs, execution counts or widget state (Colab opens
    a chapter clean; the web book shows the standard build's outputs). Fix: `python
    tools/clear_outputs.py`."""
    nb = nbformat.read(REPO / notebook, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)
             or "execution" in c.metadata]
    assert not dirty and "widgets" not in nb.metadata, (
        f"{notebook} is committed with outputs (code cells {dirty[:5]}): run "
        f"`python tools/clear_outputs.py {notebook}`")
