"""Datasets, one registry (:data:`DATASETS`), loaded by name with :func:`load_data`.

``mnist_embedded`` (the offline default) and ``mnist`` (:mod:`~bayesft_tune.data.mnist`),
``cifar10`` and ``gtsrb`` (:mod:`~bayesft_tune.data.vision`), ``pennfudan`` detection
(:mod:`~bayesft_tune.data.pennfudan`). Every registered dataset passes the contract
suite in ``tests/test_registry_contracts.py``.
"""

from __future__ import annotations

from bayesft_tune.data._base import DATASETS, Loader, Splits, dataset_names, load_data
from bayesft_tune.data.mnist import load_mnist, load_mnist_embedded
from bayesft_tune.data.pennfudan import load_pennfudan
from bayesft_tune.data.vision import load_cifar10, load_gtsrb

DATASETS.register("mnist_embedded", load_mnist_embedded)
DATASETS.register("mnist", load_mnist)
DATASETS.register("cifar10", load_cifar10)
DATASETS.register("gtsrb", load_gtsrb)
DATASETS.register("pennfudan", load_pennfudan)

__all__ = ["DATASETS", "Loader", "Splits", "dataset_names", "load_data"]
