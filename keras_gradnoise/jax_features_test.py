"""The 0.2 features inside JAX's jitted, stateless train step (model.fit), in a subprocess: variables excluded
from the noise."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json
    import numpy as np
    import keras
    assert keras.backend.backend() == "jax"
    from keras_gradnoise import NoisySGD
    from keras_gradnoise.testing import weights_mismatch

    out = {}
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 6)).astype("float32"), rng.integers(0, 3, 32)

    def one_step(eta, exclude=None):
        keras.utils.set_random_seed(5)
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, name="hidden"),
                                  keras.layers.BatchNormalization(name="bn"), keras.layers.Activation("relu"),
                                  keras.layers.Dense(3, activation="softmax", name="predictions")])
        optimizer = NoisySGD(0.1, momentum=0.9, eta=eta, gamma=0.0, seed=6)
        if exclude:
            optimizer.exclude_from_gradient_noise(var_names=exclude)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)  # one update: same gradients in all
        return {v.path.split("/", 1)[-1]: np.asarray(v.value) for v in model.trainable_variables}

    noisy, noiseless, mixed = one_step(0.3), one_step(0.0), one_step(0.3, ["bn/"])
    out["excluded"] = sorted(k for k in mixed if k.startswith("bn/"))
    out["excluded_mismatch"] = weights_mismatch([noiseless[k] for k in out["excluded"]],
                                                [mixed[k] for k in out["excluded"]])
    others = sorted(k for k in mixed if not k.startswith("bn/"))
    out["others_mismatch"] = weights_mismatch([noisy[k] for k in others], [mixed[k] for k in others])
    out["noise_was_real"] = all(bool(np.all(noisy[k] != noiseless[k])) for k in mixed)
    print("RESULT " + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def jax_results():
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


def test_jax_excluded_variables_get_the_noiseless_update(jax_results):
    assert jax_results["excluded"] == ["bn/beta", "bn/gamma"]
    assert jax_results["excluded_mismatch"] == "" and jax_results["others_mismatch"] == ""
    assert jax_results["noise_was_real"]
