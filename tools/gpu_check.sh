#!/usr/bin/env bash
# GPU check: run on a machine with an NVIDIA GPU, from the repository root, after `make env data`
# (or with torch + torchvision + this package installed). It runs, each part even when one
# before it failed:
#   1. the engine's tests on the GPU, with LTH_DEVICE=cuda: equivalence (population == separate
#      plain runs, a member == itself alone, split + merge == one run), pruned weights stay zero,
#      no host synchronisation inside a training step (torch.cuda.set_sync_debug_mode("error")),
#      the benchmark's FLOP count;
#   2. the benchmark (sgemm rate, bandwidth, each loop's share of the roofline, Conv-2 at width
#      1 and 0.25, the conv layouts), its rows kept in _build/gpu/bench.json;
#   3. the quick LeNet and quick Conv-2 studies on the GPU, then on the CPU (numbers and wall
#      times side by side), written to _build/gpu/ (the committed records are not touched);
# then a summary table: each part's status, tests passed, the bench rows, the studies' wall
# times, and the paper profile's GPU time estimated from the bench (tools/gpu_check.py).
# Everything it prints goes to _build/gpu/gpu_check.log as well; it exits 1 if any part failed.
#
# GPU_CHECK_SMOKE=1 checks this script itself on any machine in a few minutes: the CPU when
# there is no GPU, only tests/test_bench.py, a small benchmark and tiny studies.
#
# GPU_CHECK_PARTS="tests bench" (any of: tests bench lenet-mnist conv2-cifar10, or a study on
# one device, e.g. conv2-cifar10-cuda) runs only those parts and keeps the other parts' earlier
# results: a check split over several sessions on a machine (each part's status is kept in
# _build/gpu/statuses), with the summary of every part run so far at the end of each.
set -uo pipefail   # no -e: a failing part must not stop the parts after it
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
test -x "$PY" || PY=python3
OUT=_build/gpu
PARTS=${GPU_CHECK_PARTS:-all}
mkdir -p "$OUT"
if [ "$PARTS" = all ]; then
  rm -f "$OUT/tests.xml" "$OUT/bench.json" "$OUT"/*-quick-*.json "$OUT/statuses"
  exec > >(tee "$OUT/gpu_check.log") 2>&1
else
  exec > >(tee -a "$OUT/gpu_check.log") 2>&1
  echo "== parts: $PARTS ($(date -u +%FT%TZ))"
fi
touch "$OUT/statuses"
export LTH_PROFILE=quick GPU_CHECK_SMOKE=${GPU_CHECK_SMOKE:-0}

want() {  # want NAME [PREFIX]: is the part NAME (or every part of PREFIX) asked for?
  [ "$PARTS" = all ] || [[ " $PARTS " == *" $1 "* ]] || { [ -n "${2:-}" ] && [[ " $PARTS " == *" $2 "* ]]; }
}
part() {  # part NAME COMMAND...: run the command, keep its exit status for the summary
  local name=$1 rc
  shift
  echo "== $name"
  "$@"
  rc=$?
  grep -v "^$name=" "$OUT/statuses" > "$OUT/statuses.new"
  echo "$name=$rc" >> "$OUT/statuses.new"
  mv "$OUT/statuses.new" "$OUT/statuses"
  [ "$rc" = 0 ] || echo "!! $name failed (exit $rc)"
}

GPU=cuda
TESTS=(tests/test_training.py tests/test_population.py tests/test_lottery.py tests/test_device.py
       tests/test_bench.py)
if [ "$GPU_CHECK_SMOKE" = 1 ]; then
  TESTS=(tests/test_bench.py)
  "$PY" -c "import sys, torch; sys.exit(not torch.cuda.is_available())" || GPU=cpu
fi
if [ "$GPU" = cuda ]; then
  part gpu "$PY" -c "import torch; assert torch.cuda.is_available(), 'no GPU visible to \
PyTorch: this script is for a GPU machine'; print('GPU:', torch.cuda.get_device_name(0), \
'· torch', torch.__version__)"
fi
if want tests; then
  rm -f "$OUT/tests.xml"
  part tests env LTH_DEVICE=$GPU "$PY" -m pytest -q -p no:cacheprovider \
    --junitxml="$OUT/tests.xml" "${TESTS[@]}"
fi
if want bench; then
  rm -f "$OUT/bench.json"
  part bench env LTH_DEVICE=$GPU "$PY" tools/gpu_check.py bench "$OUT/bench.json"
fi
devices=("$GPU")
[ "$GPU" = cpu ] || devices+=(cpu)
for study in lenet-mnist conv2-cifar10; do
  for dev in "${devices[@]}"; do
    want "$study-$dev" "$study" || continue
    rm -f "$OUT/$study-quick-$dev.json"
    part "$study-$dev" env LTH_DEVICE=$dev "$PY" tools/gpu_check.py study $study \
      "$OUT/$study-quick-$dev.json"
  done
done
mapfile -t statuses < "$OUT/statuses"
"$PY" tools/gpu_check.py summary "$OUT" "$GPU" "${statuses[@]}"
