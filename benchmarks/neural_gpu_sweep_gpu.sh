#!/usr/bin/env bash
# Neural GPU recipes side by side on one lent GPU (Keras' JAX backend; no TensorFlow there), time-boxed: which
# recipe generalizes from short training lengths to length 200/401, after how many steps.
#
# From the repository root, after the wheels are installed:
#   python3 -m pip install -q --no-index --no-deps --no-compile --target "$PWD/.site" .whl/*.whl \
#     && export PYTHONPATH="$PWD/.site:$PWD" KERAS_BACKEND=jax
#   bash benchmarks/neural_gpu_sweep_gpu.sh
#
# Each line of RECIPES below is "name flags" for benchmarks/neural_gpu_sweep.py; all run at once, each for
# NGPU_SWEEP_SECONDS of training, with probes every 10 epochs at lengths 20, 41, 101, 200 and 401. Results:
# $OUT/sweep/<name>.jsonl (probe curves), <name>.log, and summary.txt (the table of --summarize), all also packed
# into $OUT/sweep.tgz.
# Dry run on a CPU with TensorFlow hidden, as on the GPU machines (tiny sizes; about a minute):
#   NGPU_SWEEP_SECONDS=5 NGPU_SWEEP_FLAGS="--override=model_kwargs.nmaps=4 --probe_lengths=6,12 --probe_every=1 \
#     --override=steps_per_epoch=2" NGPU_SWEEP_ONLY=2 OUT=/tmp/sweep JAX_PLATFORMS=cpu \
#     PYTHONPATH="$PWD/tests/fixtures/no_tensorflow:$PWD" KERAS_BACKEND=jax bash benchmarks/neural_gpu_sweep_gpu.sh
set -euo pipefail
source "$(dirname "$0")/jax_only.sh"
# Concurrent processes on one GPU: each takes memory as it needs it instead of 75% of the card up front.
export XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
OUT="${OUT:-/tmp/ngpu_sweep}/sweep"
SECONDS_EACH="${NGPU_SWEEP_SECONDS:-360}"
mkdir -p "$OUT"
RECIPES=(
  "d20_s1 --config=default --seed=1"
  "d20_s2 --config=default --seed=2"
  "d20_eta001_s1 --config=default --seed=1 --override=noise_eta=0.01"
  "d20_n16_s0 --config=default --seed=0 --override=model_kwargs.nmaps=16"
  "d30_s0 --config=default --seed=0 --override=data_kwargs.max_length=30"
  "d30_n16_s0 --config=default --seed=0 --override=data_kwargs.max_length=30 --override=model_kwargs.nmaps=16"
  "b41_s1 --config=badd20 --seed=1"
  "b41_s2 --config=badd20 --seed=2"
)
ONLY="${NGPU_SWEEP_ONLY:-${#RECIPES[@]}}"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
date -u +%FT%TZ
pids=()
for recipe in "${RECIPES[@]:0:$ONLY}"; do
  name="${recipe%% *}"
  # shellcheck disable=SC2086  # recipe flags and NGPU_SWEEP_FLAGS are lists of flags
  python3 benchmarks/neural_gpu_sweep.py ${recipe#* } --seconds="$SECONDS_EACH" --probe_every=10 \
    --probe_lengths=20,41,101,200,401 --out="$OUT/$name.jsonl" ${NGPU_SWEEP_FLAGS:-} >"$OUT/$name.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
date -u +%FT%TZ
python3 benchmarks/neural_gpu_sweep.py --summarize="$OUT" | tee "$OUT/summary.txt"
# One archive beside the folder: the device tool returns only a few files per call.
tar czf "$OUT.tgz" -C "$OUT" .
exit "$status"
