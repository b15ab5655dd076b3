#!/usr/bin/env bash
# More restarts of the calibrated algorithm-learner tables (issue 18) on a lent GPU, several runs at once on the one
# card, time-boxed; the results come back as per-run results.json files that extend the committed tables.
#
# On the device machine, from the repository root, with the wheels that ../shared/device-wheels/fetch-wheels puts in
# .whl/ carried along (that folder's README):
#   python3 -m pip install -q --no-index --no-deps --no-compile --target "$PWD/.site" .whl/*.whl \
#     && export PYTHONPATH="$PWD/.site:$PWD" KERAS_BACKEND=jax
#   CALIBRATED_JOBS=6 CALIBRATED_SECONDS=480 bash benchmarks/calibrated_tables_gpu.sh
# Back here, for each table (its report and store of per-run results come back under $OUT/<table>/report/; <back> is
# the folder the device's $OUT came back to; an empty --runs_dir keeps stale local runs out of the table):
#   cp -r <back>/<table>/report/runs/. docs/results/<table>/runs/ && python reproduce.py --model=<model> \
#     --config=<config> --settings=<settings> --restarts=<restarts> --report_only --runs_dir="$(mktemp -d)" \
#     --out=docs/results/<table>
# The committed tables' stores travel with the working tree, so the sweep there trains only new restarts.
#
# First (CALIBRATED_MEASURE_VMAP=1, the default) it measures whether CALIBRATED_JOBS restarts of Table 6's noisy row
# train faster vmapped in one process or as that many processes (benchmarks/restarts_vmap.py, about 3 minutes,
# $OUT/restarts_vmap.json); the tables then run as processes, which is what reproduce.py does.
#
# Each line of TABLES: <docs/results folder> <model> <config> <settings> <restarts in all>. Tables are run one after
# another until the time is up; a run cut short is simply not counted. Dry run on a CPU with TensorFlow hidden, as
# on the GPU machines (tiny sizes):
#   CALIBRATED_TABLES="nram_smoke nram smoke setting1_no_noise,setting1_noise 1" CALIBRATED_JOBS=2 OUT=/tmp/cal \
#     JAX_PLATFORMS=cpu PYTHONPATH="$PWD/tests/fixtures/no_tensorflow:$PWD" KERAS_BACKEND=jax \
#     bash benchmarks/calibrated_tables_gpu.sh
set -euo pipefail
source "$(dirname "$0")/jax_only.sh"
# Concurrent processes on one GPU: each takes memory as it needs it instead of 75% of the card up front.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
OUT="${OUT:-/tmp/calibrated_tables}"
JOBS="${CALIBRATED_JOBS:-6}"
SECONDS_LEFT="${CALIBRATED_SECONDS:-480}"
# The committed table's folder (named for where its first runs ran, JAX on the CPU as here; each run's results.json
# records its device). Table 5's committed runs are TensorFlow ones, which this JAX-only machine must not extend:
# its 84-s runs are a CPU job.
TABLES="${CALIBRATED_TABLES:-nram_table6_default_cpu nram default setting1_no_noise,setting1_noise,setting1_noise_eta0.01 60}"
deadline=$(($(date +%s) + SECONDS_LEFT))
mkdir -p "$OUT"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
if [ "${CALIBRATED_MEASURE_VMAP:-1}" = 1 ]; then
  left=$((deadline - $(date +%s)))
  timeout $((left < 240 ? left : 240)) python3 benchmarks/restarts_vmap.py --model=nram --config=default --setting=setting1_noise \
    --restarts="$JOBS" --steps=100 --rounds=2 --start_margin_seconds=45 --out="$OUT/restarts_vmap.json" </dev/null \
    || echo "restarts_vmap.py stopped (status $?)"
fi
while read -r table model config settings restarts; do
  [ -z "$table" ] && continue
  left=$((deadline - $(date +%s)))
  if [ "$left" -le 30 ]; then
    echo "no time left for $table"
    continue
  fi
  report="$OUT/$table/report"
  mkdir -p "$report"
  [ -d "docs/results/$table" ] && cp -r "docs/results/$table/." "$report/"
  flags=(--model="$model" --config="$config" --settings="$settings" --restarts="$restarts"
    --runs_dir="$OUT/$table/work" --out="$report" --noprogress)
  echo "== $table: ${flags[*]:0:4}, ${left}s left"
  timeout "$left" python3 reproduce.py "${flags[@]}" --jobs="$JOBS" </dev/null || echo "$table stopped (status $?)"
  # Store what finished even when the time ran out (no training), then drop the checkpoints.
  python3 reproduce.py "${flags[@]}" --report_only </dev/null >/dev/null
  rm -rf "$OUT/$table/work"
  echo "$table: $(find "$report/runs" -name '*.json' | wc -l) runs stored in $report/runs"
done <<<"$TABLES"
