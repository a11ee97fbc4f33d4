"""``bayesft-tune compare``: the table's statistics, and a tiny end-to-end run on local Ray."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayesft_tune.compare import compare_table, main, verdict
from bayesft_tune.schema import ROBUSTNESS


def _rows(curves: dict[str, list[list[float]]]) -> pd.DataFrame:
    sigmas = [0.0, 0.3, 0.6, 0.9, 1.2, 1.5]
    recs = [{"method": m, "trial_id": f"seed{s}", "split": "test", "drift": "lognormal", "sigma": sg,
             "samples": 4, "accuracy_mean": a, "accuracy_sem": 0.01, "loss_mean": 1.0}
            for m, seeds in curves.items() for s, accs in enumerate(seeds) for sg, a in zip(sigmas, accs)]
    return pd.DataFrame(recs)


def test_compare_table_means_cis_and_auc_across_seeds():
    flat = [[0.9] * 6, [0.8] * 6, [0.7] * 6]
    ramp = [[0.9, 0.8, 0.7, 0.6, 0.5, 0.4]] * 3
    table = compare_table(_rows({"erm": flat, "bayesft": ramp})).set_index("method")
    assert table.loc["erm", "clean"] == pytest.approx(0.8)
    assert table.loc["erm", "clean_ci"] == pytest.approx(stats.t.ppf(0.975, 2) * 0.1 / np.sqrt(3))
    assert table.loc["erm", "auc[0,1.5]"] == pytest.approx(0.8)  # flat curve: AUC = its level
    assert table.loc["bayesft", "auc[0,1.5]"] == pytest.approx(0.65) and table.loc["bayesft", "acc@0.9"] == 0.6
    assert table.loc["bayesft", "auc[0,1.5]_ci"] == pytest.approx(0.0)
    assert verdict(table.reset_index()).startswith("goal NOT met")
    better = compare_table(_rows({"erm": flat, "bayesft": [[0.8] * 6, [0.81] * 6, [0.8] * 6]}))
    assert verdict(better).startswith("goal MET")


def test_unknown_method_is_a_user_error(capsys):
    assert main(["--methods", "erm,dropconnect", "--out", "/tmp/unused"]) == 2
    assert "valid methods are" in capsys.readouterr().err


@pytest.mark.slow
def test_tiny_compare_runs_every_method_kind(ray_session, tmp_path, capsys):
    code = main(["--methods", "erm,reram_v,bayesft", "--seeds", "1", "--epochs", "1", "--trials", "2",
                 "--samples", "2", "--search-samples", "2", "--sigmas", "0,0.6,0.9,1.2,1.5",
                 "--out", str(tmp_path)])
    assert code == 0
    rows = pd.read_parquet(tmp_path / "robustness.parquet")
    assert list(rows.columns) == list(ROBUSTNESS) and len(rows) == 3 * 1 * 5
    assert set(rows.method) == {"erm", "reram_v", "bayesft"} and set(rows.trial_id) == {"seed0"}
    assert (rows[rows.sigma == 0].accuracy_mean > 0.5).all()
    printed = capsys.readouterr().out
    assert "| bayesft | 1 |" in printed and "goal" in printed
    assert (tmp_path / "compare.md").read_text().startswith("task mnist_mlp")
    assert len(pd.read_parquet(tmp_path / "bayesft-seed0" / "trials.parquet")) == 2  # the search ran
