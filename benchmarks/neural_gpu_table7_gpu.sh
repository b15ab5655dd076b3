#!/usr/bin/env bash
# Table 7 restarts of the Neural GPU on a lent GPU through Keras' JAX backend (no TensorFlow there), time-boxed.
#
# From the repository root, after the wheels are installed:
#   python3 -m pip install -q --no-index --no-deps --no-compile --target "$PWD/.site" .whl/*.whl \
#     && export PYTHONPATH="$PWD/.site:$PWD" KERAS_BACKEND=jax
#   bash benchmarks/neural_gpu_table7_gpu.sh
#
# Runs `reproduce.py --model=neural_gpu` (the `table7` config: binary multiplication trained on up to 20-bit
# numbers, success = per-bit error on 200-bit numbers below 1/2/3/5%) with NGPU_RESTARTS restarts per setting
# (no noise / eta 1.0) as NGPU_JOBS concurrent processes sharing the one GPU, and prints the table beside the
# paper's. Results: $OUT/table7/ (table.md, summary.json, curves.png) and every run's results.json under
# $OUT/runs/. Each setting needs hundreds of such runs to tell the paper's counts apart (387 vs 570 of 7290 at
# 5%); one session's sweep calibrates the cost per run and adds to the count.
# Dry run on a CPU with TensorFlow hidden, as on the GPU machines (tiny sizes; about a minute):
#   NGPU_RESTARTS=1 NGPU_JOBS=2 NGPU_EXTRA_FLAGS="--epochs=1 --steps=2 --override=data_kwargs.max_length=6 \
#     --override=data_kwargs.eval_lengths=[6,12] --override=data_kwargs.eval_examples=4 \
#     --override=data_kwargs.check_examples=4 --override=model_kwargs.nmaps=4" OUT=/tmp/t7 JAX_PLATFORMS=cpu \
#     PYTHONPATH="$PWD/tests/fixtures/no_tensorflow:$PWD" KERAS_BACKEND=jax bash benchmarks/neural_gpu_table7_gpu.sh
set -euo pipefail
source "$(dirname "$0")/jax_only.sh"
# Concurrent processes on one GPU: each takes memory as it needs it instead of 75% of the card up front.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
OUT="${OUT:-/tmp/ngpu_table7}"
RUNS="${NGPU_RUNS_DIR:-/tmp/ngpu_table7_runs}"
RESTARTS="${NGPU_RESTARTS:-8}"
JOBS="${NGPU_JOBS:-8}"
LIMIT_SECONDS="${NGPU_LIMIT_SECONDS:-480}"
mkdir -p "$OUT" "$RUNS"
status=0
{
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  date -u +%FT%TZ
  # shellcheck disable=SC2086  # NGPU_EXTRA_FLAGS is a list of flags
  timeout "$LIMIT_SECONDS" python3 reproduce.py --model=neural_gpu --restarts="$RESTARTS" --jobs="$JOBS" \
    --out="$OUT/table7" --runs_dir="$RUNS" --noprogress ${NGPU_EXTRA_FLAGS:-} || status=$?
  date -u +%FT%TZ
} 2>&1 | tee "$OUT/table7_gpu.log"
# The runs' results.json files (small) come back even when the time limit cut the sweep short.
mkdir -p "$OUT/runs"
(cd "$RUNS" && find . -name results.json -exec cp --parents {} "$OUT/runs/" \;) || true
exit "$status"
