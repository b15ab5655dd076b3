# Sourced by the GPU scripts (bash benchmarks/<script>.sh): moves to the repository root and insists on Keras' JAX
# backend, the only one on the lent GPU machines (no TensorFlow there).
cd "$(dirname "${BASH_SOURCE[1]}")/.."
export KERAS_BACKEND="${KERAS_BACKEND:-jax}"
if [ "$KERAS_BACKEND" != "jax" ]; then
  echo "$(basename "${BASH_SOURCE[1]}") runs on the JAX backend; KERAS_BACKEND is '$KERAS_BACKEND'." >&2
  exit 2
fi
