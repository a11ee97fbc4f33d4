"""Detection under weight drift, in one place: list batching, Monte Carlo mAP (torchmetrics)
and training. (The PennFudanPed dataset is :mod:`bayesft_tune.data.pennfudan`, the Mask
R-CNN model :mod:`bayesft_tune.zoo.detection`.)

``evaluate_detection_under_drift`` mirrors :func:`bayesft_tune.evaluation.evaluate_under_drift`:
the caller's model is copied into a :class:`~bayesft_tune.evaluation.DriftedCopy`
(never modified), one noise draw per Monte Carlo sample serves every σ, σ = 0 is
scored once, and the result is tidy, one row per (σ, sample): ``sigma``, ``sample``,
``map`` (COCO mAP@[.5:.95]) and ``map_50`` (mAP at IoU 0.5).
"""

from __future__ import annotations

from typing import Literal, Sequence

import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from bayesft_tune.drift import DriftModel, ParamFilter
from bayesft_tune.errors import UserInputError
from bayesft_tune.drift_summary import summarize_drift
from bayesft_tune.evaluation import prepare_drift, run_loop

__all__ = ["DetectionTrainer", "collate_detection", "detection_batches", "evaluate_detection_under_drift",
           "score_detection", "summarize_detection_drift"]

IoUType = Literal["bbox", "segm"]
Target = dict[str, Tensor]
Batches = list[tuple[list[Tensor], list[Target]]]


def collate_detection(batch: list[tuple[Tensor, Target]]) -> tuple[list[Tensor], list[Target]]:
    """Detection batches stay lists: images differ in size."""
    return [b[0] for b in batch], [b[1] for b in batch]


def _to_device(images: list[Tensor], targets: list[dict],
               device: torch.device) -> tuple[list[Tensor], list[dict]]:
    move = lambda t: {k: v.to(device) if isinstance(v, Tensor) else v for k, v in t.items()}
    return [x.to(device) for x in images], [move(t) for t in targets]


def detection_batches(data: Dataset | DataLoader, batch_size: int, device: torch.device) -> Batches:
    """Materialise ``(images, targets)`` list batches on ``device`` once."""
    if not isinstance(data, DataLoader):
        data = DataLoader(data, batch_size=batch_size, shuffle=False, collate_fn=collate_detection)
    batches = [_to_device(xs, ts, device) for xs, ts in data]
    if not batches:
        raise UserInputError("the evaluation data is empty; pass a detection Dataset with images.")
    return batches


def _for_metric(pred: dict, target: dict, iou_type: IoUType) -> tuple[dict, dict]:
    p = {k: pred[k].cpu() for k in ("boxes", "scores", "labels")}
    t = {k: target[k].cpu() for k in ("boxes", "labels")}
    if iou_type == "segm":
        p["masks"] = pred["masks"][:, 0].cpu() > 0.5  # K x 1 x H x W probabilities -> K x H x W
        t["masks"] = target["masks"].cpu().bool()
    return p, t


def score_detection(model: nn.Module, batches: Batches, iou_type: IoUType = "bbox") -> tuple[float, float]:
    """``(mAP@[.5:.95], mAP@.5)`` of ``model`` (in ``eval()``) on the batches."""
    from torchmetrics.detection import MeanAveragePrecision  # lazy: torchmetrics' detection (~5 s), only to score

    metric = MeanAveragePrecision(iou_type=iou_type, backend="pycocotools")
    model.eval()
    with torch.inference_mode():
        for images, targets in batches:
            pairs = [_for_metric(p, t, iou_type) for p, t in zip(model(images), targets)]
            metric.update([p for p, _ in pairs], [t for _, t in pairs])
    out = metric.compute()
    return float(out["map"]), float(out["map_50"])


