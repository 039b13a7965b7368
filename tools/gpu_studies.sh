#!/usr/bin/env bash
# Standard-profile studies on a GPU that a 2-core CPU cannot run in a session (chapter 7's
# Conv-4 and Conv-6: about 11 CPU-hours; on an H200 about 9 minutes, measured 2026-12-04: a
# process per trial, six side by side, each round ~1.5 min for Conv-4 and ~2 min for Conv-6).
#
#   tools/gpu_studies.sh OUT LIMIT_S STUDY...     e.g. tools/gpu_studies.sh out 540 conv4-cifar10 conv6-cifar10
#
# Each study's trials run as separate processes (`python -m lth_utils study NAME --profile
# standard --trials T`, resumable), their parts merged into OUT/NAME-standard.json when all are
# done: only the merged records land in OUT (a few hundred kB; checkpoints stay beside the parts
# in OUT/parts). After LIMIT_S seconds it stops whatever still runs and says how far each got.
# Copy the merged records to data/results/ and commit them.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=$1 LIMIT=$2
shift 2
PY=${PY:-.venv/bin/python}
PROFILE=${PROFILE:-standard}   # PROFILE=quick checks this script in a minute
test -x "$PY" || PY=python3
mkdir -p "$OUT/parts"
T0=$SECONDS
pids=()
for study in "$@"; do
  trials=$("$PY" -c "from lth_utils import lottery; print(lottery.study_config('$study', '$PROFILE').trials)")
  for ((t = 0; t < trials; t++)); do
    OMP_NUM_THREADS=1 "$PY" -m lth_utils study "$study" --profile $PROFILE --trials $t \
      --no-progress --out "$OUT/parts/$study-$PROFILE-part$t.json" \
      > "$OUT/parts/$study-$t.log" 2>&1 &
    pids+=($!)
  done
done
while [ $((SECONDS - T0)) -lt "$LIMIT" ] && [ -n "$(jobs -rp)" ]; do
  sleep 10
  if [ $(( (SECONDS - T0) % 60 )) -lt 10 ]; then
    echo "t = $((SECONDS - T0)) s"; tail -qn1 "$OUT"/parts/*.log
  fi
done
[ -z "$(jobs -rp)" ] || { kill $(jobs -rp); echo "stopped at $((SECONDS - T0)) s: parts unfinished"; }
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
