#!/usr/bin/env bash
# Build the HTML book for one profile, and only for that profile:
#   tools/build_book.sh PROFILE [jupyter-book flags...]        (make book, and tests/test_pages.py)
#
# Sphinx rebuilds only the chapters whose source changed, so after `make test` (quick pages) a plain
# `jupyter-book build` for the standard profile would report "no targets are out of date" and keep
# the quick pages. This script records the profile of the pages in _build/.profile after each
# successful build and passes --all (execute and write every page) whenever the recorded profile
# differs from PROFILE, is missing, or is older than a page (a build by hand that did not write it).
# The stamp is removed before building, so an interrupted or failed build rebuilds everything next.
# Pages are built without progress bars (LTH_PROGRESS=0).
#
# Environment: LTH_BOOK_DIR (book root, default this repository), JUPYTER_BOOK (the command,
# default <root>/.venv/bin/jupyter-book; the tests put a fake one here).
set -euo pipefail

profile="${1:?usage: tools/build_book.sh PROFILE [jupyter-book flags...]}"
shift
case "$profile" in
  quick|standard|paper) ;;
  *) echo "build_book: PROFILE must be quick, standard or paper, got '$profile'" >&2; exit 2 ;;
esac
root="${LTH_BOOK_DIR:-$(cd "$(dirname "$0")/.." && pwd)}"
jb="${JUPYTER_BOOK:-$root/.venv/bin/jupyter-book}"
stamp="$root/_build/.profile"
html="$root/_build/html"

built=none
if [ -f "$stamp" ]; then
  built="$(cat "$stamp")"
  # a page written after the stamp came from a build that did not record its profile
  if [ -d "$html" ] && [ -n "$(find "$html" -name '*.html' -newer "$stamp" -print -quit)" ]; then
    built="unknown (pages newer than _build/.profile)"
  fi
fi

flags=("$@")
if [ "$built" != "$profile" ]; then
  echo "build_book: _build/html holds '$built' pages: building every page for '$profile' (--all)"
  case " $* " in *" --all "*) ;; *) flags+=(--all) ;; esac
fi

rm -f "$stamp"
# a build of every page writes every image a page shows again: drop the images of earlier builds
# first, so that _build/html (what is published) holds no figure that no page links any more
case " ${flags[*]} " in *" --all "*) rm -rf "$html/_images" ;; esac
LTH_PROFILE="$profile" LTH_PROGRESS=0 "$jb" build "$root" --path-output "$root" "${flags[@]}"
mkdir -p "$root/_build"
echo "$profile" > "$stamp"
