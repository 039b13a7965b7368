"""How long each chapter took to execute in a page build: the rows of the course guide's table.

    make book 2>&1 | tee /tmp/standard.log                   (or the log of any page build)
    python tools/notebook_times.py standard=/tmp/standard.log quick=_build/test_pages_build.log

MyST-NB writes "…/book/NN_name.ipynb: Executed notebook in 12.34 seconds" for every chapter it
executes; this prints one markdown table per half of the book (chapters 1-6, 7-12), a row per
profile, in the guide's units (seconds under 100 s, else minutes). A chapter a log does not
list (not executed in that build: unchanged since the last one) is shown as "—".
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

LINE = re.compile(r"book/(\d\d)_\w+\.ipynb: Executed notebook in ([\d.]+) seconds")


def chapter_times(log: str) -> dict[int, float]:
    """{chapter number: seconds} from a build log's text (the last run of a chapter wins)."""
    return {int(m.group(1)): float(m.group(2)) for m in LINE.finditer(log)}


def duration(seconds: float | None) -> str:
    """'8 s', '75 s', '2.5 min'; '—' for a chapter the log does not list."""
    if seconds is None:
        return "—"
    return f"{seconds:.0f} s" if seconds < 99.5 else f"{seconds / 60:.1f} min"


def table(times: dict[str, dict[int, float]], chapters: range) -> str:
    """A markdown table: a row per profile (``times``' keys), a column per chapter."""
    head = "| profile | " + " | ".join(f"ch. {c}" for c in chapters) + " |"
    rule = "|---|" + "---|" * len(chapters)
    rows = [f"| `{p}` | " + " | ".join(duration(t.get(c)) for c in chapters) + " |"
            for p, t in times.items()]
    return "\n".join([head, rule, *rows])


def main(argv: list[str]) -> int:
    if not argv or any("=" not in a for a in argv):
        print("usage: python tools/notebook_times.py PROFILE=LOG [PROFILE=LOG ...]",
              file=sys.stderr)
        return 2
    times = {}
    for arg in argv:
        profile, path = arg.split("=", 1)
        if not Path(path).is_file():
            print(f"notebook_times: no log at {path}: build the pages first "
                  f"(make book 2>&1 | tee {path})", file=sys.stderr)
            return 2
        times[profile] = chapter_times(Path(path).read_text(errors="replace"))
        if not times[profile]:
            print(f"notebook_times: {path} lists no executed chapter (was every page "
                  "up to date? tools/build_book.sh rebuilds all for a new profile)",
                  file=sys.stderr)
            return 2
    print(table(times, range(1, 7)))
    print()
    print(table(times, range(7, 13)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
