"""CIFAR-10, GTSRB and PennFudanPed loaded from fabricated files in their real on-disk formats."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fabricate
from bayesft_tune import UserInputError, load_data
from bayesft_tune.data.vision import read_cifar_batches
from bayesft_tune.data.pennfudan import PennFudanPed


def test_cifar10_unofficial_files_are_read_in_cifar_format_with_a_warning(tmp_path):
    fabricate.cifar10(tmp_path, per_batch=10, test=10)
    with pytest.warns(UserWarning, match="official CIFAR-10"):
        splits = load_data("cifar10", root=str(tmp_path), seed=0)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (40, 10, 10)
    assert splits.input_shape == (3, 32, 32) and splits.num_classes == 10
    x, y = splits.test.tensors
    assert x.dtype == torch.float32 and y.tolist() == list(range(10))
    # class c was filled with grey 20c: the standardised red channel orders the classes
    red = x[:, 0].mean((1, 2))
    assert torch.all(red[1:] > red[:-1])
    val_labels = sorted(splits.val.tensors[1].tolist())
    assert val_labels == list(range(10)), "the validation split is stratified"


def test_cifar_batch_reader_matches_pickled_content(tmp_path):
    fabricate.cifar10(tmp_path, per_batch=4, test=3)
    images, labels = read_cifar_batches(tmp_path / "cifar-10-batches-py", ["test_batch"])
    assert images.shape == (3, 3, 32, 32) and images.dtype == np.uint8
    assert labels.tolist() == [0, 1, 2] and np.all(images[2] >= 40)


def test_gtsrb_folder_and_csv_layout_resized_to_32(tmp_path):
    fabricate.gtsrb(tmp_path, per_class=3, test=12)
    splits = load_data("gtsrb", root=str(tmp_path), seed=0)
    assert splits.num_classes == 43 and splits.input_shape == (3, 32, 32)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (86, 43, 12)
    assert splits.test.tensors[1].tolist() == [(7 * i) % 43 for i in range(12)]  # from the CSV
    assert sorted(splits.val.tensors[1].tolist()) == list(range(43))
    train_labels = splits.train.tensors[1]
    red = splits.train.tensors[0][:, 0].mean((1, 2))  # class c was grey 5c
    assert red[train_labels == 40].min() > red[train_labels == 2].max()


def test_gtsrb_missing_files_name_the_layout(tmp_path):
    with pytest.raises(UserInputError, match="GT-final_test.csv"):
        load_data("gtsrb", root=str(tmp_path))


def test_pennfudan_instances_become_boxes_masks_and_labels(tmp_path):
    boxes = fabricate.pennfudan(tmp_path, n=6)
    data = PennFudanPed(tmp_path)
    assert len(data) == 6 and data.names[0] == "FudanPed00001.png"
    for i, expected in enumerate(boxes):
        image, target = data[i]
        assert image.shape == (3, 64, 80) and 0.0 <= float(image.min()) and float(image.max()) <= 1.0
        assert target["boxes"].tolist() == [list(map(float, b)) for b in expected]
        assert target["labels"].tolist() == [1] * len(expected)
        masks = target["masks"]
        assert masks.shape == (len(expected), 64, 80)
        for m, (x1, y1, x2, y2) in zip(masks, expected):
            assert int(m.sum()) == (x2 - x1) * (y2 - y1) and m[y1:y2, x1:x2].all()


def test_pennfudan_splits_are_seeded_and_disjoint(tmp_path):
    fabricate.pennfudan(tmp_path, n=10)
    a, b = load_data("pennfudan", root=str(tmp_path), seed=0), load_data("pennfudan", root=str(tmp_path), seed=0)
    parts = [set(s.indices) for s in (a.train, a.val, a.test)]
    assert sum(map(len, parts)) == 10 and set.union(*parts) == set(range(10))
    assert a.test.indices == b.test.indices and a.num_classes == 2
    assert (len(a.val), len(a.test)) == (1, 3)


def test_pennfudan_image_without_mask_is_named(tmp_path):
    fabricate.pennfudan(tmp_path, n=3)
    (tmp_path / "PennFudanPed" / "PedMasks" / "FudanPed00002_mask.png").unlink()
    with pytest.raises(UserInputError, match="FudanPed00002"):
        PennFudanPed(tmp_path / "PennFudanPed")
