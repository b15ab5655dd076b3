"""tf.distribute tests: MirroredStrategy over 2 logical CPU devices, in a subprocess (the logical device split must
happen before TensorFlow initializes, so it cannot share the test process)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, math
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from keras_gradnoise import NoisySGD, NoisyAdam, with_gradient_noise
    from keras_gradnoise.equivalence_test import HalvingSGD
    from keras_gradnoise.testing import assert_finite, weights_mismatch

    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    one_device = tf.distribute.OneDeviceStrategy("/cpu:0")
    out = {}

    def replica_values(variable):
        return [v.numpy() for v in variable.value.values]

    def mlp(strategy, optimizer_fn):
        with strategy.scope():
            keras.utils.set_random_seed(1)
            model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                                      keras.layers.Dense(1)])
            model.compile(optimizer=optimizer_fn(), loss="mse")
        return model

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8)).astype("float32")
    y = (100 * rng.standard_normal((64, 1))).astype("float32")

    # 1 + 2: replicas stay identical; 2 replicas == 1 device with the same global batch, clipping on.
    for name, clip in (("global", {"global_clipnorm": 1.0}), ("per_tensor", {"clipnorm": 1.0})):
        runs = {}
        for label, strategy in (("mirrored", mirrored), ("one", one_device)):
            model = mlp(strategy, lambda: NoisyAdam(learning_rate=0.01, eta=0.3, seed=5, **clip))
            model.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0)
            runs[label] = model
        copies = [replica_values(v) for v in runs["mirrored"].trainable_variables]
        out[name] = {
            "replicas_mismatch": weights_mismatch([c[0] for c in copies], [c[1] for c in copies]),
            "mismatch_vs_one_device": weights_mismatch(runs["one"].get_weights(), runs["mirrored"].get_weights(),
                                                       atol=1e-5),
            "noise_step": int(runs["mirrored"].optimizer.noise_step.numpy()),
        }

    # 3: the update norm is the clip norm after the all-reduce (stock Keras clips each replica's half).
    model = mlp(mirrored, lambda: NoisySGD(learning_rate=1.0, eta=0.0, global_clipnorm=1.0))
    before = [w.copy() for w in model.get_weights()]
    model.train_on_batch(x[:8], y[:8])
    assert_finite(model.get_weights())
    out["update_norm"] = math.sqrt(sum(float(np.sum((a - b) ** 2)) for a, b in zip(model.get_weights(), before)))

    # 4: the noise std does not depend on the replica count (zero inputs give a zero kernel gradient).
    n = 20000
    with mirrored.scope():
        wide = keras.Sequential([keras.Input((n,)), keras.layers.Dense(1, kernel_initializer="zeros")])
        wide.compile(optimizer=NoisySGD(learning_rate=1.0, eta=0.3, seed=3), loss="mse")
    wide.train_on_batch(np.zeros((4, n), "float32"), np.ones((4, 1), "float32"))
    kernels = replica_values(wide.layers[0].kernel)
    assert_finite(kernels)
    out["noise_var"] = float(np.var(kernels[0]))
    out["noise_replicas_identical"] = bool(np.array_equal(kernels[0], kernels[1]))

    # 5: an inf in replica 1's gradient only. Keras' LossScaleOptimizer is meant to catch it, but decides from
    # replica 0's gradient alone when it uses merge_call; the noisy optimizer's own check sees the summed gradient.
    # A skipped step skips the base class's whole _backend_update_step, its per-step work (HalvingSGD's) included.
    NoisyHalvingSGD = with_gradient_noise(HalvingSGD)
    for label, noisy_class, skip in (("guarded", NoisySGD, True), ("unguarded", NoisySGD, False),
                                     ("guarded_per_step", NoisyHalvingSGD, True)):
        with mirrored.scope():
            variable = keras.Variable(np.zeros(4, "float32"))
            optimizer = noisy_class(
                learning_rate=0.1, eta=0.3, seed=1, skip_nonfinite=skip, track_gradient_rms=label == "guarded"
            )
            optimizer.build([variable])

        @tf.function
        def apply_once(replica_with_inf):
            def per_replica():
                replica = tf.distribute.get_replica_context().replica_id_in_sync_group
                bad = tf.logical_and(tf.equal(replica, 1), replica_with_inf)
                optimizer.apply([tf.where(bad, tf.fill([4], np.inf), tf.ones([4]))], [variable])
            mirrored.run(per_replica)

        apply_once(tf.constant(False))
        before = replica_values(variable)
        apply_once(tf.constant(True))
        after = replica_values(variable)
        out[label] = {
            "finite": all(bool(np.all(np.isfinite(a))) for a in after),
            "unchanged": all(np.array_equal(a, b) for a, b in zip(before, after)),
            "noise_step": int(optimizer.noise_step.numpy()),
        }
        if label == "guarded":
            out[label]["gradient_totals"] = list(optimizer.gradient_square_totals())
        if noisy_class is NoisyHalvingSGD:
            out[label]["half_power"] = [float(v) for v in replica_values(optimizer._half_power)]

    # 6: the mixed_float16 default turns the check on; a model trains through the LossScaleOptimizer.
    keras.config.set_dtype_policy("mixed_float16")
    model = mlp(mirrored, lambda: NoisySGD(learning_rate=0.01, eta=0.3, seed=1))
    model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    out["mixed_default_skips"] = bool(model.optimizer.inner_optimizer._skips_nonfinite())
    out["mixed_finite"] = all(bool(np.all(np.isfinite(w))) for w in model.get_weights())
    keras.config.set_dtype_policy("float32")

    # 7: per-step work in the base class's _backend_update_step (Nadam's u_product; a user subclass's) runs once per
    # step on every replica, with and without the skip_nonfinite cond (which re-enters the replicas from a merge_call):
    # eta = 0 equals the stock optimizer under the same strategy bit for bit.
    for base in (keras.optimizers.Nadam, HalvingSGD):
        noisy = with_gradient_noise(base)
        stock = mlp(mirrored, lambda: base(learning_rate=0.01))
        stock.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
        for skip in (False, True):
            model = mlp(mirrored, lambda: noisy(learning_rate=0.01, eta=0.0, skip_nonfinite=skip))
            model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
            out[f"per_step_{base.__name__}_skip{skip}"] = weights_mismatch(stock.get_weights(), model.get_weights())
    print("RESULT " + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def mirrored_results():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


@pytest.mark.parametrize("clip", ["global", "per_tensor"])
def test_mirrored_replicas_identical_and_equal_to_one_device(mirrored_results, clip):
    result = mirrored_results[clip]
    assert result["replicas_mismatch"] == ""  # finite, and bit for bit
    assert result["mismatch_vs_one_device"] == ""  # finite, and within 1e-5
    assert result["noise_step"] == 6


def test_clipping_sees_the_all_reduced_gradient(mirrored_results):
    assert mirrored_results["update_norm"] == pytest.approx(1.0, rel=1e-5)


def test_noise_std_is_independent_of_replica_count(mirrored_results):
    assert mirrored_results["noise_var"] == pytest.approx(0.3, rel=6 * (2 / 20000) ** 0.5)
    assert mirrored_results["noise_replicas_identical"]


def test_inf_on_one_replica_is_skipped_on_every_replica(mirrored_results):
    guarded = dict(mirrored_results["guarded"])
    # The gradient RMS totals count the applied step only: the summed gradient [2, 2, 2, 2] (mean square 4), once.
    assert guarded.pop("gradient_totals") == [4.0, 1.0]
    assert guarded == {"finite": True, "unchanged": True, "noise_step": 1}
    # The control: without the check, replica 1's inf reaches every replica's weights through the all-reduce.
    assert mirrored_results["unguarded"]["finite"] is False
    # The base class's per-step work is skipped too: HalvingSGD halved its power once (the first step) on each replica.
    guarded = mirrored_results["guarded_per_step"]
    assert guarded.pop("half_power") == [0.5, 0.5]
    assert guarded == {"finite": True, "unchanged": True, "noise_step": 1}


def test_mixed_float16_enables_the_check_by_default(mirrored_results):
    assert mirrored_results["mixed_default_skips"] and mirrored_results["mixed_finite"]


@pytest.mark.parametrize("base", ["Nadam", "HalvingSGD"])
@pytest.mark.parametrize("skip", [False, True])
def test_base_per_step_work_runs_once_per_step_on_every_replica(mirrored_results, base, skip):
    # "": finite, and bit for bit the stock optimizer on the same strategy.
    assert mirrored_results[f"per_step_{base}_skip{skip}"] == ""
