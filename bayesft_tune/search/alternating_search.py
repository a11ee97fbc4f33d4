"""``bayesft-tune search --mode alternating --space dropout``: the paper's Algorithm 1 as a search.

One network in the driver (:func:`~bayesft_tune.search.alternating.run_alternating`): ``--trials``
rounds of ``--epochs`` epochs each, so the same epochs as a scratch search of that many trials.
Its run directory holds the same tables as any search: ``trials.parquet`` (one row per round:
the α proposed, ``u`` when it was scored), ``selection.parquet`` (the α returned: the best
re-scored at the final θ), ``robustness.parquet`` (the network, and ERM unless
``--no-erm-baseline``, on the test split with the run's test draws).
"""

from __future__ import annotations

import time

import pandas as pd

from bayesft_tune.drift import get_drift
from bayesft_tune.dropout import slot_parameter_name
from bayesft_tune.search import rundir
from bayesft_tune.search.alternating import run_alternating
from bayesft_tune.search.config import SearchConfig
from bayesft_tune.search.outcome import SearchOutcome
from bayesft_tune.schema import conform
from bayesft_tune.seeds import stream_seed
from bayesft_tune.storage import write_table
from bayesft_tune.tasks.final import erm_test_rows, robustness_rows, train_reference

__all__ = ["run_alternating_search"]

OBJECTIVE = "drifted_loss_with_dropout"
"""The rounds' ``objective_name``: Eq. 4 with the round's dropout active (lower is better)."""


def run_alternating_search(cfg: SearchConfig, run_dir: str) -> SearchOutcome:
    """Run Algorithm 1 for ``cfg`` and write its tables into ``run_dir`` (already claimed)."""
    started, spec, seed = time.perf_counter(), cfg.trial_spec(), cfg.searcher.seed
    task, splits, level = spec.get_task(), spec.splits(), spec.objective.target_sigma
    result = run_alternating(task.build, splits.train, splits.val, slots=task.slots(), bounds=tuple(cfg.domain.bounds),
                             rounds=cfg.searcher.trials, epochs_per_round=spec.epochs, batch_size=spec.batch_size,
                             lr=spec.lr, drift=spec.drift, level=level,
                             noise=1.0 if get_drift(spec.drift).axis == "time" else level,
                             samples=spec.objective.samples, seed=spec.train_seed)
    trials = _trials(cfg, result.rounds, spec.epochs)
    chosen = _chosen_id(trials, result.rates, task.slots())
    fin = cfg.final
    robustness = robustness_rows(result.model, splits.test, fin.robustness_sigmas, fin.robustness_samples, spec.drift,
                                 stream_seed(seed, "test"), "bayesft", chosen, spec.data_seed)
    reference = train_reference(spec) if fin.erm_baseline else None
    if reference is not None:
        rundir.save_reference(reference, run_dir)
        erm = erm_test_rows(spec, reference, tuple(fin.robustness_sigmas), fin.robustness_samples,
                            stream_seed(seed, "test"))
        robustness = pd.concat([robustness, erm], ignore_index=True)
    index = int(trials.index[trials.trial_id == chosen][0])
    (u, sem), last = result.final[index], trials.iloc[-1]
    selection = pd.DataFrame([{"trial_id": chosen, "observed_rank": 0, "observed": u,
                               "clean_accuracy": last.clean_accuracy, "chosen": True, "feasible": True}])
    for frame, table in ((trials, "trials"), (robustness, "robustness"), (selection, "selection")):
        write_table(frame, run_dir, table)
    best = {**trials.iloc[index].to_dict(), "objective_mean": u, "objective_sem": sem,
            "clean_accuracy": last.clean_accuracy, "epochs": last.epochs}  # the network at the final θ
    return SearchOutcome(run_dir, best, trials, robustness, selection,
                         reference.clean_accuracy if reference else float("nan"), time.perf_counter() - started, 0.0,
                         searcher_blocking_seconds=0.0)


def _trials(cfg: SearchConfig, rounds: pd.DataFrame, epochs: int) -> pd.DataFrame:
    """One ``trials`` row per round."""
    rates = [c for c in rounds.columns if c.startswith("dropout_")]
    return conform(pd.DataFrame([{
        "trial_id": f"round{int(r['round']):03d}", "trial_index": int(r["round"]), "status": "completed",
        "task": cfg.train.task, "objective_name": OBJECTIVE, "objective_direction": "min",
        "objective_mean": float(r["u_now"]), "objective_sem": float(r["u_sem"]),
        "clean_accuracy": float(r["clean_accuracy"]), "epochs": int(r["epochs"]), "seed": cfg.searcher.seed,
        "data_seed": cfg.train.data_seed, "samples": cfg.scoring.samples, "target_sigma": cfg.scoring.target_sigma,
        **{c: float(r[c]) for c in rates}} for _, r in rounds.iterrows()]), "trials")


def _chosen_id(trials: pd.DataFrame, rates: tuple[float, ...], slots: list[str]) -> str:
    columns = [slot_parameter_name(s) for s in slots]
    match = trials[(trials[columns].to_numpy() == list(rates)).all(axis=1)]
    return str(match.trial_id.iloc[0])
