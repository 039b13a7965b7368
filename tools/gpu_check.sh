#!/usr/bin/env bash
# GPU check: run on a machine with an NVIDIA GPU, from the repository root, after `make env data`
# (or with torch + torchvision + this package installed). It runs, on the GPU:
#   1. the engine's equivalence and masking tests (population == separate plain runs, pruned
#      weights stay zero, split + merge == one run), with LTH_DEVICE=cuda;
#   2. the benchmark (sgemm rate, bandwidth, each loop's share of the roofline);
#   3. the quick LeNet study, written to _build/gpu/ (the committed records are not touched),
#      and the same study on the CPU for comparison of its numbers and wall time.
# Everything it prints goes to _build/gpu/gpu_check.log as well.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
test -x "$PY" || PY=python3
mkdir -p _build/gpu
exec > >(tee _build/gpu/gpu_check.log) 2>&1
"$PY" - <<'PYEOF'
import torch
assert torch.cuda.is_available(), "no GPU visible to PyTorch: this script is for a GPU machine"
print("GPU:", torch.cuda.get_device_name(0), "· torch", torch.__version__)
PYEOF
export LTH_DEVICE=cuda LTH_PROFILE=quick
echo "== 1. equivalence tests on the GPU"
"$PY" -m pytest -q -p no:cacheprovider tests/test_training.py tests/test_lottery.py tests/test_device.py
echo "== 2. benchmark on the GPU"
"$PY" -m lth_utils bench
echo "== 3. quick LeNet study: GPU, then CPU"
for dev in cuda cpu; do
  start=$(date +%s)
  LTH_DEVICE=$dev "$PY" -m lth_utils study lenet-mnist --profile quick --no-progress \
    --out "_build/gpu/lenet-mnist-quick-$dev.json"
  echo "$dev: $(( $(date +%s) - start )) s"
done
