"""Single-process tests of the noisy optimizers (TensorFlow backend; see jax_backend_test.py for JAX).

Statistical tests use n i.i.d. noise entries; the sample variance then has relative standard error
sqrt(2 / (n - 1)), and every tolerance below is 6 standard errors, so a correct implementation fails with
probability < 1e-8 per check, while a std off by 10% (or a variance/std mix-up) fails for certain.
"""

import math
import os

import keras
import numpy as np
import pytest

import keras_gradnoise
from keras_gradnoise import (
    AnnealedNoise,
    ConstantNoise,
    NoiseSchedule,
    NoisyAdam,
    NoisySGD,
    noise_stddev,
    with_gradient_noise,
)
from keras_gradnoise.testing import assert_weights_equal

N = 50_000
SIX_SE = 6 * math.sqrt(2 / (N - 1))


def noise_only_update(optimizer, n=N, step=0):
    """Applies one zero-gradient update with lr=1 SGD at noise step `step`; returns the update (= the noise)."""
    variable = keras.Variable(np.zeros(n, "float32"))
    optimizer.build([variable])
    optimizer.noise_step.assign(step)
    optimizer.apply([np.zeros(n, "float32")], [variable])
    return -variable.numpy()


def assert_std(sample, expected_std):
    variance = float(np.var(sample.astype("float64")))
    assert variance == pytest.approx(expected_std**2, rel=SIX_SE), (variance, expected_std**2)
    assert abs(float(np.mean(sample))) < 6 * expected_std / math.sqrt(sample.size)


@pytest.mark.parametrize("eta", [0.01, 0.3, 1.0])
@pytest.mark.parametrize("step", [0, 9, 999])
def test_noise_variance_follows_schedule(eta, step):
    noise = noise_only_update(NoisySGD(learning_rate=1.0, eta=eta, seed=step + 1), step=step)
    assert_std(noise, math.sqrt(eta / (1 + step) ** 0.55))


def test_noise_is_gaussian_and_independent_across_steps_and_seeds():
    first = noise_only_update(NoisySGD(learning_rate=1.0, eta=1.0, gamma=0.0, seed=1), step=0)
    next_step = noise_only_update(NoisySGD(learning_rate=1.0, eta=1.0, gamma=0.0, seed=1), step=1)
    other_seed = noise_only_update(NoisySGD(learning_rate=1.0, eta=1.0, gamma=0.0, seed=2), step=0)
    # Share of |z| < 1 for a standard normal is 0.6827; binomial standard error sqrt(p (1 - p) / n).
    assert abs(np.mean(np.abs(first) < 1) - 0.682689) < 6 * math.sqrt(0.6827 * 0.3173 / N)
    assert abs(np.mean(first**4) - 3.0) < 6 * math.sqrt(96 / N)  # kurtosis of N(0,1) is 3; Var(z^4) = 96
    for other in (next_step, other_seed):
        assert abs(np.corrcoef(first, other)[0, 1]) < 6 / math.sqrt(N)


def test_constant_noise_std():
    assert_std(noise_only_update(NoisySGD(learning_rate=1.0, noise_std=0.001, seed=0), step=500), 0.001)


def test_same_seed_same_noise():
    a = noise_only_update(NoisyAdam(learning_rate=1.0, eta=0.3, seed=11), n=1000)
    b = noise_only_update(NoisyAdam(learning_rate=1.0, eta=0.3, seed=11), n=1000)
    assert_weights_equal([a], [b])


def test_single_sgd_step_exact_value():
    gradient = np.random.default_rng(0).standard_normal(1000).astype("float32")
    noise = noise_only_update(NoisySGD(learning_rate=1.0, eta=0.3, seed=5), n=1000)
    variable = keras.Variable(np.zeros(1000, "float32"))
    optimizer = NoisySGD(learning_rate=0.5, eta=0.3, seed=5)
    optimizer.apply([gradient], [variable])
    assert_weights_equal([-np.float32(0.5) * (gradient + noise)], [variable.numpy()])


