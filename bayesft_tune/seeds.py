"""Independent seed streams derived from one run seed.

Every random choice of a run draws from its own stream, so the drift draws a trial is
*selected* on are never the draws it is *tested* on, and the data split never follows
the run seed by accident (it has its own explicit seed, see ``SearchConfig.data_seed``).
Streams are children of ``numpy.random.SeedSequence(run_seed)`` keyed by purpose, so
adding a purpose never changes the seeds of the others.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from bayesft_tune.errors import UserInputError

__all__ = ["PURPOSES", "Purpose", "stream_seed"]

Purpose = Literal["train", "select", "reselect", "test", "reference", "tune"]
PURPOSES: tuple[str, ...] = ("train", "select", "reselect", "test", "reference", "tune")
"""``train``: weight init, batch order, noise injection; ``select``: drift draws of the
trials' validation objective; ``reselect``: fresh validation draws that re-score the top
trials; ``test``: drift draws of every test-split table; ``reference``: the ERM reference;
``tune``: the candidate values of a tuned baseline's random search."""


def stream_seed(run_seed: int, purpose: Purpose) -> int:
    """The seed of one purpose's stream (an int in ``[0, 2**31)``, for ``torch.manual_seed``).

    Args:
        run_seed: the run's seed (``--seed``), an integer >= 0.
        purpose: one of :data:`PURPOSES`.

    Raises:
        UserInputError: negative seed or unknown purpose.
    """
    if purpose not in PURPOSES:
        raise UserInputError(f"seed purpose must be one of {PURPOSES}; got {purpose!r}.")
    if isinstance(run_seed, bool) or int(run_seed) != run_seed or run_seed < 0:
        raise UserInputError(f"seed must be an integer >= 0; got {run_seed!r}. Pass e.g. --seed 0.")
    seq = np.random.SeedSequence(entropy=int(run_seed), spawn_key=(PURPOSES.index(purpose),))
    return int(seq.generate_state(1, dtype=np.uint32)[0] >> 1)
