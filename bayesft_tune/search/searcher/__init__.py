"""``AxSearcher``: a Ray Tune searcher over Ax's ``ax.api.Client`` (Ax >= 1.0).

Ray's own ``AxSearch`` wraps the deprecated ``AxClient`` and fails with Ax 1.3; this
one talks to ``ax.api.Client`` directly. It hands out jointly chosen batches (Ax knows
which trials are pending), passes each trial's Monte Carlo standard error to Ax as
its SEM, records failed and non-finite trials as failed, and saves/restores the
whole Ax state so a resumed search neither forgets nor repeats trials.

**Pre-generation** (``max_concurrent > 1``): while trials run, one worker thread computes
the next candidate with the running trials pending in Ax, so a slot that frees up takes a
ready candidate instead of waiting for the GP step; a candidate that missed more than
:data:`MAX_STALE` completions is abandoned and regenerated. The policy, its locks and the
timing lists are held objects, not mixins:

* :class:`~bayesft_tune.search.searcher._ledger.AxLedger`: the Ax client, its two locks and
  the record of every trial (running, queued, handed out, its status in Ax, the Tune events
  not yet handed to Ax, ``generation_seconds`` and ``blocking_seconds``);
* :class:`~bayesft_tune.search.searcher._pregen.Pregenerator`: the worker thread and the
  staleness policy;
* :mod:`~bayesft_tune.search.searcher._saved_state`: save/restore (never half a generation;
  the saved format is unchanged, so states of earlier versions load);
* :mod:`~bayesft_tune.search.searcher._ax`: the client's construction (generation strategy,
  acquisition settings, Ax's quiet logging).

Options such as warm start and multi-objective are composed :class:`SearchPart` s
(``extensions.search_parts``).
"""

from __future__ import annotations

from bayesft_tune.search.searcher._ax import Method, make_client, one_blas_thread, quiet_ax
from bayesft_tune.search.searcher._ledger import AxLedger
from bayesft_tune.search.searcher._pregen import MAX_STALE, SLOTS_PER_EXTRA, TRIAL_INDEX_KEY, Pregenerator
from bayesft_tune.search.searcher._searcher import AxSearcher, SearchPart

__all__ = ["AxLedger", "AxSearcher", "MAX_STALE", "Method", "Pregenerator", "SLOTS_PER_EXTRA", "SearchPart",
           "TRIAL_INDEX_KEY", "make_client", "one_blas_thread", "quiet_ax"]
