"""The search's final job: pick the returned network fairly, then score it against ERM on test.

1. **Reference** (:func:`train_reference`, run before the trials): the task's own network,
   no dropout, clean loss, same budget and training seed: ERM. Its clean validation
   accuracy anchors the clean-accuracy guard; its weights are scored at the end.
2. **Re-selection**: the top-k trials by observed objective are re-scored on the
   validation split with fresh drift draws (the ``reselect`` seed stream) and the final
   T; the best re-scored trial is returned. The observed best won partly on the luck of
   its own draws; re-scoring with independent draws removes that winner's curse.
3. **Test**: the returned network and ERM are scored over the σ grid on the test split
   with the ``test`` seed stream, independent of every draw used to select.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pandas as pd
import torch

from bayesft_tune.drift import get_drift
from bayesft_tune.drift_summary import summarize_drift
from bayesft_tune.evaluation import as_batches, evaluate_under_drift, score_batches
from bayesft_tune.methods import MethodConfig, get_method
from bayesft_tune.tasks.final_parts import Scorer, Scoring, UnitCache, from_checkpoint, start_units, unit_pool
from bayesft_tune.tasks.spec import TrialSpec

__all__ = ["Candidate", "FinalJob", "Reference", "erm_test_rows", "label_rows", "robustness_rows", "run_final",
           "score_ahead", "train_reference"]


@dataclass(frozen=True)
class Reference:
    """The ERM reference: weights (CPU) and clean validation accuracy."""

    state: dict
    clean_accuracy: float


@dataclass(frozen=True)
class Candidate:
    """A finished trial offered to re-selection: its id, observed objective and checkpoint state."""

    trial_id: str
    objective: float
    state: dict


@dataclass(frozen=True)
class FinalJob:
    """Inputs of :func:`run_final`.

    Attributes:
        spec: the search's trial spec (task, objective, drift, seeds, data split).
        candidates: top trials by observed objective (best first).
        erm: add an ERM row to the test table.
        reference: the ERM reference's weights (classification; a detection job trains its own).
        sigmas, samples: σ grid and T of the test table and of re-selection.
        reselect_seed, test_seed: seed streams of re-selection and test draws.
        min_clean_accuracy: candidates below it are not returned (guard); None: no guard.
        threads: threads that score the job's units (one torch thread each).
        device: where the networks are scored.
        erm_rows: ERM's test rows computed ahead (:func:`erm_test_rows`, while Ray started);
            None: computed here.
    """

    spec: TrialSpec
    candidates: tuple[Candidate, ...]
    erm: bool
    reference: Reference | None
    sigmas: tuple[float, ...]
    samples: int
    reselect_seed: int
    test_seed: int
    min_clean_accuracy: float | None = None
    threads: int = 1
    device: str = field(default="cpu")
    erm_rows: pd.DataFrame | None = None


def train_reference(spec: TrialSpec, device: str = "cpu", threads: int = 1) -> Reference:
    """ERM on the task's own network with the spec's budget, data split and training seed."""
    torch.set_num_threads(max(1, threads))
    task = spec.get_task()
    splits = spec.splits()
    cfg = MethodConfig(epochs=spec.epochs, batch_size=spec.batch_size, lr=spec.lr)
    model = get_method("erm").fit(task.build, splits.train, splits.val, cfg, spec.train_seed, device)
    _, clean = score_batches(model.eval(), as_batches(splits.val, task.eval_batch_size, torch.device(device)))
    return Reference({k: v.detach().cpu() for k, v in model.state_dict().items()}, float(clean))


def robustness_rows(model, data, sigmas, samples: int, drift: str, seed: int, method: str,
                    trial_id: str | None, data_seed: int, split: str = "test") -> pd.DataFrame:
    """Schema ``ROBUSTNESS`` rows of one network over the σ grid (draws seeded by ``seed``)."""
    frame = evaluate_under_drift(model, data, list(sigmas), samples=samples, drift=drift, seed=seed)
    return label_rows(summarize_drift(frame), method, trial_id, drift, data_seed, split)


def label_rows(summary: pd.DataFrame, method: str, trial_id: str | None, drift: str, data_seed: int,
               split: str = "test") -> pd.DataFrame:
    """Schema ``ROBUSTNESS`` rows: a :func:`summarize_drift` frame with what it describes in front
    and the level's axis and unit (the drift model's) after ``sigma``."""
    out = summary.copy()
    for i, (col, value) in enumerate((("method", method), ("trial_id", trial_id), ("split", split),
                                      ("drift", drift), ("data_seed", int(data_seed)))):
        out.insert(i, col, value)
    model = get_drift(drift)
    out.insert(out.columns.get_loc("sigma") + 1, "level_axis", model.axis)
    out.insert(out.columns.get_loc("sigma") + 2, "level_unit", model.unit)
    return out


def erm_test_rows(spec: TrialSpec, reference: Reference, sigmas, samples: int, test_seed: int,
                  device: str = "cpu", threads: int = 1) -> pd.DataFrame:
    """The ERM reference's rows of the test table: schema ``ROBUSTNESS``, method ``erm``
    (scored on ``threads`` threads of one torch thread each: the same numbers for any count)."""
    task = spec.get_task()
    splits = spec.splits()

    def build():
        erm = task.build()
        erm.load_state_dict(reference.state)
        return erm
    torch.set_num_threads(1)
    scorer = Scorer(spec, {"test": splits.test}, {"erm": build}, UnitCache(), device)
    with unit_pool(threads, device) as pool:
        frame = scorer.frame(Scoring("erm", "test", tuple(sigmas), samples, test_seed), pool)
    return label_rows(summarize_drift(frame), "erm", None, spec.drift, spec.data_seed)


def _scorer(job: FinalJob, cache: UnitCache) -> Scorer:
    """The job's units on its splits (validation and test), its candidates built from their checkpoints."""
    spec = job.spec
    task = spec.get_task()
    splits = spec.splits()
    builders = {c.trial_id: from_checkpoint(c.state) for c in job.candidates}
    return Scorer(spec, {"val": splits.val, "test": splits.test}, builders, cache, job.device)


