"""The paper's model zoo; :mod:`bayesft_tune.models` registers its builders.

CIFAR-10 networks (32 x 32 inputs): ``alexnet``, ``vgg11``, ``vgg16``, ``resnet18``,
``preact_resnet18``; GTSRB: ``stn`` (spatial transformer); PennFudanPed detection:
``maskrcnn``.

BatchNorm under drift (VGG, ResNets, Mask R-CNN's random-init backbone): the affine
``weight``/``bias`` are parameters and drift with every other weight by default
(pass ``params`` to ``evaluate_under_drift`` to exclude them); ``running_mean``,
``running_var`` and ``num_batches_tracked`` are buffers and never drift; in
evaluation the network is in ``eval()``, so the running statistics are used as they
are (never re-estimated on drifted activations). ``FrozenBatchNorm2d`` (torchvision
models loaded with pretrained weights) keeps its affine terms as buffers: they do
not drift. Tested in ``tests/test_zoo.py``.
"""

from __future__ import annotations

from bayesft_tune.zoo import cifar, detection, resnet, stn

__all__ = ["cifar", "detection", "resnet", "stn"]
