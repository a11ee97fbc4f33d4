"""The §III.A ablation: MLP variants, Welch's t-test, and a tiny Ray Tune grid end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from bayesft_tune.ablation import (AblationConfig, AblationVariant, build_ablation_mlp, default_variants, main,
                                   significance)
from bayesft_tune.errors import UserInputError
from bayesft_tune.schema import ABLATION, ABLATION_TESTS


def test_every_default_variant_builds_the_network_it_names():
    variants = default_variants()
    assert len(variants) == 18 and variants[0].variant == "reference"
    x = torch.randn(4, 1, 28, 28)
    for v in variants:
        net = build_ablation_mlp(v).train()
        assert net(x).shape == (4, 10)
        linears = [m for m in net if isinstance(m, torch.nn.Linear)]
        assert len(linears) == v.depth
        kinds = {type(m).__name__ for m in net}
        if v.dropout == "alpha":
            assert "AlphaDropout" in kinds and "Dropout" not in kinds
        if v.norm == "batch":
            assert "BatchNorm1d" in kinds
    assert [m.out_features for m in build_ablation_mlp(AblationVariant()) if isinstance(m, torch.nn.Linear)] \
        == [192, 32, 10]
    with pytest.raises(UserInputError, match="activation"):
        AblationVariant(activation="swish")


def _rows(values: dict[str, list[float]]) -> pd.DataFrame:
    recs = [{"factor": "reference" if v == "reference" else "x", "variant": v, "seed": s, "sigma": 0.9,
             "accuracy_mean": a, "auc": a} for v, accs in values.items() for s, a in enumerate(accs)]
    return pd.DataFrame(recs)


def test_welch_t_test_marks_only_real_differences():
    rows = _rows({"reference": [0.50, 0.52, 0.48], "better": [0.80, 0.82, 0.79], "same": [0.51, 0.47, 0.50]})
    tests = significance(rows, metrics=("auc", "accuracy@0.9")).set_index(["metric", "variant"])
    t, p = stats.ttest_ind([0.80, 0.82, 0.79], [0.50, 0.52, 0.48], equal_var=False)
    assert tests.loc[("auc", "better"), "p_value"] == pytest.approx(p)
    assert tests.loc[("auc", "better"), "t_stat"] == pytest.approx(t)
    assert bool(tests.loc[("auc", "better"), "significant"]) and not bool(tests.loc[("auc", "same"), "significant"])
    assert tests.loc[("accuracy@0.9", "better"), "diff"] == pytest.approx(np.mean([0.8, 0.82, 0.79]) - 0.5)
    with pytest.raises(UserInputError, match="reference"):
        significance(rows[rows.variant != "reference"])


@pytest.mark.slow
def test_tiny_ablation_grid_writes_tables(ray_session, tmp_path, capsys):
    code = main(["--seeds", "2", "--epochs", "1", "--samples", "2", "--sigmas", "0,0.9",
                 "--only", "dropout_0.5,batch_norm", "--out", str(tmp_path)])
    assert code == 0
    rows = pd.read_parquet(tmp_path / "ablation.parquet")
    tests = pd.read_parquet(tmp_path / "ablation_tests.parquet")
    assert list(rows.columns) == list(ABLATION) and list(tests.columns) == list(ABLATION_TESTS)
    assert len(rows) == 3 * 2 * 2 and set(rows.variant) == {"reference", "dropout_0.5", "batch_norm"}
    assert rows.groupby("variant").seed.nunique().eq(2).all() and rows.trial_id.nunique() == 6
    assert rows.accuracy_mean.between(0, 1).all() and (rows[rows.sigma == 0].accuracy_mean > 0.5).all()
    assert len(tests) == 2 * 2 and tests.p_value.between(0, 1).all()
    assert "Welch" in capsys.readouterr().out


def test_unknown_variant_is_a_user_error(capsys):
    assert main(["--only", "depth_9", "--out", "/tmp/unused"]) == 2
    assert "valid are" in capsys.readouterr().err


def test_ablation_config_is_validated_in_one_place():
    cfg = AblationConfig(rates=(0.5,), only=("dropout_0.5",))
    assert [v.variant for v in cfg.variants()] == ["reference", "dropout_0.5"]
    for bad, match in [({"seeds": 0}, "ablation needs --seeds >= 1 .*got 0. Fix --seeds"),
                       ({"rates": (1.5,)}, "--rates rates in \\[0, 1\\); got \\(1.5,\\)"),
                       ({"sigmas": (-1.0,)}, "--sigmas finite σ values >= 0"), ({"alpha": 2.0}, "--alpha in \\(0, 1\\)"),
                       ({"only": ("nope",)}, "unknown ablation variants \\['nope'\\]")]:
        with pytest.raises(UserInputError, match=match):
            AblationConfig(**bad)
