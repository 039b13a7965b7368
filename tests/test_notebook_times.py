"""tools/notebook_times.py: the course guide's table of chapter run times, read from a page
build's log."""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
from notebook_times import chapter_times, duration, main, table  # noqa: E402

LOG = """\
/x/book/01_why_prune.ipynb: Executed notebook in 16.04 seconds [mystnb]
reading sources... [ 40%] book/03_prune_and_finetune
/x/book/03_prune_and_finetune.ipynb: Executed notebook in 168.55 seconds [mystnb]
/x/book/12_sparse_speed.ipynb: Executed notebook in 8.4 seconds [mystnb]
"""


def test_times_are_read_per_chapter_and_written_in_the_guides_units():
    times = chapter_times(LOG)
    assert times == {1: 16.04, 3: 168.55, 12: 8.4}
    assert [duration(s) for s in (8.4, 75.2, 99.4, 150.0, None)] == \
        ["8 s", "75 s", "99 s", "2.5 min", "—"]
    text = table({"quick": times}, range(1, 4))
    assert text.splitlines() == ["| profile | ch. 1 | ch. 2 | ch. 3 |", "|---|---|---|---|",
                                 "| `quick` | 16 s | — | 2.8 min |"]


def test_bad_input_says_what_to_do(tmp_path, capsys):
    assert main([]) == 2 and "usage" in capsys.readouterr().err
    assert main([f"quick={tmp_path / 'none.log'}"]) == 2
    assert "build the pages first" in capsys.readouterr().err
    empty = tmp_path / "empty.log"
    empty.write_text("build succeeded\n")
    assert main([f"quick={empty}"]) == 2 and "no executed chapter" in capsys.readouterr().err
    log = tmp_path / "b.log"
    log.write_text(LOG)
    assert main([f"standard={log}"]) == 0
    assert "| `standard` | 16 s | — | 2.8 min |" in capsys.readouterr().out
