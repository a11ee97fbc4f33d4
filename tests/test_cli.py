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
    (["--task", "imagenet"], "valid tasks are"),
    (["--gpus-per-trial", "1.5"], "gpus_per_trial"),
    (["--drift", "nope"], "valid drift models are"),
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


# ---- one error path: --debug, errors from Ray workers, Ctrl-C ------------------------------
def test_debug_flag_shows_the_traceback_before_or_after_the_command(capsys, monkeypatch):
    import os

    monkeypatch.delenv("BAYESFT_DEBUG", raising=False)
    for argv in (["--debug", "search", "--trials", "0"], ["search", "--trials", "0", "--debug"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback" in err and err.rstrip().splitlines()[-1].startswith("bayesft-tune search: error: ")
        assert "BAYESFT_DEBUG" not in os.environ, "the flag applies to one command only"
    assert main(["search", "--trials", "0"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def _ray_wrapped(message: str) -> BaseException:
    from ray.exceptions import RayTaskError

    cause = UserInputError(message)
    return RayTaskError("robustness_job", "Traceback (most recent call last):\n  ...\n"
                        f"bayesft_tune.errors.UserInputError: {message}", cause).as_instanceof_cause()


@pytest.mark.parametrize("wrap", ["ray_task", "tune_chain", "text_only"])
def test_errors_from_ray_workers_are_unwrapped_to_one_line(wrap, capsys, monkeypatch):
    import bayesft_tune.search.runner as runner
    from ray.tune.error import TuneError

    message = "dropout rate must satisfy 0 <= p < 1; got p=1.2.\nPass a rate in [0, 1)."

    def fail(cfg):
        inner = _ray_wrapped(message)
        if wrap == "ray_task":
            raise inner
        if wrap == "tune_chain":
            raise TuneError("trials did not complete") from inner
        raise RuntimeError(f"1 trial(s) failed, e.g. \x1b[31mbayesft_tune.errors.UserInputError: {message}\x1b[0m")

    monkeypatch.setattr(runner, "run_search", fail)
    assert main(["search", "--trials", "2"]) == 2
    err = capsys.readouterr().err.replace("bayesft-tune search: starting (loading torch, Ax and Ray)\n", "")
    assert err == ("bayesft-tune search: error: dropout rate must satisfy 0 <= p < 1; got p=1.2."
                   + (" Pass a rate in [0, 1).\n" if wrap != "text_only" else "\n"))


def test_other_errors_keep_their_traceback(monkeypatch):
    import bayesft_tune.search.runner as runner

    monkeypatch.setattr(runner, "run_search", lambda cfg: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        main(["search", "--trials", "2"])


def test_evaluate_writes_under_runs_by_default_and_refuses_run_tables(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--epochs", "1", "--samples", "2", "--sigmas", "0,0.9"]) == 0
    written = list(tmp_path.glob("runs/evaluate-*/robustness.parquet"))
    assert len(written) == 1 and [p.name for p in tmp_path.iterdir()] == ["runs"]
    assert list(pd.read_parquet(written[0]).sigma) == [0.0, 0.9]
    capsys.readouterr()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "search_config.json").write_text("{}")
    assert main(["evaluate", "--out", "run/robustness.parquet"]) == 2
    assert "must not write into a search run directory" in capsys.readouterr().err


def test_checkpoint_of_another_model_names_keys_and_shapes(tmp_path, capsys):
    from bayesft_tune import add_dropout, build_model

    net = add_dropout(build_model("lenet5"), [0.1] * 4)
    torch.save({"model": "lenet5", "rates": [0.1] * 4, "state_dict": net.state_dict()}, tmp_path / "l.pt")
    assert main(["evaluate", "--model", "mlp", "--checkpoint", str(tmp_path / "l.pt")]) == 2
    err = capsys.readouterr().err
    assert "keys/shapes do not match" in err and "got 4 rates" not in err and "'lenet5'" in err


# ---- accuracy intervals stay inside [0, 1] ----------------------------------------------------
def test_accuracy_intervals_stay_in_unit_interval_and_contain_the_mean():
    import numpy as np

    from bayesft_tune.drift_summary import summarize_drift

    rng = np.random.default_rng(0)
    frames = [pd.DataFrame({"sigma": [1.5, 1.5], "sample": [0, 1], "loss": [2.0, 3.0],
                            "accuracy": [0.0, 0.376]})]  # plain t: 0.188 [-2.20, 2.58]
    for _ in range(200):
        t, p = int(rng.integers(2, 40)), rng.uniform(0, 1)
        acc = np.clip(rng.normal(p, rng.uniform(0, 0.5), t), 0, 1).round(3)
        frames.append(pd.DataFrame({"sigma": 0.9, "sample": range(t), "loss": rng.normal(1, 1, t),
                                    "accuracy": acc}))
    for frame in frames:
        s = summarize_drift(frame).iloc[0]
        assert 0 <= s.accuracy_ci_low <= s.accuracy_mean <= s.accuracy_ci_high <= 1, s
        half = s.loss_ci_high - s.loss_mean
        assert s.loss_mean - s.loss_ci_low == pytest.approx(half), "loss keeps the symmetric t-interval"


def test_narrow_accuracy_interval_matches_the_t_interval():
    from scipy import stats

    from bayesft_tune.drift_summary import summarize_drift

    acc = [0.80, 0.81, 0.79, 0.80, 0.82, 0.78, 0.80, 0.80]
    s = summarize_drift(pd.DataFrame({"sigma": 0.6, "sample": range(8), "loss": 1.0, "accuracy": acc})).iloc[0]
    half = stats.t.ppf(0.975, 7) * pd.Series(acc).std() / 8 ** 0.5
    assert s.accuracy_ci_low == pytest.approx(0.8 - half, abs=2e-4)
    assert s.accuracy_ci_high == pytest.approx(0.8 + half, abs=2e-4)
