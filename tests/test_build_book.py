"""`make book` builds the profile it says, whatever was built before (tools/build_book.sh).

Sphinx rebuilds only the chapters whose source changed: after `make test` (quick pages in
_build/html) a plain `jupyter-book build` for the standard profile kept the quick pages. These tests
run the real Makefile and tools/build_book.sh against a tiny fake book in a temporary folder, with
a fake `jupyter-book` that records how it was called (profile, LTH_PROGRESS, flags) and writes one
page, so they take a second and fail if the order `make test`, then `make book` keeps stale pages.
They also check tests/test_pages.py's staleness rule: pages of another profile are stale.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tools" / "build_book.sh"

FAKE_JB = textwrap.dedent("""\
    #!/usr/bin/env python3
    # a stand-in for jupyter-book: records its call, writes the page, fails if FAKE_JB_FAIL is set;
    # it writes only into the fake book (LTH_BOOK_DIR), whatever folder it is asked to build
    import json, os, sys, pathlib
    root = pathlib.Path(os.environ["LTH_BOOK_DIR"])
    with open(os.environ["FAKE_JB_LOG"], "a") as log:
        log.write(json.dumps({"profile": os.environ.get("LTH_PROFILE"),
                              "progress": os.environ.get("LTH_PROGRESS"), "args": sys.argv[1:]}) + "\\n")
    if os.environ.get("FAKE_JB_FAIL"):
        sys.exit(1)
    page = root / "_build" / "html" / "index.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text("built for " + os.environ["LTH_PROFILE"])
    """)


@pytest.fixture
def fake(tmp_path):
    """A fake book root and jupyter-book; returns a function that runs a command and returns the
    calls the fake jupyter-book saw during it."""
    root = tmp_path / "book"
    root.mkdir()
    jb = tmp_path / "venv" / "bin" / "jupyter-book"      # also as VENV, should a recipe ignore JUPYTER_BOOK
    jb.parent.mkdir(parents=True)
    jb.write_text(FAKE_JB)
    jb.chmod(0o755)
    log = tmp_path / "calls.jsonl"
    log.touch()
    env = {k: v for k, v in os.environ.items() if k not in ("LTH_PROFILE", "LTH_PROGRESS", "JBFLAGS")}
    env.update(LTH_BOOK_DIR=str(root), JUPYTER_BOOK=str(jb), FAKE_JB_LOG=str(log))

    def run(cmd: list[str], check: bool = True, **extra_env: str) -> list[dict]:
        before = len(log.read_text().splitlines())
        proc = subprocess.run(cmd, cwd=REPO, env={**env, **extra_env}, capture_output=True, text=True)
        if check:
            assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        run.returncode = proc.returncode
        return [json.loads(line) for line in log.read_text().splitlines()[before:]]

    run.root = root
    run.venv = tmp_path / "venv"
    run.stamp = root / "_build" / ".profile"
    return run


def make_book(fake, **env) -> list[dict]:
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    # JUPYTER_BOOK comes from the environment (the Makefile's `?=` keeps it); VENV points at the
    # fake too, so that a recipe calling $(VENV)/bin/jupyter-book never starts a real build
    return fake(["make", "--no-print-directory", "-o", "env", "-o", "data", "book",
                 f"VENV={fake.venv}"], **env)


def build(fake, profile: str, *flags: str, check: bool = True, **env) -> list[dict]:
    """tools/build_book.sh, as tests/test_pages.py calls it."""
    return fake(["bash", str(SCRIPT), profile, *flags], check=check, **env)


def test_make_book_after_make_test_rebuilds_every_page_for_standard(fake):
    # `make test`: the page tests build the quick pages
    [call] = build(fake, "quick", "-W")
    assert call["profile"] == "quick" and call["progress"] == "0"
    assert "--all" in call["args"], "a first build (no _build/.profile) must build every page"
    assert fake.stamp.read_text().strip() == "quick"
    # `make book`: standard pages, every page rebuilt, no progress bars
    [call] = make_book(fake)
    assert call["profile"] == "standard", f"make book built profile {call['profile']!r}"
    assert call["progress"] == "0", "make book must build the pages with LTH_PROGRESS=0"
    assert "--all" in call["args"], (
        f"make book after a quick build must rebuild every page (--all), called with {call['args']}")
    assert call["args"][:4] == ["build", str(fake.root), "--path-output", str(fake.root)]
    assert fake.stamp.read_text().strip() == "standard"
    # `make book` again: nothing changed, Sphinx's incremental build is right
    [call] = make_book(fake)
    assert "--all" not in call["args"], "a second build of the same profile need not rebuild everything"
    # a profile asked for explicitly
    [call] = make_book(fake, LTH_PROFILE="paper")
    assert call["profile"] == "paper" and "--all" in call["args"]


def test_makefile_book_passes_jbflags(fake):
    [call] = fake(["make", "--no-print-directory", "-o", "env", "-o", "data", "book",
                   f"VENV={fake.venv}", "JBFLAGS=-W --keep-going"])
    assert "-W" in call["args"] and "--keep-going" in call["args"]


def test_a_build_by_hand_after_the_stamp_makes_it_unknown(fake):
    build(fake, "standard")
    page = fake.root / "_build" / "html" / "index.html"
    later = fake.stamp.stat().st_mtime + 10
    os.utime(page, (later, later))        # `jupyter-book build .` by hand, e.g. with LTH_PROFILE=quick
    [call] = build(fake, "standard")
    assert "--all" in call["args"], "pages newer than _build/.profile are of an unknown profile"


def test_a_failed_build_leaves_no_stamp(fake):
    build(fake, "quick")
    build(fake, "standard", check=False, FAKE_JB_FAIL="1")
    assert fake.returncode != 0, "build_book.sh must fail when jupyter-book fails"
    assert not fake.stamp.exists(), "a failed build must not leave the old profile's stamp"
    [call] = build(fake, "quick")
    assert "--all" in call["args"], "after a failed build every page must be rebuilt"


def test_no_duplicate_all_flag_and_bad_profile(fake):
    [call] = build(fake, "quick", "--all")
    assert call["args"].count("--all") == 1
    assert build(fake, "fast", check=False) == [] and fake.returncode == 2


def test_page_tests_treat_another_profile_as_stale(tmp_path):
    """tests/test_pages.py's _stale_reason: a build of another profile (or of an unknown one) is stale."""
    test_pages = pytest.importorskip("test_pages", reason="tests/test_pages.py needs playwright")
    book = tmp_path
    (book / "book").mkdir()
    (book / "_config.yml").write_text("title: t\n")
    (book / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    (book / "book" / "intro.md").write_text("# Intro\n")
    html = book / "_build" / "html"
    (html / "book").mkdir(parents=True)
    page = html / "book" / "intro.html"
    page.write_text("<p>no profile here</p>")
    stamp = book / "_build" / ".profile"
    old = page.stat().st_mtime - 100
    for f in (book / "_config.yml", book / "_toc.yml", book / "book" / "intro.md"):
        os.utime(f, (old, old))

    def reason(profile):
        return test_pages._stale_reason(book, html, ["book/intro"], profile)

    assert "unknown" in reason("quick"), "pages without a stamp or a profile line are stale"
    stamp.write_text("standard\n")
    later = page.stat().st_mtime + 1
    os.utime(stamp, (later, later))
    assert reason("standard") is None
    assert "'standard', not 'quick'" in reason("quick")
    # a build by hand after the stamp: the profile is read from the page's setup output
    page.write_text("<pre>lth_utils 0.1.0 · profile &#39;quick&#39;</pre>")
    os.utime(page, (later + 5, later + 5))
    assert reason("quick") is None
    assert "'quick', not 'standard'" in reason("standard")


def test_a_full_build_drops_the_images_of_earlier_builds(fake):
    """A figure that changed leaves its old PNG in _build/html/_images (named by a hash of its
    content), and the published folder would carry it: a build of every page starts without
    them; an incremental build keeps them (Sphinx does not write unchanged pages' images again)."""
    images = fake.root / "_build" / "html" / "_images"
    images.mkdir(parents=True)
    (images / "old.png").write_bytes(b"stale")
    build(fake, "quick", "-W")                       # first build: --all
    assert not (images / "old.png").exists()
    images.mkdir(parents=True, exist_ok=True)
    (images / "kept.png").write_bytes(b"current")
    [call] = build(fake, "quick", "-W")              # same profile: incremental
    assert "--all" not in call["args"] and (images / "kept.png").exists()

