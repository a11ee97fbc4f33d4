"""Bad input through the Python API: one UserInputError naming the argument, never a deep error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import TensorDataset

import bayesft_tune as bft
from analysis import load_run
from bayesft_tune import UserInputError
from bayesft_tune.search.config import SearchConfig

MNIST_LIKE = TensorDataset(torch.randn(4, 1, 28, 28), torch.zeros(4, dtype=torch.int64))

CASES = {
    "load_trial_model(None)": (lambda: bft.load_trial_model(None), "needs a run directory"),
    "load_trial_model(5)": (lambda: bft.load_trial_model(5), "needs a run directory"),
    "load_trial_model(trial_id=3)": (lambda: bft.load_trial_model("runs/x", trial_id=3), "trial_id must be"),
    "load_data(seed=-1)": (lambda: bft.load_data("mnist_embedded", seed=-1), r"seed .* \[0, 2\*\*32\)"),
    "load_data(seed=2**40)": (lambda: bft.load_data("mnist_embedded", seed=2**40), r"\[0, 2\*\*32\)"),
    "summarize_drift(empty)": (lambda: bft.summarize_drift(pd.DataFrame()), "needs evaluate_under_drift's rows"),
    "summarize_drift(wrong columns)": (lambda: bft.summarize_drift(pd.DataFrame({"x": [1]})), "missing"),
    "evaluate_under_drift(model=None)": (lambda: bft.evaluate_under_drift(None, MNIST_LIKE, [0.5], samples=2),
                                         "model must be a torch.nn.Module"),
    "evaluate_under_drift(wrong shape)": (lambda: bft.evaluate_under_drift(
        bft.build_model("mlp"), TensorDataset(torch.randn(4, 10), torch.zeros(4, dtype=torch.int64)), [0.5],
        samples=2), r"forward fails on the evaluation data, inputs of shape \(4, 10\)"),
    "evaluate_under_drift(labels out of range)": (lambda: bft.evaluate_under_drift(
        bft.build_model("mlp"), TensorDataset(torch.randn(4, 784), torch.full((4,), 12)), [0.5], samples=2),
        r"labels must lie in \[0, 10\)"),
    "evaluate_under_drift(pcm at 1 h, reram)": (lambda: bft.evaluate_under_drift(
        bft.build_model("mlp"), MNIST_LIKE, [3600.0], samples=2, drift="reram_wan2022"), "only the time levels"),
    "Splits.from_arrays(no test)": (lambda: bft.Splits.from_arrays(np.zeros((20, 4)), np.arange(20) % 2, seed=0),
                                    "needs one test set"),
    "Splits.from_arrays(strings)": (lambda: bft.Splits.from_arrays(np.array([["a"]] * 20), np.arange(20) % 2, seed=0,
                                                                    test_fraction=0.2), "must be a real array"),
    "Splits.from_arrays(float labels)": (lambda: bft.Splits.from_arrays(np.zeros((20, 4)), np.full(20, 0.5), seed=0,
                                                                         test_fraction=0.2), "integer class labels"),
    "Task(epochs=0)": (lambda: bft.Task(name="t", model="mlp", data="mnist_embedded", epochs=0), "epochs must be"),
    "Task(widths_kwarg without base)": (lambda: bft.Task(name="t", model="mlp", data="mnist_embedded",
                                                          widths_kwarg="hidden"), "width knob needs"),
    "SearchConfig(name='../../escape')": (lambda: SearchConfig(name="../../escape"), "one plain path component"),
    "SearchConfig(storage_path=5)": (lambda: SearchConfig(storage_path=5), "storage_path must be"),
    "SearchConfig(address=5)": (lambda: SearchConfig(address=5), "address must be"),
    "SearchConfig(lr_bounds=(1e-2, 1e-4))": (lambda: SearchConfig(lr_bounds=(1e-2, 1e-4)), "lr_bounds must be"),
    "SearchConfig(width_ratio_bounds=(0, 8))": (lambda: SearchConfig(width_ratio_bounds=(0, 8)), "0 < low < high"),
    "SearchConfig(seed=2**70)": (lambda: SearchConfig(seed=2**70), r"seed must be an integer in \[0, 2\*\*32\)"),
    "SearchConfig(task=5)": (lambda: SearchConfig(task=5), "task must be"),
    "SearchConfig(drift='pcm', gdc='yes')": (lambda: SearchConfig(drift="pcm", gdc="yes"), "gdc .*must be true or false"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_api_bad_input_is_one_user_input_error(name):
    call, match = CASES[name]
    with pytest.raises(UserInputError, match=match):
        call()


def _table_run(root, **tables: pd.DataFrame) -> str:
    root.mkdir()
    for name, frame in tables.items():
        frame.to_parquet(root / f"{name}.parquet")
    return str(root)


WRONG_TABLES = {  # a run directory's tables that bayesft-tune did not write
    "trials without its key columns": ({"trials": pd.DataFrame({"a": [1], "b": [2]})},
                                       r"trials.parquet is not a trials table: it lacks the columns "
                                       r"\['trial_id', 'status'\]"),
    "trials with text in a float column": ({"trials": pd.DataFrame({"trial_id": ["t1"], "status": ["completed"],
                                                                    "objective_mean": ["abc"]})},
                                           "column 'objective_mean' of a trials table must hold float64"),
    "history without epochs": ({"trials": pd.DataFrame({"trial_id": ["t1"], "status": ["completed"]}),
                                "history": pd.DataFrame({"trial_id": ["t1"]})},
                               r"history.parquet is not a history table: it lacks the columns \['epoch'\]"),
    "history with text epochs": ({"trials": pd.DataFrame({"trial_id": ["t1"], "status": ["completed"]}),
                                  "history": pd.DataFrame({"trial_id": ["t1"], "epoch": ["first"]})},
                                 "column 'epoch' of a history table must hold Int64"),
    "robustness without sigma": ({"trials": pd.DataFrame({"trial_id": ["t1"], "status": ["completed"]}),
                                  "robustness": pd.DataFrame({"method": ["bayesft"], "accuracy_mean": [0.9]})},
                                 r"robustness.parquet is not a robustness table.*\['sigma'\]"),
    "robustness with text in accuracy": ({"trials": pd.DataFrame({"trial_id": ["t1"], "status": ["completed"]}),
                                          "robustness": pd.DataFrame({"method": ["bayesft"], "sigma": [0.5],
                                                                      "accuracy_mean": ["high"]})},
                                         "column 'accuracy_mean' of a robustness table must hold float64"),
}


@pytest.mark.parametrize("name", sorted(WRONG_TABLES))
def test_load_run_refuses_a_table_of_the_wrong_schema(tmp_path, name):
    tables, match = WRONG_TABLES[name]
    run = _table_run(tmp_path / "run", **tables)
    with pytest.raises(UserInputError, match=match):
        load_run(run)


def test_case_count():
    assert len(CASES) + len(WRONG_TABLES) >= 30
