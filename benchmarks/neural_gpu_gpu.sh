#!/usr/bin/env bash
# The Neural GPU on a lent GPU through Keras' JAX backend (TensorFlow is not installed there); < 5 minutes.
#
# From the repository root, after the wheels are installed:
#   python3 -m pip install -q --no-index --no-deps --no-compile --target "$PWD/.site" .whl/*.whl \
#     && export PYTHONPATH="$PWD/.site:$PWD" KERAS_BACKEND=jax
#   bash benchmarks/neural_gpu_gpu.sh
#
# It prints the machine, training steps/s of the `default` config at lengths 20 and 50, then trains that config
# with its curriculum for NGPU_TRAIN_SECONDS (default 150) and prints the per-bit/sequence errors reached at
# lengths 20 and 200. Results: $OUT/neural_gpu_gpu.json and $OUT/neural_gpu_gpu.log.
# Dry run on a CPU (XLA's CPU convolutions are slow, so tiny sizes):
#   NGPU_CONFIG=smoke NGPU_LENGTHS=6 NGPU_EVAL_LENGTHS=6,12 NGPU_BENCH_STEPS=2 NGPU_TRAIN_SECONDS=5 \
#     OUT=/tmp/ngpu_gpu KERAS_BACKEND=jax JAX_PLATFORMS=cpu bash benchmarks/neural_gpu_gpu.sh
set -euo pipefail
source "$(dirname "$0")/jax_only.sh"
OUT="${OUT:-/tmp/ngpu_gpu}"
mkdir -p "$OUT"
TRAIN_SECONDS="${NGPU_TRAIN_SECONDS:-150}"
CONFIG="${NGPU_CONFIG:-default}"
LENGTHS="${NGPU_LENGTHS:-20,50}"
EVAL_LENGTHS="${NGPU_EVAL_LENGTHS:-20,200}"
# Leaves room for start-up, compilation and the length-200 evaluation inside the 5-minute budget.
LIMIT_SECONDS="${NGPU_LIMIT_SECONDS:-285}"
{
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  timeout "$LIMIT_SECONDS" python3 benchmarks/neural_gpu_steps.py --config="$CONFIG" --lengths="$LENGTHS" --steps=50 \
    --warmup=3 --train_seconds="$TRAIN_SECONDS" --eval_lengths="$EVAL_LENGTHS" --eval_examples=64 \
    --out="$OUT/neural_gpu_gpu.json"
} 2>&1 | tee "$OUT/neural_gpu_gpu.log"
exit "${PIPESTATUS[0]}"
