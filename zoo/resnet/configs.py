"""Named training configs of the ResNets: smoke (seconds), default (CPU-sized CIFAR-10), paper (He et al. 2015).

Weight decay is a kernel L2 penalty inside the model (`weight_decay` model argument, (lambda / 2) ||w||^2 on the
convolution and dense kernels), not the optimizer's `weight_decay`. Why: He et al. use SGD with L2 regularization
whose gradient lambda * w goes through the momentum buffer; Keras' optimizer `weight_decay` is decoupled (it subtracts
lr * lambda * w outside the momentum), which with momentum 0.9 decays about 10x less at the same lambda, so
5e-4 there would not be the paper's 5e-4. The L2 gradient is part of the gradient the noise is added to, exactly
as in the seed's setup where the noise is added to the full gradient of the regularized loss.
"""

from __future__ import annotations

from zoo.config import TrainConfig

# The seed does not give its dropout rate; this is our choice for the "dropout + noise" rows (before the classifier).
DROPOUT_RATE = 0.3
MOMENTUM = 0.9
# The CPU-sized CIFAR network: ResNet-34's basic blocks and stem, one block per stage, a quarter of the width.
CPU_MODEL_KWARGS = {"width_multiplier": 0.25, "stage_blocks": [1, 1, 1, 1]}
# Smoke runs: 64 synthetic training images (no data, no download), one epoch, with noise.
_SMOKE = {
    "data_kwargs": {"dataset": "synthetic", "train_size": 64, "test_size": 32},
    "learning_rate": 0.05,
    "noise_eta": 0.01,
    "epochs": 1,
    "batch_size": 16,
}


def base(model: str, weight_decay: float) -> TrainConfig:
    """What every ResNet config starts from: He et al.'s SGD (momentum 0.9, lr 0.1, step decay x0.1), batch 128,
    on CIFAR-10, with SGD-style weight decay `weight_decay`."""
    return TrainConfig(
        model=model,
        model_kwargs={"weight_decay": weight_decay},
        data_kwargs={"dataset": "cifar10"},
        optimizer="sgd",
        optimizer_kwargs={"momentum": MOMENTUM},
        learning_rate=0.1,
        lr_decay_factor=0.1,
        batch_size=128,
    )


def resnet34_smoke() -> TrainConfig:
    """Two stages of ResNet-34 at 1/4 width on 64 synthetic images: the plumbing in a few seconds, no data needed.

    python train.py --model=resnet34 --config=smoke --workdir=/tmp/resnet34_smoke
    """
    return base("resnet34", 5e-4).replace(
        model_kwargs={"width_multiplier": 0.25, "stage_blocks": [1, 1]}, **_SMOKE
    )


def resnet34_default() -> TrainConfig:
    """Quarter-width ResNet-34 with one block per stage ("ResNet-10") on the 4,000-image CIFAR-10 subset, 15 epochs.

    Sized for a 2-core CPU. Step decay: lr 0.1, x0.1 after epochs 6 and 12.

    python train.py --model=resnet34 --config=default --data_dir=../shared/data/cifar10 --workdir=/tmp/resnet34
    """
    return base("resnet34", 5e-4).replace(model_kwargs=CPU_MODEL_KWARGS, lr_decay_every_epochs=6, epochs=15)


def resnet34_paper() -> TrainConfig:
    """Full ResNet-34 on all of CIFAR-10: SGD momentum 0.9, lr 0.1 x0.1 every 60 epochs, 180 epochs, batch 128.

    Weight decay 5e-4, crop + flip augmentation. Needs a GPU (add --strategy=mirrored for several).

    python train.py --model=resnet34 --config=paper --data_dir=/path/to/cifar10 --workdir=/tmp/resnet34_paper
    """
    return base("resnet34", 5e-4).replace(lr_decay_every_epochs=60, epochs=180)


def resnet50_smoke() -> TrainConfig:
    """Two bottleneck stages of ResNet-50 at 1/16 width with the ImageNet stem, on 64 synthetic 32x32 images.

    python train.py --model=resnet50 --config=smoke --workdir=/tmp/resnet50_smoke
    """
    small = {
        "num_classes": 10,
        "input_shape": [32, 32, 3],
        "width_multiplier": 0.0625,
        "stage_blocks": [1, 1],
    }
    return base("resnet50", 1e-4).replace(model_kwargs=small, **_SMOKE)


def resnet50_default() -> TrainConfig:
    """The bottleneck network on CPU: ResNet-50's blocks at 1/4 width, one per stage, 3x3 stem, CIFAR-10 subset.

    ImageNet is out of reach of a CPU; this trains the same block type on the 4,000-image CIFAR-10 subset, with
    the schedule of resnet34's `default`.

    python train.py --model=resnet50 --config=default --data_dir=../shared/data/cifar10 --workdir=/tmp/resnet50
    """
    cifar_layout = {
        "num_classes": 10,
        "input_shape": [32, 32, 3],
        "stem": "cifar",
        "conv_bias": False,
        "input_normalization": "cifar10",
    }
    return resnet34_default().replace(model="resnet50", model_kwargs=cifar_layout)


def resnet50_paper() -> TrainConfig:
    """ResNet-50 on ImageNet as in He et al. 2015: SGD momentum 0.9, batch 256, lr 0.1 x0.1 every 30 epochs, 90 epochs.

    Weight decay 1e-4; scale augmentation (shorter side in [256, 480], random 224 crop, flip); evaluation on the
    224 center crop of the 256-resized validation image. --data_dir is tensorflow-datasets' manual download
    directory holding ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar. Needs GPUs.

    python train.py --model=resnet50 --config=paper --data_dir=/path/to/imagenet_tars --strategy=mirrored \
        --workdir=/tmp/resnet50_paper
    """
    return base("resnet50", 1e-4).replace(
        data_kwargs={"dataset": "imagenet2012"}, lr_decay_every_epochs=30, epochs=90, batch_size=256
    )


RESNET34_CONFIGS = {"smoke": resnet34_smoke, "default": resnet34_default, "paper": resnet34_paper}
RESNET50_CONFIGS = {"smoke": resnet50_smoke, "default": resnet50_default, "paper": resnet50_paper}