def _test_scoring(job: FinalJob, name: str) -> Scoring:
    return Scoring(name, "test", tuple(job.sigmas), job.samples, job.test_seed)


def _selection(job: FinalJob, scores: list[dict]) -> pd.DataFrame:
    """One row per candidate (its re-scores ``scores``), the best feasible one ``chosen``."""
    floor = job.min_clean_accuracy
    frame = pd.DataFrame([{"trial_id": c.trial_id, "observed_rank": rank, "observed": c.objective,
                           "reselected": s["reselected"], "reselected_sem": s["reselected_sem"],
                           "clean_accuracy": s["clean_accuracy"],
                           "feasible": floor is None or s["clean_accuracy"] >= floor}
                          for rank, (c, s) in enumerate(zip(job.candidates, scores))])
    ok = frame[frame.feasible] if frame.feasible.any() else frame
    best = ok.reselected.idxmin() if job.spec.objective.direction == "min" else ok.reselected.idxmax()
    return frame.assign(chosen=frame.index == best)


def _reselection(job: FinalJob, scorer: Scorer, pool) -> tuple[pd.DataFrame, str]:
    """``(selection rows, chosen trial id)``: every candidate's units started before the first is awaited."""
    for c in job.candidates:
        start_units(scorer.cache, scorer.reselect_units(c.trial_id, job.reselect_seed, job.samples), pool)
    selection = _selection(job, [scorer.reselect(c.trial_id, job.reselect_seed, job.samples, pool)
                                 for c in job.candidates])
    return selection, str(selection[selection.chosen].trial_id.iloc[0])


def _in_turn(cache: UnitCache, units: dict, keep_going: Callable[[], bool]) -> bool:
    """Score ``units`` one after another in this thread while ``keep_going()``; whether all were."""
    for key, unit in units.items():
        if not keep_going():
            return False
        cache.value(key, unit)
    return True


def run_final(job: FinalJob, cache: UnitCache | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Re-select among the candidates, then score the chosen network and ERM on test.

    The work runs as units on ``job.threads`` threads of one torch thread each
    (:mod:`~bayesft_tune.tasks.final_parts`); units ``cache`` holds already (scored ahead by
    :func:`score_ahead`) are not scored again. The tables do not depend on either.

    Returns:
        ``(robustness rows, selection rows)``; selection has one row per candidate with
        ``observed``, ``reselected`` (``_sem``), ``clean_accuracy``, ``feasible``, ``chosen``.
    """
    torch.set_num_threads(1)
    spec = job.spec
    scorer = _scorer(job, cache if cache is not None else UnitCache())
    parts, selection = [], pd.DataFrame()
    with unit_pool(job.threads, job.device) as pool:
        if job.candidates:
            selection, chosen = _reselection(job, scorer, pool)
            frame = scorer.frame(_test_scoring(job, chosen), pool)
            parts.append(label_rows(summarize_drift(frame), "bayesft", chosen, spec.drift, spec.data_seed))
    if job.erm and job.reference is not None:
        parts.append(job.erm_rows if job.erm_rows is not None else
                     erm_test_rows(spec, job.reference, job.sigmas, job.samples, job.test_seed, job.device,
                                   job.threads))
    return (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()), selection


def score_ahead(job: FinalJob, cache: UnitCache, keep_going: Callable[[], bool]) -> None:
    """Score, in this thread, the units the final job would need if the search ended now:
    the candidates' re-scores, then the test parts of the one they choose. Stops between
    units once ``keep_going()`` is false; every unit it finishes stays in ``cache``."""
    torch.set_num_threads(1)
    scorer = _scorer(job, cache)
    units = {}
    for c in job.candidates:
        units.update(scorer.reselect_units(c.trial_id, job.reselect_seed, job.samples))
    if job.candidates and _in_turn(cache, units, keep_going):
        _, chosen = _reselection(job, scorer, None)  # every unit cached: no scoring here
        _in_turn(cache, scorer.frame_units(_test_scoring(job, chosen)), keep_going)