def evaluate_detection_under_drift(model: nn.Module, data: Dataset | DataLoader,
                                   sigmas: Sequence[float] | float = (0.0, 0.3, 0.6, 0.9),
                                   samples: int = 8, drift: str | DriftModel = "lognormal",
                                   seed: int = 0, params: ParamFilter = "all", batch_size: int = 4,
                                   device: str | torch.device | None = None,
                                   iou_type: IoUType = "bbox") -> pd.DataFrame:
    """Score a torchvision-style detector under T Monte Carlo weight-drift samples at each σ.

    Args:
        model: detector; in ``eval()`` it maps a list of ``3 x H x W`` images to a list of
            ``{boxes K x 4, scores K, labels K[, masks K x 1 x H x W]}``. Never modified.
        data: ``(image, target)`` pairs (targets with ``boxes``, ``labels``[, ``masks``]).
        sigmas, samples, drift, seed, params: as in ``evaluate_under_drift``.
        batch_size: images per forward pass when ``data`` is a Dataset.
        device: where to evaluate; default the model's device.
        iou_type: ``"bbox"`` (box mAP) or ``"segm"`` (mask mAP).

    Returns:
        One row per (σ, sample), sample-major: ``sigma``, ``sample``, ``map``, ``map_50``.
    """
    if iou_type not in ("bbox", "segm"):
        raise UserInputError(f"iou_type must be 'bbox' or 'segm'; got {iou_type!r}.")
    grid, drift_model, dev, work, gen = prepare_drift(model, sigmas, samples, drift, seed, params, device)
    batches = detection_batches(data, batch_size, dev)
    rows = run_loop(work, drift_model, grid, int(samples), gen, batches,
                    score=lambda net, b: score_detection(net, b, iou_type))
    frame = pd.DataFrame(rows, columns=["sigma", "sample", "map", "map_50"])
    return frame.astype({"sigma": "float64", "sample": "int64", "map": "float64", "map_50": "float64"})


def summarize_detection_drift(frame: pd.DataFrame, by: Sequence[str] = ("sigma",),
                              confidence: float = 0.95) -> pd.DataFrame:
    """Per-σ ``{map,map_50}_{mean,std,sem,ci_low,ci_high}`` and ``samples``.

    The statistics are :func:`~bayesft_tune.drift_summary.summarize_drift`'s, reused by
    naming: ``map_50`` is scored as its ``loss`` column and ``map`` as its ``accuracy``.
    """
    renamed = frame.rename(columns={"map_50": "loss", "map": "accuracy"})
    out = summarize_drift(renamed, by=by, confidence=confidence)
    return out.rename(columns=lambda c: c.replace("loss_", "map_50_").replace("accuracy_", "map_"))


class DetectionTrainer:
    """Trains a torchvision detector (sum of its loss dict) with SGD, reproducibly from ``seed``.

    Same checkpoint interface as :class:`bayesft_tune.training.Trainer`
    (``epochs_done``, ``state_dict``/``load_state_dict``, ``device``). Only parameters
    with ``requires_grad`` (e.g. not a frozen backbone) are optimised.
    """

    def __init__(self, model: nn.Module, data: Dataset, epochs: int, batch_size: int, lr: float,
                 seed: int = 0, device: str | torch.device = "cpu", momentum: float = 0.9,
                 weight_decay: float = 5e-4) -> None:
        if int(batch_size) < 1 or not lr > 0:
            raise UserInputError(f"batch_size must be >= 1 and lr > 0; got {batch_size!r}, {lr!r}.")
        self.device = torch.device(device)
        self.model, self.data, self.epochs, self.epochs_done = model.to(self.device), data, int(epochs), 0
        self.batch_size, self.gen = int(batch_size), torch.Generator().manual_seed(int(seed))
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)

    def epoch(self) -> float:
        """Train one epoch; returns the mean (per image) summed detection loss."""
        self.model.train()
        loader = DataLoader(self.data, batch_size=self.batch_size, shuffle=True, generator=self.gen,
                            collate_fn=collate_detection)
        total, count = 0.0, 0
        for images, targets in loader:
            images, targets = _to_device(images, targets, self.device)
            self.opt.zero_grad(set_to_none=True)
            loss = sum(self.model(images, targets).values())
            loss.backward()
            self.opt.step()
            total, count = total + float(loss.detach()) * len(images), count + len(images)
        self.epochs_done += 1
        if count == 0:
            raise UserInputError("the training data is empty; pass a detection Dataset with images.")
        return total / count

    def state_dict(self) -> dict:
        """Model, optimiser and generator state, for checkpoints."""
        return {"model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                "gen": self.gen.get_state(), "epochs_done": self.epochs_done}

    def load_state_dict(self, state: dict) -> None:  # noqa: D102
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.gen.set_state(state["gen"])
        self.epochs_done = int(state["epochs_done"])
