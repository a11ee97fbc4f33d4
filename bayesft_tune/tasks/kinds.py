"""What differs between kinds of task, behind one interface: :class:`TaskKind`.

One trial loop (:class:`~bayesft_tune.tasks.trial.Trial`) and one final job serve every task;
a task's ``kind`` picks how its network trains, how clean and drifted scores are computed and
which final job scores the returned network. Two kinds exist:

* ``classification``: cross-entropy training (drifted-loss training at the knobs' σ_train),
  accuracy and loss, re-selection among the top trials and the ERM reference.
* ``detection``: a torchvision detector's summed loss, box mAP@[.5:.95]. The search's
  metric names keep their classification meanings' places: ``accuracy`` = mAP, ``loss`` =
  1 - mAP (so ``drifted_loss`` is minimised); the final job scores the best observed
  trial (no re-selection) and an ERM detector trained the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import pandas as pd
import torch
from torch import nn

from bayesft_tune.detection import (DetectionTrainer, detection_batches, evaluate_detection_under_drift,
                                    score_detection)
from bayesft_tune.drift_summary import summarize_drift
from bayesft_tune.evaluation import as_batches, evaluate_under_drift, score_batches
from bayesft_tune.tasks.checkpoint import model_from_state
from bayesft_tune.tasks.final import FinalJob, run_final
from bayesft_tune.tasks.final_parts import UnitCache
from bayesft_tune.tasks.space import Knobs
from bayesft_tune.tasks.spec import TrialSpec
from bayesft_tune.training import TrainConfig, Trainer

__all__ = ["KINDS", "Classification", "Detection", "TaskKind", "kind_of"]


class TaskKind(ABC):
    """How one kind of task trains and scores. Subclasses are stateless singletons (:data:`KINDS`)."""

    name: ClassVar[str]
    guarded: ClassVar[bool]
    """Has an ERM reference (the clean-accuracy guard), shares its split with the trials from the
    driver and scores the final job ahead in the tail."""

    @abstractmethod
    def trainer(self, spec: TrialSpec, knobs: Knobs, model: nn.Module, train, device: torch.device) -> Any:
        """The trainer of one trial (``epoch()``, ``epochs_done``, ``state_dict``, ``model``)."""

    @abstractmethod
    def batches(self, data, batch_size: int, device: torch.device) -> Any:
        """The validation data, materialised once on ``device``."""

    @abstractmethod
    def clean(self, model: nn.Module, batches) -> tuple[float, float]:
        """``(loss, accuracy)`` without drift; ``model`` in ``eval()``."""

    @abstractmethod
    def drift_frame(self, model: nn.Module, data, spec: TrialSpec, sigmas, samples: int, seed: int) -> pd.DataFrame:
        """Per-draw rows (``sigma``, ``sample``, ``accuracy``, ``loss``) under the spec's drift."""

    @abstractmethod
    def final(self, job: FinalJob, cache: UnitCache | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(robustness, selection)`` of the search's returned network (and ERM) on the test split."""


class Classification(TaskKind):
    name, guarded = "classification", True

    def trainer(self, spec, knobs, model, train, device):
        cfg = TrainConfig(epochs=spec.epochs, batch_size=spec.batch_size, lr=knobs.lr or spec.lr,
                          weight_decay=knobs.weight_decay, noise_injection=knobs.noise,
                          noise_drift=spec.drift, noise_level=spec.objective.target_sigma)
        return Trainer(model, train, cfg, seed=spec.train_seed, device=device)

    def batches(self, data, batch_size, device):
        return as_batches(data, batch_size, device)

    def clean(self, model, batches):
        return score_batches(model, batches)

    def drift_frame(self, model, data, spec, sigmas, samples, seed):
        return evaluate_under_drift(model, data, sigmas, samples=samples, drift=spec.drift, seed=seed)

    def final(self, job, cache=None):
        return run_final(job, cache)


class Detection(TaskKind):
    name, guarded = "detection", False

    def trainer(self, spec, knobs, model, train, device):
        return DetectionTrainer(model, train, spec.epochs, spec.batch_size, knobs.lr or spec.lr,
                                seed=spec.train_seed, device=device)

    def batches(self, data, batch_size, device):
        return detection_batches(data, batch_size, device)

    def clean(self, model, batches):
        box_map, _ = score_detection(model, batches)
        return 1.0 - box_map, box_map

    def drift_frame(self, model, data, spec, sigmas, samples, seed):
        frame = evaluate_detection_under_drift(model, data, sigmas, samples=samples, drift=spec.drift, seed=seed,
                                               batch_size=spec.get_task().eval_batch_size)
        return frame.assign(accuracy=frame["map"], loss=1.0 - frame["map"])

    def final(self, job, cache=None):
        """The best observed trial and, if ``job.erm``, the same detector trained without dropout."""
        torch.set_num_threads(max(1, job.threads))
        spec = job.spec
        splits = spec.splits()
        parts, selection = [], pd.DataFrame()
        if job.candidates:
            best = job.candidates[0]
            parts.append(self._rows(model_from_state(best.state), splits.test, job, "bayesft", best.trial_id))
            selection = pd.DataFrame([{"trial_id": best.trial_id, "observed_rank": 0, "observed": best.objective,
                                       "chosen": True}])
        if job.erm:
            torch.manual_seed(spec.train_seed)
            trainer = self.trainer(spec, Knobs(dropout=()), spec.get_task().build(), splits.train, job.device)
            for _ in range(trainer.epochs):
                trainer.epoch()
            parts.append(self._rows(trainer.model.eval(), splits.test, job, "erm", None))
        return (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()), selection

    def _rows(self, model, data, job: FinalJob, method: str, trial_id) -> pd.DataFrame:
        out = summarize_drift(self.drift_frame(model, data, job.spec, list(job.sigmas), job.samples, job.test_seed))
        for i, (col, value) in enumerate((("method", method), ("trial_id", trial_id), ("split", "test"),
                                          ("drift", job.spec.drift), ("data_seed", job.spec.data_seed))):
            out.insert(i, col, value)
        return out


KINDS: dict[str, TaskKind] = {k.name: k for k in (Classification(), Detection())}
"""Task kind name -> its :class:`TaskKind`."""


def kind_of(task) -> TaskKind:
    """The :class:`TaskKind` of a :class:`~bayesft_tune.tasks.task.Task` (validated when the Task is made)."""
    return KINDS[task.kind]
