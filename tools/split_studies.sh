#!/usr/bin/env bash
# Studies too long for one sitting, run a process per trial and merged: chapter 7's Conv-4 and
# Conv-6 at the standard profile (about 11 CPU-hours on a 2-core machine; on an H200 about 9
# minutes, measured twice: six processes side by side, each round ~1.5 min for Conv-4 and ~2 min
# for Conv-6; then four, the committed records: a Conv-4 trial 7 min, a Conv-6 trial 8 min,
# its last round, the ticket and both controls, ~3 min). Give LIMIT_S the whole time the call
# can spare: a unit cut short is lost, and restarts from its beginning.
#
#   tools/split_studies.sh OUT LIMIT_S STUDY...    e.g. tools/split_studies.sh out 540 conv4-cifar10 conv6-cifar10
#
# Each trial is one process (`python -m lth_utils study NAME --profile standard --trials T`),
# JOBS of them at a time (default: all at once, as on a GPU; JOBS=2 on a 2-core CPU), each
# with its part and checkpoint in OUT/parts. Run it again with the same OUT and every trial
# resumes from its last finished unit: a run cut short (LIMIT_S, a session's end) loses only
# the units in flight. When every part is done they are merged into OUT/NAME-PROFILE.json (a
# few hundred kB); copy those to data/results/ and commit them.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=$1 LIMIT=$2
shift 2
PY=${PY:-.venv/bin/python}
PROFILE=${PROFILE:-standard}   # PROFILE=quick checks this script in a minute
test -x "$PY" || PY=python3
mkdir -p "$OUT/parts"
T0=$SECONDS
queue=()
for study in "$@"; do
  trials=$("$PY" -c "from lth_utils import lottery; print(lottery.study_config('$study', '$PROFILE').trials)") || exit 2
  for ((t = 0; t < trials; t++)); do queue+=("$study $t"); done
done
JOBS=${JOBS:-${#queue[@]}}
report() { echo "t = $((SECONDS - T0)) s"; tail -qn1 "$OUT"/parts/*.log; }
for item in "${queue[@]}" ""; do
  # wait for a free slot (or, after the last item, for everything), within the time limit
  while [ $((SECONDS - T0)) -lt "$LIMIT" ] && [ -n "$(jobs -rp)" ] &&
        { [ -z "$item" ] || [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; }; do
    sleep 10
    [ $(( (SECONDS - T0) % 300 )) -ge 10 ] || report
  done
  [ -n "$item" ] && [ $((SECONDS - T0)) -lt "$LIMIT" ] || break
  read -r study t <<< "$item"
  OMP_NUM_THREADS=1 "$PY" -m lth_utils study "$study" --profile "$PROFILE" --trials "$t" \
    --no-progress --out "$OUT/parts/$study-$PROFILE-part$t.json" \
    >> "$OUT/parts/$study-$t.log" 2>&1 &
done
[ -z "$(jobs -rp)" ] || { kill $(jobs -rp); echo "stopped at $((SECONDS - T0)) s: parts unfinished (run again to resume)"; }
wait
status=0
for study in "$@"; do
  parts=("$OUT"/parts/$study-$PROFILE-part[0-9].json)
  if "$PY" -m lth_utils merge "${parts[@]}" --out "$OUT/$study-$PROFILE.json"; then
    echo "$study: merged into $OUT/$study-$PROFILE.json ($((SECONDS - T0)) s)"
  else
    status=1; echo "$study: not merged (a part is missing or unfinished)"; tail -qn2 "$OUT"/parts/$study-*.log
  fi
done
exit $status
