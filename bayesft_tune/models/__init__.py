"""Networks of the paper, one registry (:data:`MODELS`), built by name with :func:`build_model`.

MNIST: ``mlp``, ``lenet5`` (:mod:`bayesft_tune.models.mnist`); CIFAR-10: ``alexnet``,
``vgg11``, ``vgg16``, ``resnet18``, ``preact_resnet18``; GTSRB: ``stn``; PennFudanPed
detection: ``maskrcnn`` (the zoo, :mod:`bayesft_tune.zoo`). Every registered model
passes the contract suite in ``tests/test_registry_contracts.py``.
"""

from __future__ import annotations

from bayesft_tune.models._registry import MODELS, ModelSpec, build_model, model_names
from bayesft_tune.models.mnist import ACTIVATIONS, NORMS, LeNet5, lenet5, mlp
from bayesft_tune.zoo.cifar import alexnet, vgg11, vgg16
from bayesft_tune.zoo.detection import maskrcnn
from bayesft_tune.zoo.resnet import preact_resnet18, resnet18
from bayesft_tune.zoo.stn import stn

_MNIST, _CIFAR, _NARROW = (1, 28, 28), (3, 32, 32), {"width": 8}
for _spec in (
    ModelSpec("mlp", mlp, _MNIST),
    ModelSpec("lenet5", lenet5, _MNIST),
    ModelSpec("alexnet", alexnet, _CIFAR, small={"fc_width": 64}),
    ModelSpec("vgg11", vgg11, _CIFAR, small=_NARROW),
    ModelSpec("vgg16", vgg16, _CIFAR, small=_NARROW),
    ModelSpec("resnet18", resnet18, _CIFAR, small=_NARROW),
    ModelSpec("preact_resnet18", preact_resnet18, _CIFAR, small=_NARROW),
    ModelSpec("stn", stn, _CIFAR, small={"widths": (8, 8, 8), "fc_width": 16}),
    ModelSpec("maskrcnn", maskrcnn, (3, 64, 80), kind="detection",
              small={"backbone": "tiny", "min_size": 64, "max_size": 96}),
):
    MODELS.register(_spec.name, _spec)

__all__ = ["ACTIVATIONS", "MODELS", "NORMS", "LeNet5", "ModelSpec", "build_model", "lenet5", "mlp",
           "model_names"]
