"""keras_gradnoise: annealed Gaussian gradient noise for any Keras 3 optimizer.

    model.compile(optimizer=keras_gradnoise.NoisyAdam(learning_rate=1e-3, eta=0.3), loss=...)

Reference: Neelakantan, Vilnis, Le, Sutskever, Kaiser, Kurach, Martens 2015, "Adding Gradient Noise Improves
Learning for Very Deep Networks", arXiv 1511.06807.
"""

from keras_gradnoise.callbacks import NoiseGateCallback, NoiseStddevLogger, find_noisy_optimizer
from keras_gradnoise.optimizers import (
    GradientNoiseMixin,
    NoisyAdadelta,
    NoisyAdafactor,
    NoisyAdagrad,
    NoisyAdam,
    NoisyAdamax,
    NoisyAdamW,
    NoisyFtrl,
    NoisyLamb,
    NoisyLion,
    NoisyNadam,
    NoisyRMSprop,
    NoisySGD,
    with_gradient_noise,
)
from keras_gradnoise.schedules import AnnealedNoise, ConstantNoise, GatedNoise, NoiseSchedule, noise_stddev

__version__ = "0.2.0"

__all__ = [
    "AnnealedNoise",
    "ConstantNoise",
    "GatedNoise",
    "GradientNoiseMixin",
    "NoiseGateCallback",
    "NoiseSchedule",
    "NoiseStddevLogger",
    "NoisyAdadelta",
    "NoisyAdafactor",
    "NoisyAdagrad",
    "NoisyAdam",
    "NoisyAdamW",
    "NoisyAdamax",
    "NoisyFtrl",
    "NoisyLamb",
    "NoisyLion",
    "NoisyNadam",
    "NoisyRMSprop",
    "NoisySGD",
    "find_noisy_optimizer",
    "noise_stddev",
    "with_gradient_noise",
]
