"""Tests of analysis.tables and analysis.figures on small fabricated runs (``tests/fabricated_runs.py``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from scipy import stats

from analysis import (Objective, accuracy_at, auc, best_trials, convergence, difference_vs,
                      load_run, load_runs, objective_of, plot_convergence, plot_decision_boundaries,
                      plot_dropout_rates, plot_robustness, robustness_curves)
from analysis.figures import _draw_group, robust_limits
from bayesft_tune.errors import UserInputError
from bayesft_tune.schema import HISTORY, ROBUSTNESS, SCHEMA_VERSION, TRIALS

from fabricated_runs import SIGMAS, T, accuracy_trials, fabricate_run, fabricate_trials, is_png, with_objective, write_raw


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    fabricate_run(tmp_path / "run")
    return tmp_path / "run"


# ---------------------------------------------------------------- loading
def test_load_run_types_and_optional_tables(run_dir: Path, tmp_path: Path) -> None:
    run = load_run(run_dir)
    assert list(run.trials.columns[:len(TRIALS)]) == list(TRIALS)
    assert run.trials["dropout_fc1"].dtype == "float64" and str(run.trials["trial_index"].dtype) == "Int64"
    assert len(run.history) == 14 and list(run.history.columns) == list(HISTORY)
    assert len(run.robustness) == 12
    bare = fabricate_run(tmp_path / "bare", robustness=False)
    empty = load_run(bare).robustness
    assert empty.empty and list(empty.columns) == list(ROBUSTNESS)


def test_load_run_file_uri(run_dir: Path) -> None:
    run = load_run(run_dir.resolve().as_uri())
    assert run.trials["trial_id"].tolist() == [f"t{i}" for i in range(7)]


def test_missing_trials_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"trials\.parquet.*does not exist"):
        load_run(tmp_path / "nowhere")


def test_corrupt_trials_names_the_file(run_dir: Path) -> None:
    (run_dir / "trials.parquet").write_bytes(b"this is not parquet at all" * 10)
    with pytest.raises(UserInputError) as err:
        load_run(run_dir)
    msg = str(err.value)
    assert str(run_dir / "trials.parquet") in msg and "corrupt" in msg


def test_load_runs_adds_run_column(tmp_path: Path) -> None:
    a, b = fabricate_run(tmp_path / "bo"), fabricate_run(tmp_path / "random", offset=0.2)
    runs = load_runs([a, b])
    assert runs.trials.columns[0] == "run" and set(runs.trials["run"]) == {"bo", "random"}
    assert len(runs.robustness) == 24
    with pytest.raises(UserInputError, match="unique"):
        load_runs([a, b], names=["x", "x"])


# ---------------------------------------------------------------- tables
def test_best_trials(run_dir: Path) -> None:
    top = best_trials(load_run(run_dir).trials, k=3)
    assert top["trial_id"].tolist() == ["t3", "t5", "t1"]
    assert top["dropout_fc1"].tolist() == pytest.approx([0.15, 0.25, 0.05])
    with pytest.raises(UserInputError, match="k"):
        best_trials(top, k=0)


def test_missing_status_or_index_is_skipped(run_dir: Path) -> None:
    trials = load_run(run_dir).trials
    trials.loc[trials["trial_id"] == "t3", "status"] = pd.NA
    trials.loc[trials["trial_id"] == "t5", "trial_index"] = pd.NA
    assert best_trials(trials, k=2)["trial_id"].tolist() == ["t5", "t1"]
    assert convergence(trials)["trial_id"].tolist() == ["t0", "t1", "t2"]


def test_convergence_best_so_far(run_dir: Path) -> None:
    conv = convergence(load_run(run_dir).trials)
    assert conv["trial_index"].tolist() == [0, 1, 2, 3, 5]
    assert conv["trial_number"].tolist() == [1, 2, 3, 4, 5]
    assert conv["best_so_far"].tolist() == pytest.approx([0.9, 0.7, 0.7, 0.5, 0.5])


def test_convergence_per_run(tmp_path: Path) -> None:
    runs = load_runs([fabricate_run(tmp_path / "bo"), fabricate_run(tmp_path / "random", offset=0.2)])
    conv = convergence(runs.trials)
    rnd = conv[conv["run"] == "random"]
    assert rnd["best_so_far"].tolist() == pytest.approx([1.1, 0.9, 0.9, 0.7, 0.7])
    with pytest.raises(UserInputError, match="searcher"):
        convergence(runs.trials, by="searcher")


# ---------------------------------------------------------------- objective direction
def test_objective_defaults_to_min_drifted_loss() -> None:
    assert objective_of(fabricate_trials()) == Objective("drifted_loss", "min")
    nulls = with_objective(fabricate_trials(), None, None)  # columns present, values missing
    assert objective_of(nulls) == Objective("drifted_loss", "min")
    acc = objective_of(accuracy_trials())
    assert (acc.minimize, acc.label, acc.better) == (False, "grid accuracy (fraction)", "higher is better")


def test_objective_rejects_bad_or_mixed_direction() -> None:
    with pytest.raises(UserInputError, match="'min' or 'max'.*upward"):
        objective_of(with_objective(fabricate_trials(), "drifted_loss", "upward"))
    mixed = pd.concat([fabricate_trials(), accuracy_trials()])  # NA rows mean min
    with pytest.raises(UserInputError, match="one objective"):
        best_trials(mixed)


def test_best_trials_and_convergence_maximise() -> None:
    trials = accuracy_trials()  # objectives 0.1, 0.3, 0.2, 0.5, -, 0.4 (t6 running)
    assert best_trials(trials, k=3)["trial_id"].tolist() == ["t3", "t5", "t1"]
    conv = convergence(trials)
    assert conv["best_so_far"].tolist() == pytest.approx([0.1, 0.3, 0.3, 0.5, 0.5])
    assert set(conv["objective_direction"]) == {"max"}


def test_load_run_with_and_without_objective_columns(tmp_path: Path) -> None:
    write_raw(accuracy_trials(), tmp_path / "new", "trials")
    new = load_run(tmp_path / "new").trials
    assert objective_of(new) == Objective("grid_accuracy", "max")
    assert best_trials(new, 1)["trial_id"].tolist() == ["t3"]
    write_raw(fabricate_trials(), tmp_path / "v1", "trials", version=1)  # a schema-1 table
    assert objective_of(load_run(tmp_path / "v1").trials) == Objective()


def test_newer_schema_version_is_rejected(tmp_path: Path) -> None:
    write_raw(fabricate_trials(), tmp_path / "future", "trials", version=SCHEMA_VERSION + 1)
    with pytest.raises(UserInputError, match="upgrade bayesft-tune"):
        load_run(tmp_path / "future")


def test_plot_convergence_maximise(tmp_path: Path) -> None:
    info = plot_convergence(accuracy_trials(), tmp_path / "conv.png")
    assert info.ylabel == "grid accuracy (fraction), higher is better"
    assert "higher is better" in info.titles[0] and "best: t3 (0.5)" in info.legend
    drop = plot_dropout_rates(accuracy_trials(), tmp_path / "drop.png", k=2)
    assert "highest grid accuracy" in drop.titles[0] and drop.legend[1] == "#1 t3 (0.5)"


def test_robustness_curves_use_table_ci(run_dir: Path) -> None:
    curves = robustness_curves(load_run(run_dir).robustness)
    erm = curves[curves["method"] == "erm"]
    q = stats.t.ppf(0.975, T - 1)
    assert erm["sigma"].tolist() == SIGMAS
    assert erm["accuracy_ci_high"].iloc[1] == pytest.approx(0.90 + q * 0.02)
    dup = pd.concat([load_run(run_dir).robustness] * 2)
    with pytest.raises(UserInputError, match="one row per"):
        robustness_curves(dup)


def test_auc_hand_computed(run_dir: Path) -> None:
    rob = load_run(run_dir).robustness
    area = auc(rob).set_index("method")["auc"]
    # trapezoid, h = 0.3, divided by the range width 1.5
    assert area["bayesft"] == pytest.approx(0.3 * (0.95 / 2 + 0.94 + 0.92 + 0.88 + 0.80 + 0.70 / 2) / 1.5)
    assert area["erm"] == pytest.approx(0.706)
    # range ends between grid points are linearly interpolated: 0.945, 0.94, 0.93
    part = auc(rob, sigma_range=(0.15, 0.45)).set_index("method")["auc"]
    assert part["bayesft"] == pytest.approx(0.15 * ((0.945 + 0.94) / 2 + (0.94 + 0.93) / 2) / 0.3)
    assert auc(rob, sigma_range=(0, 2.0))["auc"].isna().all()  # grid does not reach 2.0


def test_auc_flat_curve_equals_level() -> None:
    flat = pd.DataFrame({"method": "m", "sigma": [0.0, 0.2, 1.1, 1.5], "accuracy_mean": 0.73})
    assert auc(flat)["auc"].iloc[0] == pytest.approx(0.73)
    with pytest.raises(UserInputError, match="sigma_range"):
        auc(flat, sigma_range=(1.0, 0.5))


def test_accuracy_at(run_dir: Path) -> None:
    at = accuracy_at(load_run(run_dir).robustness, [0.6, 0.7])
    bft = at[at["method"] == "bayesft"].set_index("sigma")
    assert bft.loc[0.6, "accuracy_mean"] == pytest.approx(0.92)
    assert np.isnan(bft.loc[0.7, "accuracy_mean"])  # not measured: no interpolation


def test_difference_vs_welch_and_normal(run_dir: Path) -> None:
    rob = load_run(run_dir).robustness
    d = difference_vs(rob, "erm").set_index("sigma")
    assert set(d["method"]) == {"bayesft"}
    row = d.loc[0.9]
    se = math.sqrt(0.01**2 + 0.02**2)
    dof = se**4 / ((0.01**4 + 0.02**4) / (T - 1))
    half = stats.t.ppf(0.975, dof) * se
    assert row["diff"] == pytest.approx(0.23)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.23 - half, 0.23 + half))
    assert d.loc[0.0, "ci_low"] == pytest.approx(-0.01)  # both SEMs 0: a point
    one = rob.assign(samples=1)
    row1 = difference_vs(one, "erm").set_index("sigma").loc[0.9]
    assert row1["ci_high"] - row1["diff"] == pytest.approx(1.959964 * se, rel=1e-5)
    with pytest.raises(UserInputError, match="baseline"):
        difference_vs(rob, "sgd")


# ---------------------------------------------------------------- figures
def test_plot_robustness(run_dir: Path, tmp_path: Path) -> None:
    info = plot_robustness(load_run(run_dir).robustness, tmp_path / "fig" / "rob.png")
    assert is_png(info.path)
    assert (info.xlabel, info.ylabel, info.n_series) == ("σ (drift)", "accuracy", 2)
    assert info.titles == ("Accuracy under lognormal weight drift (test split)",)
    for part in ("95 % CI of that mean", "T = 16 Monte Carlo drift draws", "one trained network",
                 "test split", "log-normal drift θ' = θ·exp(λ)"):
        assert part in info.caption
    rob = load_run(run_dir).robustness
    mixed_t = rob.assign(samples=np.where(rob["method"] == "erm", 32, 16), drift="gaussian")
    info2 = plot_robustness(mixed_t, tmp_path / "rob2.png", title="")
    assert info2.titles == () and "T = 16–32" in info2.caption and "additive Gaussian" in info2.caption
    with pytest.raises(UserInputError, match="robustness row"):
        plot_robustness(load_run(run_dir).robustness.iloc[:0], tmp_path / "x.png")


def test_plot_convergence_bo_vs_random(tmp_path: Path) -> None:
    runs = load_runs([fabricate_run(tmp_path / "bo"), fabricate_run(tmp_path / "random", offset=0.2)])
    info = plot_convergence(runs.trials, tmp_path / "conv.png")
    assert is_png(info.path) and info.n_series == 2 and info.xlabel.startswith("trial index")
    assert {"bo: trials (mean ± SEM)", "bo: best so far", "random: best so far"} <= set(info.legend)
    info1 = plot_convergence(convergence(load_run(tmp_path / "bo").trials), tmp_path / "conv1.png")
    assert info1.n_series == 1 and info1.ylabel == "drifted loss (nats), lower is better"
    assert info1.legend[:3] == ("trials (mean ± SEM)", "best so far", "best: t3 (0.5)")
    # x is the 0-based trial_index (0..5, index 4 failed), not a 1-based count
    assert info1.xlim[0] < 0 < 5 < info1.xlim[1] < 6


def test_plot_convergence_clips_outlier(run_dir: Path, tmp_path: Path) -> None:
    trials = load_run(run_dir).trials
    trials.loc[trials["trial_id"] == "t2", "objective_mean"] = 50.0  # one diverged trial
    info = plot_convergence(trials, tmp_path / "conv.png")
    lo, hi = info.ylim
    assert hi < 2 and lo < 0.5  # 50 does not squash the range; the best (0.5) is inside
    assert info.n_clipped == 1 and info.legend[-1].startswith("1 trial off scale")
    assert plot_convergence(load_run(run_dir).trials, tmp_path / "c2.png").n_clipped == 0


def test_robust_limits() -> None:
    rng = np.random.default_rng(0)
    bulk = rng.normal(1.0, 0.1, 40)
    lo, hi = robust_limits(np.append(bulk, 1e3))
    assert lo < bulk.min() and bulk.max() < hi < 2
    assert robust_limits(np.append(bulk, 1e3), keep=[1e3])[1] > 1e3  # kept values stay visible
    assert robust_limits(np.array([1.0, 100.0]))[1] > 100  # too few points: no clipping
    assert robust_limits(np.array([2.0] * 6)) == pytest.approx((1.9, 2.1))


def test_convergence_error_bars_are_sem(run_dir: Path) -> None:
    conv = convergence(load_run(run_dir).trials).assign(objective_sem=[0.01, 0.02, 0.03, 0.04, 0.05])
    ax = Figure().add_subplot()
    clipped = _draw_group(ax, conv, "", (0.0, 1.0), "C0", Objective())
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert clipped == 0 and len(bars) == 1 and bars[0].has_yerr
    segments = bars[0].lines[2][0].get_segments()
    assert [s[1][1] - s[0][1] for s in segments] == pytest.approx([0.02, 0.04, 0.06, 0.08, 0.1])
    assert [s[0][0] for s in segments] == [0, 1, 2, 3, 5]  # at each trial_index


def test_plot_dropout_rates(run_dir: Path, tmp_path: Path) -> None:
    trials = load_run(run_dir).trials
    info = plot_dropout_rates(trials, tmp_path / "drop.png", k=3)
    assert is_png(info.path)
    assert (info.xlabel, info.ylabel, info.n_series) == ("dropout slot", "dropout rate", 3)
    assert info.legend[0] == "search bounds [0, 0.8] (grey: outside)"  # the default bounds
    assert info.legend[1] == "#1 t3 (0.5)"
    custom = plot_dropout_rates(trials, tmp_path / "drop2.png", k=3, bounds=(0.1, 0.6))
    assert custom.legend[0] == "search bounds [0.1, 0.6] (grey: outside)"
    none = plot_dropout_rates(trials, tmp_path / "drop3.png", k=3, bounds=None)
    assert not any("bounds" in e for e in none.legend)
    with pytest.raises(UserInputError, match="bounds must satisfy"):
        plot_dropout_rates(trials, tmp_path / "bad.png", bounds=(0.8, 0.2))


def test_plot_decision_boundaries(tmp_path: Path) -> None:
    info = plot_decision_boundaries(tmp_path / "fig1.png", sigmas=(0, 0.6), seed=0)
    assert is_png(info.path) and info.n_series == 2
    assert "P(class 1)" in info.ylabels  # the colour bar
    assert info.legend[:2] == ("class 0 (test point)", "class 1 (test point)")
    assert info.titles[0].startswith("σ = 0,") and "accuracy" in info.titles[1]
    acc0 = float(info.titles[0].rsplit(" ", 1)[1])
    assert acc0 > 0.8  # the clean model learned the moons
    with pytest.raises(UserInputError, match="sigma"):
        plot_decision_boundaries(tmp_path / "bad.png", sigmas=(-1,))


def test_auc_rejects_mixed_drift_models(run_dir: Path) -> None:
    rob = load_run(run_dir).robustness
    mixed = pd.concat([rob, rob.assign(drift="gaussian")])
    with pytest.raises(UserInputError, match="one drift model"):
        auc(mixed)
