"""add_dropout / dropout_slots on an MLP, LeNet5 and torchvision's resnet18."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bayesft_tune import UserInputError, add_dropout, build_model, dropout_rates, dropout_slots


def test_mlp_slots_in_forward_order():
    net = build_model("mlp", hidden=(64, 32, 16))
    assert dropout_slots(net) == ["fc1", "fc2", "fc3"]  # K = 4 layers -> 3 slots


def test_plain_sequential_mlp():
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    assert dropout_slots(net) == ["1"]
    out = add_dropout(net, [0.5])
    assert isinstance(out[1].dropout, nn.Dropout) and out[1].dropout.p == 0.5
    assert not hasattr(out[3], "dropout"), "the output layer gets no dropout"


def test_lenet5_slots():
    assert dropout_slots(build_model("lenet5")) == ["conv1", "conv2", "fc1", "fc2"]


def test_resnet18_nested_slots_and_backward():
    torchvision = pytest.importorskip("torchvision")
    net = torchvision.models.resnet18(num_classes=10)
    slots = dropout_slots(net)
    assert len(slots) == 20 and slots[0] == "conv1" and "layer2.0.downsample.0" in slots
    assert "fc" not in slots
    dropped = add_dropout(net, [0.1] * 20)
    dropped.train()
    dropped(torch.randn(2, 3, 32, 32)).sum().backward()
    assert dropped.layer1[0].conv1.dropout.p == 0.1


def test_state_dict_keys_unchanged_and_original_untouched():
    net = build_model("lenet5")
    out = add_dropout(net, [0.2, 0.3, 0.4, 0.5])
    assert list(net.state_dict()) == list(out.state_dict())
    assert dropout_rates(net) == {s: 0.0 for s in dropout_slots(net)}
    assert dropout_rates(out) == {"conv1": 0.2, "conv2": 0.3, "fc1": 0.4, "fc2": 0.5}
    assert add_dropout(out, {"conv1": 0, "conv2": 0, "fc1": 0, "fc2": 0.1}).fc2.dropout.p == 0.1


def test_dropout_active_in_train_only():
    torch.manual_seed(0)
    net = add_dropout(build_model("mlp", in_features=20, hidden=(200,)), [0.5])
    x = torch.randn(64, 20)
    net.eval()
    assert torch.equal(net(x), net(x))
    hidden = lambda: (net.fc1(x) == 0).float().mean().item()
    assert hidden() == 0.0
    net.train()
    zeros = hidden()
    assert 0.4 < zeros < 0.6, f"about half the units dropped in train(); {zeros=}"


@pytest.mark.parametrize("rates,match", [
    ([0.5], "one dropout rate per slot"),
    ([0.5, 1.0], "0 <= p < 1"),
    ([-0.1, 0.2], "0 <= p < 1"),
    ({"fc1": 0.1, "fcX": 0.2}, "unknown"),
])
def test_bad_rates_rejected(rates, match):
    with pytest.raises(UserInputError, match=match):
        add_dropout(build_model("mlp"), rates)


def test_too_shallow_network_rejected():
    with pytest.raises(UserInputError, match="at least 2"):
        dropout_slots(nn.Linear(3, 2))


def test_pickles_with_dropout():
    import io

    net = add_dropout(build_model("mlp"), [0.3, 0.2])
    buf = io.BytesIO()
    torch.save(net, buf)
    buf.seek(0)
    back = torch.load(buf, weights_only=False)
    assert dropout_rates(back) == {"fc1": 0.3, "fc2": 0.2}
