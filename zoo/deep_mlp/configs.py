"""Named configs of the deep MLP (Neelakantan et al. 2015, section 4.1, Table 1).

Clipping: the paper clips "the gradients" with thresholds 100 and 10, citing Pascanu et al. (2013), who
rescale the whole gradient vector when its norm exceeds the threshold. The configs therefore use
`global_clipnorm` (one norm over all variables), not Keras' per-tensor `clipnorm`. Noise comes after the
clipping.

The paper gives neither batch size nor training length; we use batch 128 and 20 epochs for `paper` (our
choice, stated in docs/deep_mlp.md).
"""

from __future__ import annotations

from zoo.config import TrainConfig

PAPER_NOISE_ETA = 0.01
PAPER_NOISE_GAMMA = 0.55
PAPER_LEARNING_RATES = (0.1, 0.01)


def base() -> TrainConfig:
    """What every config starts from: the `paper` config (Simple Init, plain SGD at lr 0.1, no clipping, no
    noise, full MNIST, batch 128, 20 epochs)."""
    return TrainConfig(
        model="deep_mlp",
        model_kwargs={"init": "simple"},
        data_kwargs={"source": "mnist"},
        optimizer="sgd",
        learning_rate=PAPER_LEARNING_RATES[0],
        epochs=20,
        batch_size=128,
    )


# The paper's annealed noise (eta = 0.01, gamma = 0.55) after clipping to global norm 10 (its Experiments 3-6).
_NOISE_CLIP10 = {"noise_eta": PAPER_NOISE_ETA, "noise_gamma": PAPER_NOISE_GAMMA, "global_clipnorm": 10.0}


def smoke() -> TrainConfig:
    """Seconds: one epoch over the shipped 300-image MNIST fixture, with noise and clipping.

    python train.py --model=deep_mlp --config=smoke --workdir=/tmp/deep_mlp_smoke
    """
    return base().replace(data_kwargs={"source": "fixture"}, **_NOISE_CLIP10, epochs=1, batch_size=32)


def default() -> TrainConfig:
    """Minutes on a 2-core CPU: He init, lr 0.1, global-norm clip 10, noise eta=0.01, 5 epochs of full MNIST.

    He ("good") init because from Simple Init the 20-layer net needs far more than a few minutes of steps to
    leave its initial plateau (see docs/deep_mlp.md); this config made the shipped `noisy_he` preset.

    python train.py --model=deep_mlp --config=default --data_dir=../shared/data/mnist --workdir=/tmp/deep_mlp
    """
    return base().replace(model_kwargs={"init": "good"}, **_NOISE_CLIP10, epochs=5)


def paper() -> TrainConfig:
    """The paper's base setting (Table 1, Experiment 1 without noise): Simple Init, plain SGD, no clipping.

    The Table 1 rows (zoo/deep_mlp/paper.py) change init, clipping, noise and learning rate from here.

    python train.py --model=deep_mlp --config=paper --data_dir=../shared/data/mnist --workdir=/tmp/dmlp_paper
    """
    return base()


CONFIGS = {"smoke": smoke, "default": default, "paper": paper}
