"""The task table: one row each (registered by :mod:`bayesft_tune.tasks`' ``__init__``)."""

from __future__ import annotations

from bayesft_tune.tasks.task import Task

__all__ = ["TABLE"]

_CIFAR = dict(data="cifar10", epochs=30, batch_size=128, lr=1e-3, eval_batch_size=1024)
_SMOKE = {"batch_size": 16, "eval_batch_size": 64}

TABLE: tuple[Task, ...] = (
    Task(name="mnist_mlp", model="mlp", data="mnist_embedded", epochs=10, batch_size=64, lr=1e-3,
         widths_kwarg="hidden", base_widths=(192, 32), arch_knobs=("width", "activation", "norm"),
         description="3-layer MLP 784-192-32-10, embedded MNIST (5,000 digits), 1 x 28 x 28"),
    Task(name="mnist_lenet5", model="lenet5", data="mnist_embedded", epochs=8, batch_size=64, lr=1e-3,
         widths_kwarg="widths", base_widths=(6, 16, 120, 84), arch_knobs=("width", "activation", "norm"),
         description="LeNet-5, embedded MNIST (5,000 digits), 1 x 28 x 28"),
    Task(name="cifar10_alexnet", model="alexnet", **_CIFAR,
         smoke={**_SMOKE, "model_kwargs": {"fc_width": 64}},
         description="AlexNet (CIFAR variant), CIFAR-10, 3 x 32 x 32"),
    Task(name="cifar10_vgg11", model="vgg11", **_CIFAR, smoke={**_SMOKE, "model_kwargs": {"width": 8}},
         description="VGG-11 with BatchNorm (CIFAR variant), CIFAR-10, 3 x 32 x 32"),
    Task(name="cifar10_vgg16", model="vgg16", **_CIFAR, smoke={**_SMOKE, "model_kwargs": {"width": 8}},
         description="VGG-16 with BatchNorm (CIFAR variant), CIFAR-10, 3 x 32 x 32"),
    Task(name="cifar10_resnet18", model="resnet18", **_CIFAR, smoke={**_SMOKE, "model_kwargs": {"width": 8}},
         description="ResNet-18 (CIFAR: 3x3 stem, no max-pool), CIFAR-10, 3 x 32 x 32"),
    Task(name="cifar10_preact_resnet18", model="preact_resnet18", **_CIFAR,
         smoke={**_SMOKE, "model_kwargs": {"width": 8}},
         description="pre-activation ResNet-18 (CIFAR), CIFAR-10, 3 x 32 x 32"),
    Task(name="gtsrb_stn", model="stn", data="gtsrb", epochs=15, batch_size=128, lr=1e-3,
         eval_batch_size=1024, smoke={**_SMOKE, "model_kwargs": {"widths": (8, 8, 8), "fc_width": 16}},
         description="spatial transformer network, GTSRB (43 classes), 3 x 32 x 32"),
    Task(name="pennfudan_maskrcnn", model="maskrcnn", data="pennfudan", epochs=10, batch_size=2,
         lr=0.005, eval_batch_size=4, model_kwargs={"backbone": "resnet50_fpn"}, kind="detection",
         smoke={"batch_size": 2, "eval_batch_size": 2,
                "model_kwargs": {"backbone": "tiny", "min_size": 64, "max_size": 96,
                                 "mask_layers": (16, 16, 16, 16)}},
         description="Mask R-CNN ResNet-50-FPN (random init), PennFudanPed, 3 x H x W, SGD"),
)
