"""The BayesFT search service: Ax searcher, search configuration and runner."""

from __future__ import annotations

from bayesft_tune.search.searcher import TRIAL_INDEX_KEY, AxSearcher

__all__ = ["TRIAL_INDEX_KEY", "AxSearcher"]
