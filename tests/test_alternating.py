"""Algorithm 1 as written: one network, θ and α in turn, α by a GP on u(α_i, θ_t) re-scored each round."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from bayesft_tune.dropout import add_dropout
from bayesft_tune.search.alternating import drifted_loss_with_dropout, run_alternating
from bayesft_tune.tasks import get_task


def _small(splits, n):
    return TensorDataset(*(t[:n] for t in splits.train.tensors)), TensorDataset(*(t[:200] for t in splits.val.tensors))


def test_rounds_share_one_network_and_return_the_best_rescored_rates():
    task = get_task("mnist_mlp")
    train, val = _small(task.splits(seed=0), 600)
    result = run_alternating(task.build, train, val, slots=task.slots(), bounds=(0.0, 0.8), rounds=3,
                             epochs_per_round=1, batch_size=64, lr=1e-3, drift="lognormal", level=0.9, noise=0.9,
                             samples=2, seed=0)
    assert list(result.rounds["round"]) == [0, 1, 2] and list(result.rounds.epochs) == [1, 2, 3]  # one network
    tried = [tuple(r) for r in result.rounds[["dropout_fc1", "dropout_fc2"]].itertuples(index=False)]
    assert result.rates in tried and len(set(tried)) == 3
    u = {}
    for rates in tried:  # re-scored at the final θ, the returned rates are the best
        u[rates] = drifted_loss_with_dropout(add_dropout(result.model, list(rates)), val, "lognormal", 0.9, 2, 1)
    assert min(u, key=u.get) == result.rates


def test_u_depends_on_the_rates_and_repeats_with_its_seed():
    task = get_task("mnist_mlp")
    torch.manual_seed(0)
    net, val = task.build(), TensorDataset(*(t[:200] for t in task.splits(seed=0).val.tensors))
    low = drifted_loss_with_dropout(add_dropout(net, [0.0, 0.0]), val, "lognormal", 0.5, 3, 7)
    high = drifted_loss_with_dropout(add_dropout(net, [0.7, 0.7]), val, "lognormal", 0.5, 3, 7)
    assert low == drifted_loss_with_dropout(add_dropout(net, [0.0, 0.0]), val, "lognormal", 0.5, 3, 7)
    assert low != high


def test_search_mode_alternating_leaves_a_run_directory_like_any_search(tmp_path, capsys):
    import pandas as pd

    from bayesft_tune.cli import main

    argv = ["search", "--mode", "alternating", "--space", "dropout", "--trials", "3", "--epochs", "1", "--samples", "2",
            "--robustness-samples", "2", "--robustness-sigmas", "0,0.9", "--storage-path", str(tmp_path), "--name", "alg1"]
    assert main(argv) == 0
    assert "returned network: trial round0" in capsys.readouterr().out
    run = tmp_path / "alg1"
    trials = pd.read_parquet(run / "trials.parquet")
    assert list(trials.trial_id) == ["round000", "round001", "round002"] and list(trials.epochs) == [1, 2, 3]
    assert set(pd.read_parquet(run / "robustness.parquet").method) == {"bayesft", "erm"}
    assert pd.read_parquet(run / "selection.parquet").chosen.sum() == 1
    assert main(["search", "--mode", "alternating", "--storage-path", str(tmp_path), "--name", "x"]) == 2
    assert "'alternating' only with --space dropout" in capsys.readouterr().err
