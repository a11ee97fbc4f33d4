"""The model zoo: documented slot counts, architecture details, the exclude option, and how
BatchNorm layers drift."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from bayesft_tune import UserInputError, add_dropout, build_model, dropout_rates, dropout_slots, get_drift
from bayesft_tune import evaluate_under_drift
from bayesft_tune.evaluation import DriftedCopy

SLOTS = {"alexnet": 7, "vgg11": 8, "vgg16": 13, "resnet18": 20, "preact_resnet18": 20, "stn": 4}
"""The slot counts documented in the zoo's module docstrings (forward/backward with dropout,
for every registered model, is in ``tests/test_registry_contracts.py``)."""


def test_documented_slot_counts():
    assert {name: len(dropout_slots(build_model(name))) for name in SLOTS} == SLOTS
    assert len(dropout_slots(build_model("vgg11", batch_norm=False))) == 8
    assert build_model("stn")(torch.randn(2, 3, 32, 32)).shape == (2, 43)


def test_vgg_batch_norm_switch_and_width():
    assert sum(isinstance(m, nn.BatchNorm2d) for m in build_model("vgg16").modules()) == 13
    assert not any(isinstance(m, nn.BatchNorm2d) for m in build_model("vgg16", batch_norm=False).modules())
    small = build_model("vgg16", width=8)
    assert dropout_slots(small) == dropout_slots(build_model("vgg16")), "width keeps the slot names"
    assert small.classifier.in_features == 64


def test_resnet_cifar_stem_and_shortcut_slots():
    net = build_model("resnet18")
    assert net.conv1.kernel_size == (3, 3) and net.conv1.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in net.modules())
    slots = dropout_slots(net)
    assert slots[0] == "conv1" and "layer2.0.shortcut.0" in slots and "linear" not in slots
    pre = build_model("preact_resnet18")
    assert isinstance(pre.layer1[0].bn1, nn.BatchNorm2d) and "layer3.0.shortcut.0" in dropout_slots(pre)


def test_stn_localisation_net_has_no_slot_and_starts_at_identity():
    net = build_model("stn")
    assert dropout_slots(net) == ["conv1", "conv2", "conv3", "fc1"]
    everything = dropout_slots(net, exclude=())
    assert everything[:4] == ["localization.0", "localization.3", "fc_loc.0", "fc_loc.2"]
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(net.transform(x), x, atol=1e-5, rtol=1e-5)
    dropped = add_dropout(net, [0.3] * 4)
    assert not hasattr(dropped.fc_loc[2], "dropout") and dropped.fc1.dropout.p == 0.3


def test_exclude_option_keeps_default_behaviour_and_validates():
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    assert dropout_slots(net) == dropout_slots(net, exclude=None) == ["0", "2"]
    assert dropout_slots(net, exclude=["0"]) == ["2"]
    out = add_dropout(net, {"2": 0.4}, exclude=["0"])
    assert dropout_rates(out, exclude=["0"]) == {"2": 0.4} and not hasattr(out[0], "dropout")
    with pytest.raises(UserInputError, match="does not have"):
        dropout_slots(net, exclude=["nope"])
    with pytest.raises(UserInputError, match="not a string"):
        dropout_slots(net, exclude="0")
    with pytest.raises(UserInputError, match="at least 2"):
        dropout_slots(net, exclude=["0", "2"])


def test_maskrcnn_resnet50_fpn_head_slots_without_download():
    net = build_model("maskrcnn")
    assert dropout_slots(net) == ["roi_heads.box_head.fc6", "roi_heads.box_head.fc7",
                                  "roi_heads.mask_head.0.0", "roi_heads.mask_head.1.0",
                                  "roi_heads.mask_head.2.0", "roi_heads.mask_head.3.0"]
    assert type(net.backbone.body.bn1) is nn.BatchNorm2d  # random init: ordinary, trainable BN
    frozen = build_model("maskrcnn", backbone="tiny", freeze_backbone=True)
    assert not any(p.requires_grad for p in frozen.backbone.parameters())
    assert all(p.requires_grad for p in frozen.roi_heads.parameters())
    with pytest.raises(UserInputError, match="backbone"):
        build_model("maskrcnn", backbone="vgg")


# ---- BatchNorm under drift -------------------------------------------------------------

def _bn_net() -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    net.train()
    for _ in range(3):  # non-trivial running statistics
        net(torch.randn(16, 3, 8, 8) * 3 + 1)
    with torch.no_grad():  # non-zero BN shift (lognormal drift keeps zeros at zero)
        net[1].bias.uniform_(-0.5, 0.5)
    return net.eval()


def test_bn_affine_parameters_drift_and_running_statistics_never_do():
    net = _bn_net()
    buffers = {k: v.clone() for k, v in net.named_buffers()}
    work = DriftedCopy(net, "all", torch.device("cpu"))
    names = [n for n, _ in work.selected]
    assert "1.weight" in names and "1.bias" in names
    assert not any("running" in n or "num_batches" in n for n in names)
    drift = get_drift("lognormal")
    gen = torch.Generator().manual_seed(0)
    work.set_drift(drift, drift.draw(work.clean.numel(), gen, work.clean.device, work.clean.dtype), 0.9)
    assert not torch.equal(work.model[1].weight, net[1].weight)
    perturbed = drift.perturb(net, 0.9, torch.Generator().manual_seed(1))
    assert not torch.equal(perturbed[1].bias, net[1].bias)
    assert not torch.equal(perturbed[1].weight, net[1].weight)
    for copy_ in (work.model, perturbed):
        for k, v in copy_.named_buffers():
            assert torch.equal(v, buffers[k]), f"buffer {k} drifted"


def test_bn_running_statistics_are_used_as_they_are_in_evaluation():
    net = _bn_net()
    x, y = torch.randn(40, 3, 8, 8), torch.randint(0, 3, (40,))
    buffers = {k: v.clone() for k, v in net.named_buffers()}
    frame = evaluate_under_drift(net, TensorDataset(x, y), sigmas=[0.0, 0.9], samples=2, seed=0)
    assert all(torch.equal(v, buffers[k]) for k, v in net.named_buffers()), "caller's BN untouched"
    with torch.no_grad():
        eval_loss = float(nn.functional.cross_entropy(net(x), y))
        bn = net[1]  # what train-mode BN would use instead: this batch's statistics
        h = net[0](x)
        h = (h - h.mean((0, 2, 3), keepdim=True)) / (h.var((0, 2, 3), unbiased=False, keepdim=True)
                                                    + bn.eps).sqrt()
        h = h * bn.weight.view(1, -1, 1, 1) + bn.bias.view(1, -1, 1, 1)
        batch_stats_loss = float(nn.functional.cross_entropy(net[4](net[3](net[2](h))), y))
    clean = frame[frame.sigma == 0.0].loss.iloc[0]
    assert clean == pytest.approx(eval_loss, rel=1e-5) and clean != pytest.approx(batch_stats_loss, rel=1e-3)
    only_bn = evaluate_under_drift(net, TensorDataset(x, y), sigmas=[0.9], samples=2, seed=0,
                                   params=lambda n, p: n.startswith("1."))
    assert (only_bn.loss != clean).all(), "drifting only BN's affine parameters changes the output"
