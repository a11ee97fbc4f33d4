"""Detection under drift: mAP per (σ, sample) with torchmetrics, DriftedCopy reuse, training."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import fabricate
from bayesft_tune import UserInputError, add_dropout, build_model, load_data
from bayesft_tune.detection import (DetectionTrainer, evaluate_detection_under_drift, score_detection,
                                    summarize_detection_drift)

BOXES = [[10.0, 10.0, 30.0, 40.0], [40.0, 5.0, 60.0, 30.0]]


class BoxOracle(nn.Module):
    """A 'detector' whose predicted boxes are its parameters (so drift moves them)."""

    def __init__(self, boxes: list[list[float]]) -> None:
        super().__init__()
        self.boxes = nn.Parameter(torch.tensor(boxes))
        self.logit = nn.Parameter(torch.ones(len(boxes)))

    def forward(self, images):  # noqa: D102
        return [{"boxes": self.boxes, "scores": self.logit.sigmoid(),
                 "labels": torch.ones(len(self.boxes), dtype=torch.int64)} for _ in images]


def _data(n=3):
    target = {"boxes": torch.tensor(BOXES), "labels": torch.ones(2, dtype=torch.int64)}
    return [(torch.zeros(3, 64, 64), dict(target)) for _ in range(n)]


def test_rows_map_is_one_when_clean_and_drops_under_drift():
    model = BoxOracle(BOXES)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    frame = evaluate_detection_under_drift(model, _data(), sigmas=[0.0, 0.05, 1.0], samples=3, seed=0)
    assert list(frame.columns) == ["sigma", "sample", "map", "map_50"] and len(frame) == 9
    assert frame[["sigma", "sample"]].values.tolist()[:3] == [[0.0, 0], [0.05, 0], [1.0, 0]]
    clean = frame[frame.sigma == 0.0]
    assert (clean["map"] == 1.0).all() and (clean.map_50 == 1.0).all()
    mean = frame.groupby("sigma")["map"].mean()
    assert mean[1.0] < mean[0.05] < 1.0 and frame[frame.sigma == 0.05].map_50.min() > 0
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items()), "caller untouched"


def test_same_seed_same_rows_and_wrong_boxes_score_zero():
    a = evaluate_detection_under_drift(BoxOracle(BOXES), _data(), sigmas=[0.5], samples=2, seed=3)
    b = evaluate_detection_under_drift(BoxOracle(BOXES), _data(), sigmas=[0.5], samples=2, seed=3)
    assert a.equals(b)
    far = [[100.0, 100.0, 120.0, 130.0], [200.0, 0.0, 220.0, 20.0]]
    zero = evaluate_detection_under_drift(BoxOracle(far), _data(), sigmas=[0.0], samples=1)
    assert zero["map"].iloc[0] == 0.0


def test_summary_reuses_summarize_drift_statistics():
    frame = evaluate_detection_under_drift(BoxOracle(BOXES), _data(), sigmas=[0.0, 0.6], samples=4, seed=1)
    summary = summarize_detection_drift(frame).set_index("sigma")
    assert {"map_mean", "map_sem", "map_ci_low", "map_50_mean", "map_50_sem", "samples"} <= set(summary.columns)
    at = frame[frame.sigma == 0.6]
    assert summary.loc[0.6, "map_mean"] == pytest.approx(at["map"].mean())
    assert summary.loc[0.6, "map_50_sem"] == pytest.approx(at.map_50.std(ddof=1) / 2)
    assert summary.loc[0.0, "map_sem"] == 0.0 and summary.loc[0.6, "samples"] == 4


def test_bad_inputs_name_the_rule():
    with pytest.raises(UserInputError, match="iou_type"):
        evaluate_detection_under_drift(BoxOracle(BOXES), _data(), iou_type="keypoints")
    with pytest.raises(UserInputError, match="samples"):
        evaluate_detection_under_drift(BoxOracle(BOXES), _data(), samples=0)
    with pytest.raises(UserInputError, match="empty"):
        evaluate_detection_under_drift(BoxOracle(BOXES), [], samples=1)


def test_maskrcnn_trains_on_fabricated_pennfudan_and_is_scored_by_box_and_mask_map(tmp_path):
    fabricate.pennfudan(tmp_path, n=6)
    splits = load_data("pennfudan", root=str(tmp_path), seed=0)
    torch.manual_seed(0)
    model = add_dropout(build_model("maskrcnn", backbone="tiny", min_size=64, max_size=96), [0.1] * 4)
    trainer = DetectionTrainer(model, splits.train, epochs=1, batch_size=2, lr=0.01, seed=0)
    loss = trainer.epoch()
    assert loss > 0 and trainer.epochs_done == 1
    state = trainer.state_dict()
    again = DetectionTrainer(add_dropout(build_model("maskrcnn", backbone="tiny", min_size=64, max_size=96),
                                         [0.1] * 4), splits.train, 1, 2, 0.01)
    again.load_state_dict(state)
    assert again.epochs_done == 1
    assert torch.equal(again.model.roi_heads.box_head.fc6.weight, model.roi_heads.box_head.fc6.weight)
    for iou in ("bbox", "segm"):
        frame = evaluate_detection_under_drift(model, splits.test, sigmas=[0.0, 0.5], samples=2, iou_type=iou)
        assert len(frame) == 4 and frame["map"].between(0, 1).all() and frame.map_50.between(0, 1).all()
    from bayesft_tune.detection import detection_batches

    assert score_detection(model, detection_batches(splits.test, 2, torch.device("cpu")))[0] >= 0
