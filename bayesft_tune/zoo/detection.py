"""Mask R-CNN for PennFudanPed pedestrians (``num_classes=2``: background + person).

``maskrcnn`` builds torchvision's ``maskrcnn_resnet50_fpn(weights=None,
weights_backbone=None)`` (nothing is downloaded), or with ``backbone="tiny"`` a
small single-level Mask R-CNN (a 3-conv backbone, narrow heads) for CPU tests.
Inputs: a list of ``3 x H x W`` images in [0, 1]; in ``train()`` with targets it
returns the loss dict, in ``eval()`` a list of ``{boxes, labels, scores, masks}``.

Dropout slots are the RoI heads only. The network sets ``dropout_exclude =
("backbone", "rpn", "roi_heads.box_predictor")``, so the slots are the box head's
``fc6``, ``fc7`` and the mask head's convs (``roi_heads.mask_head.<i>.0``); the mask
predictor's logits conv is the output layer. Backbone and RPN get no dropout
(it would perturb the proposals, not regularise the heads), and the box
predictor's class/box outputs get none (output layers). ResNet-50-FPN: 6 slots;
``tiny`` with ``mask_layers=(32, 32)``: 4 slots. ``freeze_backbone=True`` stops the
backbone's parameters from training (they still drift: drift acts on all weights).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

from torch import Tensor, nn

from bayesft_tune.errors import UserInputError

__all__ = ["DETECTION_EXCLUDE", "TinyBackbone", "maskrcnn"]

DETECTION_EXCLUDE = ("backbone", "rpn", "roi_heads.box_predictor")
"""Module prefixes of a torchvision Mask R-CNN that get no dropout slot."""


class TinyBackbone(nn.Module):
    """Three stride-2 conv+BN+ReLU blocks: ``N x 3 x H x W`` -> ``N x C x H/8 x W/8``."""

    def __init__(self, out_channels: int = 32) -> None:
        super().__init__()
        widths = (3, 16, 32, int(out_channels))
        blocks = []
        for a, b in zip(widths[:-1], widths[1:]):
            blocks += [nn.Conv2d(a, b, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
        self.body = nn.Sequential(*blocks)
        self.out_channels = int(out_channels)

    def forward(self, x: Tensor) -> "OrderedDict[str, Tensor]":  # noqa: D102
        return OrderedDict([("0", self.body(x))])


def _tiny(num_classes: int, channels: int, representation_size: int,
          mask_layers: Sequence[int], **kwargs) -> nn.Module:
    # lazy: torchvision's detection models (~2 s) load only when a detection model is built
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.ops import MultiScaleRoIAlign

    layers = [int(v) for v in mask_layers]
    return MaskRCNN(
        TinyBackbone(channels), num_classes=None,
        rpn_anchor_generator=AnchorGenerator(((16, 32, 64),), ((0.5, 1.0, 2.0),)),
        box_roi_pool=MultiScaleRoIAlign(["0"], 7, 2), mask_roi_pool=MultiScaleRoIAlign(["0"], 14, 2),
        box_head=TwoMLPHead(channels * 7 * 7, representation_size),
        box_predictor=FastRCNNPredictor(representation_size, num_classes),
        mask_head=MaskRCNNHeads(channels, layers, 1),
        mask_predictor=MaskRCNNPredictor(layers[-1], layers[-1], num_classes), **kwargs)


def maskrcnn(num_classes: int = 2, backbone: str = "resnet50_fpn", freeze_backbone: bool = False,
             min_size: int = 800, max_size: int = 1333, tiny_channels: int = 32,
             representation_size: int = 64, mask_layers: Sequence[int] = (32, 32),
             **kwargs) -> nn.Module:
    """Mask R-CNN (see the module docstring for inputs, outputs and slots).

    Args:
        num_classes: classes including background (2 for PennFudanPed).
        backbone: ``"resnet50_fpn"`` (torchvision, random init, no download) or ``"tiny"``.
        freeze_backbone: set ``requires_grad=False`` on the backbone's parameters.
        min_size, max_size: the model's internal resize (``GeneralizedRCNNTransform``).
        tiny_channels, representation_size, mask_layers: widths of the ``tiny`` variant.
        **kwargs: passed to torchvision's ``MaskRCNN`` (e.g. ``box_detections_per_img``).
    """
    if int(num_classes) != num_classes or num_classes < 2:
        raise UserInputError(f"num_classes must count background too (>= 2); got {num_classes!r}.")
    common = {"min_size": int(min_size), "max_size": int(max_size), **kwargs}
    if backbone == "resnet50_fpn":
        from torchvision.models.detection import maskrcnn_resnet50_fpn  # lazy: as in _tiny

        model = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None,
                                      num_classes=int(num_classes), **common)
    elif backbone == "tiny":
        model = _tiny(int(num_classes), int(tiny_channels), int(representation_size), mask_layers, **common)
    else:
        raise UserInputError(f"maskrcnn backbone must be 'resnet50_fpn' or 'tiny'; got {backbone!r}.")
    model.dropout_exclude = DETECTION_EXCLUDE
    if freeze_backbone:
        for p in model.backbone.parameters():
            p.requires_grad_(False)
    return model
