"""The bayesft-tune command line: evaluate end to end, and clear errors for bad input."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from bayesft_tune.cli import main
from bayesft_tune.errors import UserInputError
from bayesft_tune.search.config import SearchConfig


def test_evaluate_prints_falling_accuracy_and_writes_parquet(tmp_path, capsys):
    out = tmp_path / "r.parquet"
    ckpt = tmp_path / "m.pt"
    rc = main(["evaluate", "--model", "mlp", "--dropout", "0.5,0.5", "--epochs", "3", "--samples", "8",
               "--out", str(out), "--save", str(ckpt)])
    assert rc == 0
    table = pd.read_parquet(out)
    assert list(table.sigma) == [0.0, 0.3, 0.6, 0.9, 1.2, 1.5]
    acc = table.accuracy_mean.values
    assert acc[0] > 0.8 and acc[-1] < acc[0] - 0.2
    assert "0.9" in capsys.readouterr().out
    state = torch.load(ckpt, weights_only=True)
    assert state["rates"] == [0.5, 0.5]
    rc = main(["evaluate", "--checkpoint", str(ckpt), "--samples", "8", "--out", str(tmp_path / "b.parquet")])
    again = pd.read_parquet(tmp_path / "b.parquet")
    assert rc == 0 and again.accuracy_mean.iloc[0] == pytest.approx(acc[0])


def test_evaluate_bad_dropout_is_a_clear_error(tmp_path, capsys):
    rc = main(["evaluate", "--dropout", "0.5,1.5", "--out", str(tmp_path / "x.parquet")])
    assert rc == 2
    assert "0 <= p < 1" in capsys.readouterr().err


@pytest.mark.parametrize("flags,match", [
    (["--trials", "0"], "trials must be an integer >= 1"),
    (["--bounds", "0.5,0.2"], "0 <= low < high < 1"),
    (["--task", "imagenet"], "registered tasks are"),
    (["--gpus-per-trial", "1.5"], "gpus_per_trial"),
    (["--drift", "nope"], "registered drift models"),
])
def test_search_flags_validated_before_ray_starts(flags, match, capsys):
    assert main(["search", *flags]) == 2
    assert match in capsys.readouterr().err


def test_yaml_config_with_flag_override(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("task: mnist_lenet5\ntrials: 12\nbounds: [0.1, 0.6]\n")
    cfg = SearchConfig.from_yaml(str(path), trials=5)
    assert (cfg.task, cfg.trials, cfg.bounds) == ("mnist_lenet5", 5, (0.1, 0.6))
    path.write_text("trails: 12\n")
    with pytest.raises(UserInputError, match="unknown search settings \\['trails'\\]"):
        SearchConfig.from_yaml(str(path))


def test_resume_rejects_other_settings(tmp_path, capsys):
    assert main(["search", "--resume", str(tmp_path), "--trials", "5"]) == 2
    assert "--resume continues a search" in capsys.readouterr().err


def test_resume_of_a_non_run_dir_is_a_clear_error(tmp_path, capsys):
    assert main(["search", "--resume", str(tmp_path)]) == 2
    assert "not a search run directory" in capsys.readouterr().err
