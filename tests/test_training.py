"""Seeded training and noise-injection training."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from bayesft_tune import TrainConfig, Trainer, UserInputError, build_model, train
from bayesft_tune.training import drifted_weights


def _data(n=256):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, 28, 28, generator=g)
    return TensorDataset(x, (x.flatten(1)[:, :10].argmax(1)))  # learnable labels


def _weights(net):
    return torch.cat([p.detach().flatten() for p in net.parameters()])


def test_same_seed_same_weights_different_seed_differs():
    runs = []
    for seed in (0, 0, 1):
        torch.manual_seed(0)
        net = build_model("mlp", hidden=(32,))
        train(net, _data(), TrainConfig(epochs=2, batch_size=32), seed=seed)
        runs.append(_weights(net))
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_training_lowers_loss_with_adam_and_sgd():
    for opt in ("adam", "sgd"):
        torch.manual_seed(0)
        losses = train(build_model("mlp", hidden=(64,)), _data(),
                       TrainConfig(epochs=5, batch_size=32, optimizer=opt, lr=1e-2 if opt == "sgd" else 1e-3))
        assert losses[-1] < 0.7 * losses[0], (opt, losses)


def test_drifted_weights_restores_clean_values_exactly():
    net = build_model("mlp", hidden=(16,))
    before = _weights(net).clone()
    with drifted_weights(net, "lognormal", 0.5, torch.Generator().manual_seed(0)):
        assert not torch.equal(_weights(net), before)
    assert torch.equal(_weights(net), before)
    with pytest.raises(RuntimeError):
        with drifted_weights(net, "lognormal", 0.5, torch.Generator().manual_seed(0)):
            raise RuntimeError("boom")
    assert torch.equal(_weights(net), before)


def test_noise_injection_gradient_is_taken_at_drifted_weights():
    """One SGD step (lr=1, no momentum) equals: clean weights - grad at the drifted weights."""
    torch.manual_seed(0)
    net, data = build_model("mlp", hidden=(8,)), _data(16)
    x, y = data.tensors
    cfg = TrainConfig(epochs=1, batch_size=16, optimizer="sgd", momentum=0.0, lr=1.0, noise_injection=0.4)
    trainer = Trainer(net, data, cfg, seed=3)
    clean = [p.detach().clone() for p in net.parameters()]
    # the same drift draw the trainer will make (its noise generator is seeded with seed + 1)
    probe = build_model("mlp", hidden=(8,))
    probe.load_state_dict(net.state_dict())
    with drifted_weights(probe, "lognormal", 0.4, torch.Generator().manual_seed(4)):
        F.cross_entropy(probe(x), y).backward()
        expected = [c - p.grad for c, p in zip(clean, probe.parameters())]
    trainer.step(x, y)
    for got, want in zip(net.parameters(), expected):
        torch.testing.assert_close(got.detach(), want)


@pytest.mark.parametrize("kw,match", [
    (dict(epochs=-1), "epochs"), (dict(lr=0.0), "lr"), (dict(optimizer="adamw"), "optimizer"),
    (dict(batch_size=0), "batch_size"), (dict(noise_drift="x"), "valid drift models are"),
])
def test_bad_config(kw, match):
    with pytest.raises(UserInputError, match=match):
        TrainConfig(**kw)


def test_checkpoint_round_trip_continues_identically():
    torch.manual_seed(0)
    a = Trainer(build_model("mlp", hidden=(16,)), _data(), TrainConfig(epochs=3, batch_size=32), seed=5)
    a.epoch()
    import io

    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)  # the trainables' checkpoint path
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    torch.manual_seed(1)
    b = Trainer(build_model("mlp", hidden=(16,)), _data(), TrainConfig(epochs=3, batch_size=32), seed=9)
    b.load_state_dict(state)
    a.epoch()
    b.epoch()
    assert torch.equal(_weights(a.model), _weights(b.model)) and b.epochs_done == 2
