"""``bayesft-tune compare``: one data split per comparison, paired statistics, a tiny end-to-end run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from bayesft_tune import load_data
from bayesft_tune.compare import SEARCH_METHODS, CompareConfig, all_methods, main
from bayesft_tune.errors import UserInputError
from bayesft_tune.paired import auc_of, paired_tests, per_seed
from bayesft_tune.schema import COMPARE_TESTS, ROBUSTNESS

SIGMAS = [0.0, 0.3, 0.6, 0.9, 1.2, 1.5]


def _rows(curves: dict[str, list[list[float]]]) -> pd.DataFrame:
    recs = [{"method": m, "trial_id": f"seed{s}", "split": "test", "drift": "lognormal", "data_seed": 0,
             "sigma": sg, "samples": 4, "accuracy_mean": a, "accuracy_sem": 0.01, "loss_mean": 1.0}
            for m, seeds in curves.items() for s, accs in enumerate(seeds) for sg, a in zip(SIGMAS, accs)]
    return pd.DataFrame(recs)


def _hashes(data) -> set[bytes]:
    return {x.numpy().tobytes() for x in data.tensors[0]}


@pytest.mark.parametrize("data_seed", range(5))
def test_test_split_shares_no_example_with_train_or_val(data_seed):
    splits = load_data("mnist_embedded", seed=data_seed)
    test = _hashes(splits.test)
    assert not test & (_hashes(splits.train) | _hashes(splits.val))
    assert len(test) == len(splits.test)


def test_every_method_of_every_seed_uses_the_comparisons_one_split():
    cfg = CompareConfig(seeds=5, data_seed=3, methods=tuple(all_methods()))
    for seed in range(5):
        for method in SEARCH_METHODS:
            search = cfg.search(method, seed)
            assert search.data_seed == 3 and search.seed == seed  # run seed never moves the split
            assert search.trial_spec().data_seed == 3
    reference = load_data("mnist_embedded", seed=3).test.tensors[0]
    assert torch.equal(load_data("mnist_embedded", seed=3).test.tensors[0], reference)


def test_paired_tests_match_scipy_and_flag_only_consistent_differences():
    base = [[0.8, 0.8, 0.7, 0.6, 0.5, 0.4], [0.82, 0.8, 0.72, 0.61, 0.5, 0.41], [0.79, 0.78, 0.7, 0.6, 0.52, 0.4],
            [0.81, 0.8, 0.7, 0.59, 0.49, 0.4], [0.8, 0.81, 0.71, 0.6, 0.5, 0.39]]
    better = [[a + 0.05 + 0.005 * i for a in curve] for i, curve in enumerate(base)]
    noisy = [[a + d for a in curve] for curve, d in zip(base, [0.04, -0.05, 0.03, -0.02, 0.0])]
    tests = paired_tests(_rows({"ref": base, "better": better, "noisy": noisy}), "ref")
    assert list(tests.columns) == list(COMPARE_TESTS)
    auc = tests[tests.metric == "auc"].set_index("method")
    diffs = [auc_of(np.array(SIGMAS), np.array(b)) - auc_of(np.array(SIGMAS), np.array(r))
             for b, r in zip(better, base)]
    assert auc.loc["better", "diff"] == pytest.approx(np.mean(diffs))
    assert auc.loc["better", "t_p_value"] == pytest.approx(stats.ttest_1samp(diffs, 0).pvalue)
    assert auc.loc["better", "wilcoxon_p_value"] == pytest.approx(stats.wilcoxon(diffs).pvalue)
    assert bool(auc.loc["better", "significant"]) and auc.loc["better", "ci_low"] > 0
    assert not bool(auc.loc["noisy", "significant"]) and auc.loc["noisy", "ci_low"] < 0 < auc.loc["noisy", "ci_high"]
    seeds = per_seed(_rows({"flat": [[0.9] * 6]}))
    assert seeds.auc.iloc[0] == pytest.approx(0.9) and seeds.clean.iloc[0] == 0.9


def test_config_rules_name_the_flag():
    with pytest.raises(UserInputError, match="--methods"):
        CompareConfig(methods=("erm", "dropconnect"))
    with pytest.raises(UserInputError, match="--sigmas"):
        CompareConfig(sigmas=(0.0, 0.9))
    with pytest.raises(UserInputError, match="--noise-sigma"):
        CompareConfig(noise_sigma=-1)


def test_unknown_method_is_a_user_error(capsys):
    assert main(["--methods", "erm,dropconnect", "--out", "/tmp/unused"]) == 2
    assert "uniform_dropout" in capsys.readouterr().err


@pytest.mark.slow
def test_tiny_compare_pairs_methods_on_one_split_with_independent_test_draws(ray_session, tmp_path, capsys):
    code = main(["--methods", "erm,uniform_dropout,reram_v,bayesft", "--seeds", "2", "--epochs", "1",
                 "--trials", "2", "--samples", "2", "--search-samples", "2", "--data-seed", "1",
                 "--out", str(tmp_path)])
    assert code == 0
    rows = pd.read_parquet(tmp_path / "robustness.parquet")
    assert list(rows.columns) == list(ROBUSTNESS) and len(rows) == 4 * 2 * 6
    assert set(rows.method) == {"erm", "uniform_dropout", "reram_v", "bayesft"}
    assert set(rows.trial_id) == {"seed0", "seed1"} and (rows.data_seed == 1).all()
    for seed in (0, 1):
        trials = pd.read_parquet(tmp_path / f"bayesft-seed{seed}" / "trials.parquet")
        assert len(trials) == 2 and (trials.data_seed == 1).all() and (trials.seed == seed).all()
    tests = pd.read_parquet(tmp_path / "compare_tests.parquet")
    assert set(tests.method) == {"erm", "uniform_dropout", "reram_v"} and (tests.n == 2).all()
    printed = capsys.readouterr().out
    assert "| bayesft | 3 x 1 |" in printed and "| uniform_dropout | 7 x 1 |" in printed
    assert (tmp_path / "compare.md").read_text().startswith("task mnist_mlp")


def test_a_comparison_of_the_reference_alone_has_an_empty_typed_test_table():
    rows = pd.DataFrame({"method": ["erm"] * 2, "trial_id": ["seed0"] * 2, "sigma": [0.0, 1.5],
                         "accuracy_mean": [0.9, 0.3]})
    tests = paired_tests(rows, "erm")
    assert tests.empty and {"method", "metric", "holm_p_value", "significant"} <= set(tests.columns)
