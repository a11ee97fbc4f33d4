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

import pandas as pd
import torch

from bayesft_tune.evaluation import as_batches, evaluate_under_drift, score_batches, summarize_drift
from bayesft_tune.methods import MethodConfig, get_method
from bayesft_tune.tasks.checkpoint import model_from_state
from bayesft_tune.tasks.spec import TrialSpec
from bayesft_tune.tasks.trial import cached_data, drift_metrics

__all__ = ["Candidate", "FinalJob", "Reference", "erm_test_rows", "robustness_rows", "run_final", "train_reference"]


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
    splits = cached_data(task.dataset, spec.data_dir, spec.download, spec.data_seed)
    cfg = MethodConfig(epochs=spec.epochs, batch_size=spec.batch_size, lr=spec.lr)
    model = get_method("erm").fit(task.build, splits.train, splits.val, cfg, spec.train_seed, device)
    _, clean = score_batches(model.eval(), as_batches(splits.val, task.eval_batch_size, torch.device(device)))
    return Reference({k: v.detach().cpu() for k, v in model.state_dict().items()}, float(clean))


def robustness_rows(model, data, sigmas, samples: int, drift: str, seed: int, method: str,
                    trial_id: str | None, data_seed: int, split: str = "test") -> pd.DataFrame:
    """Schema ``ROBUSTNESS`` rows of one network over the σ grid (draws seeded by ``seed``)."""
    frame = evaluate_under_drift(model, data, list(sigmas), samples=samples, drift=drift, seed=seed)
    out = summarize_drift(frame)
    for i, (col, value) in enumerate((("method", method), ("trial_id", trial_id), ("split", split),
                                      ("drift", drift), ("data_seed", int(data_seed)))):
        out.insert(i, col, value)
    return out


def erm_test_rows(spec: TrialSpec, reference: Reference, sigmas, samples: int, test_seed: int,
                  device: str = "cpu") -> pd.DataFrame:
    """The ERM reference's rows of the test table: schema ``ROBUSTNESS``, method ``erm``."""
    task = spec.get_task()
    splits = cached_data(task.dataset, spec.data_dir, spec.download, spec.data_seed)
    erm = task.build()
    erm.load_state_dict(reference.state)
    return robustness_rows(erm.eval().to(device), splits.test, sigmas, samples, spec.drift, test_seed, "erm", None,
                           spec.data_seed)


def _reselect(job: FinalJob, splits) -> pd.DataFrame:
    """Re-score every candidate on validation with fresh draws; one row each."""
    rows = []
    val = as_batches(splits.val, job.spec.get_task().eval_batch_size, torch.device(job.device))
    for rank, cand in enumerate(job.candidates):
        model = model_from_state(cand.state).to(job.device)
        _, clean = score_batches(model, val)
        scores = drift_metrics(model, splits.val, job.spec.objective, job.spec.drift, job.reselect_seed,
                               samples=job.samples)
        name = job.spec.objective.name
        rows.append({"trial_id": cand.trial_id, "observed_rank": rank, "observed": cand.objective,
                     "reselected": scores[name], "reselected_sem": scores[f"{name}_sem"],
                     "clean_accuracy": clean,
                     "feasible": job.min_clean_accuracy is None or clean >= job.min_clean_accuracy})
    frame = pd.DataFrame(rows)
    ok = frame[frame.feasible] if frame.feasible.any() else frame
    best = ok.reselected.idxmin() if job.spec.objective.direction == "min" else ok.reselected.idxmax()
    return frame.assign(chosen=frame.index == best)


def run_final(job: FinalJob) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Re-select among the candidates, then score the chosen network and ERM on test.

    Returns:
        ``(robustness rows, selection rows)``; selection has one row per candidate with
        ``observed``, ``reselected`` (``_sem``), ``clean_accuracy``, ``feasible``, ``chosen``.
    """
    torch.set_num_threads(max(1, job.threads))
    spec = job.spec
    task = spec.get_task()
    splits = cached_data(task.dataset, spec.data_dir, spec.download, spec.data_seed)
    parts, selection = [], pd.DataFrame()
    if job.candidates:
        selection = _reselect(job, splits)
        chosen = selection[selection.chosen].iloc[0]
        state = next(c.state for c in job.candidates if c.trial_id == chosen.trial_id)
        parts.append(robustness_rows(model_from_state(state).to(job.device), splits.test, job.sigmas,
                                     job.samples, spec.drift, job.test_seed, "bayesft", str(chosen.trial_id),
                                     spec.data_seed))
    if job.erm and job.reference is not None:
        parts.append(job.erm_rows if job.erm_rows is not None else
                     erm_test_rows(spec, job.reference, job.sigmas, job.samples, job.test_seed, job.device))
    return (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()), selection