def test_single_adam_step_exact_value():
    gradient = np.random.default_rng(1).standard_normal(1000).astype("float32")
    noise = noise_only_update(NoisySGD(learning_rate=1.0, eta=1.0, seed=9), n=1000)
    variable = keras.Variable(np.ones(1000, "float32"))
    optimizer = NoisyAdam(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7, eta=1.0, seed=9)
    optimizer.apply([gradient], [variable])
    # Adam's first step from its definition (Kingma & Ba 2015, with Keras' "epsilon hat" form of section 2:
    # epsilon is added to sqrt(v), not to sqrt(v_hat)), in float64 from the float32 noisy gradient.
    g = (gradient + noise).astype("float64")
    m, v = 0.1 * g, 0.001 * g**2
    expected = 1.0 - 0.01 * math.sqrt(1 - 0.999) / (1 - 0.9) * m / (np.sqrt(v) + 1e-7)
    assert_weights_equal([expected], [variable.numpy()], rtol=2e-5, atol=1e-6)


def _small_model(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def _xy():
    rng = np.random.default_rng(0)
    return rng.standard_normal((64, 6)).astype("float32"), rng.integers(0, 3, 64)


@pytest.mark.parametrize("clip", [{}, {"clipnorm": 0.1}, {"global_clipnorm": 0.1}, {"clipvalue": 0.01}])
@pytest.mark.parametrize("base,noisy", [(keras.optimizers.Adam, NoisyAdam), (keras.optimizers.SGD, NoisySGD)])
def test_eta_zero_reproduces_the_base_optimizer_bit_for_bit(base, noisy, clip):
    x, y = _xy()
    weights = []
    for optimizer in (base(learning_rate=0.05, **clip), noisy(learning_rate=0.05, eta=0.0, **clip)):
        model = _small_model(3)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        weights.append(model.get_weights())
    assert_weights_equal(*weights)


@pytest.mark.parametrize("clip", [{"clipnorm": 1.0}, {"global_clipnorm": 1.0}])
def test_noise_is_added_after_clipping(clip):
    n = N
    huge = np.full(n, 1e6, "float32")
    variable = keras.Variable(np.zeros(n, "float32"))
    NoisySGD(learning_rate=1.0, eta=0.3, seed=4, **clip).apply([huge], [variable])
    update = -variable.numpy()
    clipped = 1.0 / math.sqrt(n)  # a constant vector of norm 1
    # Noise before clipping would be scaled down by ~1e-6 with the gradient: the spread would vanish.
    assert_std(update - clipped, math.sqrt(0.3))


def test_gradient_accumulation_noises_once_per_real_update():
    n = 2000
    accumulating = NoisySGD(learning_rate=1.0, eta=1.0, seed=7, gradient_accumulation_steps=3)
    plain = NoisySGD(learning_rate=1.0, eta=1.0, seed=7)
    results = []
    for optimizer, calls in ((accumulating, 6), (plain, 2)):
        variable = keras.Variable(np.zeros(n, "float32"))
        for _ in range(calls):
            optimizer.apply([np.zeros(n, "float32")], [variable])
        results.append(variable.numpy())
    assert_weights_equal([results[1]], [results[0]])
    assert int(accumulating.noise_step.numpy()) == 2 and int(accumulating.iterations.numpy()) == 2


def test_loss_scale_optimizer_noises_unscaled_gradients_and_skips_nonfinite_steps():
    n = N
    variable = keras.Variable(np.zeros(n, "float32"))
    inner = NoisySGD(learning_rate=1.0, eta=1.0, gamma=0.0, seed=3)
    optimizer = keras.optimizers.LossScaleOptimizer(inner, initial_scale=2.0**15)
    optimizer.build([variable])
    optimizer.apply([np.full(n, np.inf, "float32")], [variable])
    assert np.all(variable.numpy() == 0) and int(inner.noise_step.numpy()) == 0
    optimizer.apply([np.zeros(n, "float32")], [variable])
    assert int(inner.noise_step.numpy()) == 1
    assert_std(variable.numpy(), 1.0)  # not divided by the loss scale


def test_mixed_float16_model_trains_with_noise():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = _small_model(0)
        model.compile(
            optimizer=NoisyAdam(learning_rate=0.01, eta=0.01, seed=0), loss="sparse_categorical_crossentropy"
        )
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        x, y = _xy()
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        assert int(model.optimizer.inner_optimizer.noise_step.numpy()) == 4
        assert all(w.dtype == np.float32 and np.all(np.isfinite(w)) for w in model.get_weights())
    finally:
        keras.config.set_dtype_policy("float32")


def _noise_of_fit(n, steps, eta, jit_compile):
    # With all-zero inputs the kernel's gradient is exactly zero, so after lr=1 SGD steps from a zero kernel the
    # kernel is minus the sum of the noise of those steps.
    model = keras.Sequential([keras.Input((n,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    model.compile(optimizer=NoisySGD(learning_rate=1.0, eta=eta, seed=2), loss="mse", jit_compile=jit_compile)
    model.fit(np.zeros((steps, n), "float32"), np.ones((steps, 1), "float32"), batch_size=1, verbose=0)
    assert int(model.optimizer.noise_step.numpy()) == steps
    return model.layers[0].kernel.numpy().ravel()


def test_noise_under_jit_compile_has_the_scheduled_variance_and_equals_graph_mode():
    n, steps, eta = 20_000, 3, 0.3
    kernel = _noise_of_fit(n, steps, eta, jit_compile=True)
    expected_variance = sum(eta / (1 + t) ** 0.55 for t in range(steps))
    assert float(np.var(kernel)) == pytest.approx(expected_variance, rel=6 * math.sqrt(2 / n))
    # The generator is XLA-compiled in graph mode too, so the run does not depend on the jit_compile setting.
    assert_weights_equal([_noise_of_fit(n, steps, eta, jit_compile=False)], [kernel], rtol=1e-5, atol=1e-6)


def test_sparse_embedding_gradients_get_dense_noise():
    vocabulary, width = 2000, 16
    model = keras.Sequential(
        [
            keras.Input((4,), dtype="int32"),
            keras.layers.Embedding(vocabulary, width),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=NoisySGD(learning_rate=1.0, eta=0.3, seed=1), loss="mse")
    before = model.layers[0].embeddings.numpy().copy()
    model.train_on_batch(np.array([[1, 2, 3, 4]], "int32"), np.zeros((1, 1), "float32"))
    delta = (model.layers[0].embeddings.numpy() - before)[10:]  # rows 10.. were not looked up
    # Untouched rows get the paper's noise too (dense noise: every parameter, every step).
    assert_std(delta.ravel(), math.sqrt(0.3))


def test_sgd_momentum_and_weight_decay_still_apply():
    variable = keras.Variable(np.ones(10, "float32"))
    optimizer = NoisySGD(learning_rate=0.1, momentum=0.9, weight_decay=0.5, eta=0.0)
    optimizer.apply([np.zeros(10, "float32")], [variable])
    assert_weights_equal([np.full(10, 1 - 0.1 * 0.5, "float32")], [variable.numpy()], rtol=1e-6)


ALL_NOISY = [getattr(keras_gradnoise, name) for name in keras_gradnoise.__all__ if name.startswith("Noisy")]


@pytest.mark.parametrize("optimizer_class", ALL_NOISY, ids=lambda c: c.__name__)
def test_config_round_trip(optimizer_class):
    optimizer = optimizer_class(learning_rate=0.02, eta=0.3, gamma=0.6, seed=17, clipnorm=2.0)
    config = optimizer.get_config()
    assert (config["eta"], config["gamma"], config["seed"], config["clipnorm"]) == (0.3, 0.6, 17, 2.0)
    clone = optimizer_class.from_config(config)
    assert clone.get_config() == config
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(restored) is optimizer_class and restored.get_config() == config


@keras.saving.register_keras_serializable(package="keras_gradnoise_tests")
class StepDecayNoise(NoiseSchedule):
    def __init__(self, stddev, every):
        self.stddev, self.every = stddev, every

    def __call__(self, step):
        return self.stddev * 0.5 ** keras.ops.floor_divide(keras.ops.cast(step, "float32"), self.every)

    def get_config(self):
        return {"stddev": self.stddev, "every": self.every}


def test_user_schedule_is_used_and_serialized():
    optimizer = NoisySGD(learning_rate=1.0, noise_schedule=StepDecayNoise(0.4, 10), seed=3)
    assert_std(noise_only_update(optimizer, step=25), 0.1)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(clone.noise_schedule, StepDecayNoise) and clone.noise_schedule.every == 10


def test_default_schedule_is_the_papers():
    schedule = NoisyAdam().noise_schedule
    assert isinstance(schedule, AnnealedNoise) and (schedule.eta, schedule.gamma) == (0.01, 0.55)
    assert isinstance(NoisyAdam(noise_std=0.001).noise_schedule, ConstantNoise)
    assert NoisyAdam(eta=0.3).current_noise_stddev() == pytest.approx(noise_stddev(0, 0.3))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"eta": -1.0}, r"`eta` must be a finite number >= 0"),
        ({"eta": float("nan")}, r"`eta` must be a finite number >= 0"),
        ({"eta": "big"}, r"`eta` must be a finite number >= 0"),
        ({"gamma": -0.5}, r"`gamma` must be a finite number >= 0"),
        ({"gamma": float("inf")}, r"`gamma` must be a finite number >= 0"),
        ({"noise_std": -0.001}, r"`noise_std` must be a finite number >= 0"),
        ({"seed": 1.5}, r"`seed` must be None or an int in \[0, 2147483647\]"),
        ({"seed": "1"}, r"`seed` must be None or an int"),
        ({"seed": -3}, r"`seed` must be None or an int"),
        ({"seed": True}, r"`seed` must be None or an int"),
        ({"eta": 0.1, "noise_std": 0.1}, r"at most one of `eta`"),
        ({"noise_std": 0.1, "gamma": 0.5}, r"`gamma` belongs to the annealed schedule"),
        ({"noise_schedule": lambda t: 0.1}, r"must be a keras_gradnoise.NoiseSchedule"),
        ({"skip_nonfinite": "yes"}, r"`skip_nonfinite` must be True, False or None"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NoisyAdam(**kwargs)


def test_with_gradient_noise_on_any_optimizer_class():
    class MySGD(keras.optimizers.SGD):
        pass

    noisy = with_gradient_noise(MySGD)
    assert noisy.__name__ == "NoisyMySGD" and issubclass(noisy, MySGD)
    assert with_gradient_noise(MySGD) is noisy and with_gradient_noise(noisy) is noisy
    assert with_gradient_noise(keras.optimizers.Adam) is NoisyAdam
    with pytest.raises(ValueError, match="cannot wrap LossScaleOptimizer"):
        with_gradient_noise(keras.optimizers.LossScaleOptimizer)
    with pytest.raises(ValueError, match="cannot wrap MultiOptimizer"):
        with_gradient_noise(keras.optimizers.MultiOptimizer)
    with pytest.raises(ValueError, match="takes a keras.optimizers.Optimizer subclass"):
        with_gradient_noise(dict)


RESUME_CLASSES = [
    keras_gradnoise.NoisySGD,
    NoisyAdam,
    keras_gradnoise.NoisyAdamW,
    keras_gradnoise.NoisyRMSprop,
    keras_gradnoise.NoisyLion,
    keras_gradnoise.NoisyNadam,
    keras_gradnoise.NoisyAdagrad,
]


@pytest.mark.parametrize("optimizer_class", RESUME_CLASSES, ids=lambda c: c.__name__)
def test_save_load_resume_is_bit_exact(optimizer_class, tmp_path):
    x, y = _xy()

    def compiled(seed):
        model = _small_model(5)
        model.compile(
            optimizer=optimizer_class(learning_rate=0.01, eta=0.3, seed=seed, global_clipnorm=5.0),
            loss="sparse_categorical_crossentropy",
        )
        return model

    seed = None if optimizer_class is NoisyAdam else 21  # a drawn seed is saved with the optimizer too
    straight = compiled(seed)
    straight.fit(x, y, batch_size=16, epochs=4, shuffle=False, verbose=0)

    first = compiled(seed)
    if seed is None:
        first.optimizer.build(first.trainable_variables)
        straight_seed = int(straight.optimizer._noise_seed.numpy())
        first.optimizer._noise_seed.assign(straight_seed)
    first.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    path = os.path.join(tmp_path, "model.keras")
    first.save(path)
    resumed = keras.saving.load_model(path)
    assert type(resumed.optimizer) is optimizer_class
    assert int(resumed.optimizer.iterations.numpy()) == 8 and int(resumed.optimizer.noise_step.numpy()) == 8
    resumed.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    # Finite (numpy counts NaN == NaN as equal), and bit for bit.
    assert_weights_equal(straight.get_weights(), resumed.get_weights())


def test_sparse_gradient_without_a_static_dense_shape():
    # Inside a traced function, an IndexedSlices' dense shape is a tensor, so its dense form has no static shape.
    import tensorflow as tf

    variable = keras.Variable(np.zeros((5, 8), "float32"))
    optimizer = NoisySGD(learning_rate=1.0, eta=0.3, seed=1)
    optimizer.build([variable])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32)])
    def step(ids, rows):
        values = tf.ones([tf.shape(ids)[0], 8])
        optimizer.apply([tf.IndexedSlices(values, ids, dense_shape=tf.stack([rows, 8]))], [variable])

    step(tf.constant([1, 3], tf.int32), tf.constant(5))
    delta = -variable.numpy()
    assert np.all(delta[[1, 3]] != 0) and np.all(delta[[0, 2, 4]] != 0)  # looked-up rows and the rest moved
