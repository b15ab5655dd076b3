#!/usr/bin/env bash
# The GPU checks of keras_gradnoise, for a lent GPU machine with JAX (no TensorFlow). From the project root:
#   python3 -m pip install -q --no-index --no-deps --no-compile --target "$PWD/.site" .whl/*.whl &&
#   export PYTHONPATH="$PWD/.site:$PWD" KERAS_BACKEND=jax && bash benchmarks/gpu_check.sh
# Prints the device, the measured noise variance against the schedule, and the step-time ratio noisy/plain.
set -euo pipefail
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
out="${OUT:-/tmp/gpu_check}"
mkdir -p "$out"
python3 - <<'PY' 2>&1 | tee "$out/noise_variance.txt"
import jax, numpy as np, keras
from keras_gradnoise import NoisySGD
print("devices:", jax.devices())
n = 1_000_000
for steps in (1, 10):
    model = keras.Sequential([keras.Input((n,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    model.compile(optimizer=NoisySGD(learning_rate=1.0, eta=0.3, seed=1), loss="mse")
    model.fit(np.zeros((steps, n), "float32"), np.ones((steps, 1), "float32"), batch_size=1, verbose=0)
    var = float(np.var(np.asarray(model.layers[0].kernel.value)))
    expected = sum(0.3 / (1 + t) ** 0.55 for t in range(steps))
    print(f"steps={steps} measured variance {var:.5f} expected {expected:.5f} rel.err {var / expected - 1:+.4f} "
          f"(6 s.e. = {6 * (2 / n) ** 0.5:.4f})")
PY
python3 benchmarks/noise_overhead.py --rounds=60 --steps_per_block=10 --batch=128 --control 2>&1 | tee "$out/noise_overhead.txt"
