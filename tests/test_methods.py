"""Training methods: each does what it claims on a tiny problem."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from bayesft_tune.errors import UserInputError
from bayesft_tune.evaluation import evaluate_under_drift
from bayesft_tune.methods import (AWPTrainer, ECOCNet, MethodConfig, assign_codes, get_method,
                                  hard_decode, make_codebook, method_names, min_distance,
                                  reram_v_rounds)
from bayesft_tune.models import mlp
from bayesft_tune.training import TrainConfig, Trainer, drifted_weights


def _data(n: int = 256, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    w = torch.randn(4, 4, generator=torch.Generator().manual_seed(99))  # one labelling rule
    y = (x[:, :4] @ w).argmax(1)
    return TensorDataset(x, y)


def _build():
    return mlp(8, (16,), 4)


def test_registry_lists_every_method_and_rejects_unknown_names():
    assert method_names()[:5] == ["erm", "noise_injection", "awp", "ftna", "reram_v"]  # searches: compare
    with pytest.raises(UserInputError, match="valid methods are .*'awp'"):
        get_method("sgd")
    with pytest.raises(UserInputError, match="awp_gamma"):
        MethodConfig(awp_gamma=0.0)


def _sgd(lr: float = 0.1) -> TrainConfig:
    return TrainConfig(epochs=1, lr=lr, optimizer="sgd", momentum=0.0)


def test_awp_takes_gradient_at_perturbed_weights_and_restores_them():
    torch.manual_seed(0)
    model, (x, y), gamma, lr = _build(), _data()[:32], 0.05, 0.1
    manual = copy.deepcopy(model)
    AWPTrainer(model, _data(), _sgd(lr), gamma=gamma).step(x, y)
    F.cross_entropy(manual(x), y).backward()  # clean gradient -> layer-wise ascent direction
    clean = {n: p.detach().clone() for n, p in manual.named_parameters()}
    v = {n: gamma * p.norm() * p.grad / p.grad.norm() if p.dim() > 1 else torch.zeros_like(p)
         for n, p in manual.named_parameters()}
    manual.zero_grad()
    with torch.no_grad():
        for n, p in manual.named_parameters():
            p.add_(v[n])
    F.cross_entropy(manual(x), y).backward()
    for n, p in model.named_parameters():
        expected = clean[n] - lr * dict(manual.named_parameters())[n].grad
        torch.testing.assert_close(p.detach(), expected)
        if p.dim() > 1:  # the public code's bug (no restore) would have left w + v in place
            assert not torch.allclose(p.detach(), expected + v[n])


def test_noise_injection_gradient_at_drifted_weights_clean_weights_restored():
    torch.manual_seed(0)
    model, (x, y), lr = _build(), _data()[:32], 0.1
    manual, clean = copy.deepcopy(model), copy.deepcopy(model)
    cfg = TrainConfig(epochs=1, lr=lr, optimizer="sgd", momentum=0.0, noise_injection=0.5)
    Trainer(model, _data(), cfg, seed=3).step(x, y)
    with drifted_weights(manual, "lognormal", 0.5, torch.Generator().manual_seed(4)):
        assert not torch.equal(manual.fc1.weight, clean.fc1.weight)  # forward runs drifted
        F.cross_entropy(manual(x), y).backward()
    F.cross_entropy(clean(x), y).backward()
    for (n, p), (_, m), (_, c) in zip(model.named_parameters(), manual.named_parameters(),
                                      clean.named_parameters()):
        torch.testing.assert_close(m.detach(), c.detach())  # restored exactly
        torch.testing.assert_close(p.detach(), c.detach() - lr * m.grad)  # drifted gradient used
        assert not torch.allclose(m.grad, c.grad)


def test_ftna_codebook_distance_and_nearest_codeword_decoding():
    codes = make_codebook(10, 15, 5, seed=1)
    assert codes.shape == (10, 15) and min_distance(codes) >= 5
    with pytest.raises(UserInputError, match="ftna_distance"):
        make_codebook(10, 6, 6, attempts=200)
    corrupted = codes.clone()
    corrupted[:, :2] = 1 - corrupted[:, :2]  # 2 bit errors < h/2: still decodable
    assert hard_decode(corrupted, codes).tolist() == list(range(10))
    net = ECOCNet(torch.nn.Identity(), codes)
    scores = net(20 * (corrupted - 0.5))  # saturated bit logits
    assert scores.shape == (10, 10) and scores.argmax(1).tolist() == list(range(10))


def test_ftna_gives_often_confused_classes_distant_codes():
    codes = make_codebook(6, 15, 3, seed=0)
    confusion = torch.eye(6, dtype=torch.long) * 50
    confusion[2, 4] = confusion[4, 2] = 40  # 2 and 4 are confused all the time
    assigned = assign_codes(codes, confusion)
    dist = torch.cdist(assigned, assigned, p=1)
    assert dist[2, 4] == torch.cdist(codes, codes, p=1).max()
    assert sorted(map(tuple, assigned.tolist())) == sorted(map(tuple, codes.tolist()))


def test_ftna_trains_and_is_scored_under_drift():
    data = _data(512)
    cfg = MethodConfig(epochs=8, lr=1e-2, ftna_bits=7, ftna_distance=3)
    model = get_method("ftna").fit(_build, data, _data(128, seed=1), cfg, seed=0)
    assert isinstance(model, ECOCNet) and model.body.fc2.out_features == 7
    frame = evaluate_under_drift(model, _data(256, seed=2), [0.0, 0.5], samples=2)
    clean = frame[frame.sigma == 0].accuracy.iloc[0]
    assert clean > 0.6 and frame.loss.notna().all()  # 4 classes: chance is ~0.25


def test_reram_v_freezes_chosen_weights_and_retrains_the_rest_with_nonzero_lr():
    data, val = _data(512), _data(128, seed=1)
    cfg = MethodConfig(epochs=2, lr=1e-2, reram_fraction=0.1, reram_scale=0.5, reram_max_rounds=3,
                       reram_tol=0.0)
    model = get_method("erm").fit(_build, data, val, cfg, seed=0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    result = reram_v_rounds(model, data, val, cfg, seed=0)
    assert len(result.lrs) == len(result.accuracies) == 3 and all(lr > 0 for lr in result.lrs)
    frozen = sum(int(m.sum()) for m in result.masks.values())
    total = sum(p.numel() for p in model.parameters())
    assert frozen >= 3 * int(0.1 * total)
    for n, p in model.named_parameters():
        m = result.masks[n]
        torch.testing.assert_close(p.detach()[m], result.frozen_values[n][m], rtol=0, atol=0)
        moved = (p.detach() != before[n])[~m]
        assert moved.float().mean() > 0.5  # the unfrozen weights were retrained
    w = result.frozen_values["fc1.weight"][result.masks["fc1.weight"]]
    assert w.abs().max() <= before["fc1.weight"].abs().max()
