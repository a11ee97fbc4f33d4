"""The paper's model zoo, registered into :mod:`bayesft_tune.models` on import.

CIFAR-10 networks (32 x 32 inputs): ``alexnet``, ``vgg11``, ``vgg16``, ``resnet18``,
``preact_resnet18``; GTSRB: ``stn`` (spatial transformer); PennFudanPed detection:
``maskrcnn``. :mod:`bayesft_tune.models` imports this package at its end, so
``build_model`` always sees these names.
"""

from __future__ import annotations

from bayesft_tune.zoo import cifar, detection, resnet, stn

__all__ = ["cifar", "detection", "resnet", "stn"]
