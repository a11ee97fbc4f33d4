"""Search options beyond from-scratch single-objective BO.

* **Warm start** (the paper's Algorithm 1): :class:`BestCheckpointBoard`, a Tune
  callback in the driver, remembers the best finished trial's checkpoint as a path
  relative to the run directory; the searcher part :class:`WarmStart` puts it in every
  new trial's config (``warm_start_checkpoint``, ``warm_start_from``), and the trial reads it
  from the run's storage where the run lives now (s3://, NFS, a moved directory).
* **Multi-objective** Ax search (``-drifted_loss, clean_accuracy``; the part
  :class:`MultiObjective`) and its observed Pareto front as a table (schema ``PARETO``) and a PNG.

Both are :class:`~bayesft_tune.search.searcher.SearchPart` s composed into an
:class:`AxSearcher` (``parts=search_parts(board, multi_objective)``), not subclass overrides.
"""

from __future__ import annotations

import json
import math
import pickle
import posixpath
from typing import Any

import pandas as pd
from pyarrow import fs as pafs
from ray.tune import Callback

from bayesft_tune.search.searcher import AxSearcher, SearchPart
from bayesft_tune.storage import resolve

__all__ = ["BestCheckpointBoard", "ExtendedAxSearcher", "MOO_METRICS", "MultiObjective", "WarmStart",
           "pareto_table", "plot_pareto", "search_parts"]

MOO_METRICS = ("drifted_loss", "clean_accuracy")
"""Objectives of the multi-objective search: drifted loss (minimised), clean accuracy (maximised)."""

MOO_THRESHOLDS = ("drifted_loss <= 1000.0", "clean_accuracy >= 0.0")
"""Explicit (loose) objective thresholds: the front keeps every observed non-dominated trial."""


_BOARDS: dict[str, "BestCheckpointBoard"] = {}
"""Boards of this driver process by key: the searcher finds its board here, also after Tune
restored both (separately) on ``--resume``."""


class BestCheckpointBoard(Callback):
    """Driver-side record of the best finished trial and its checkpoint.

    Args:
        metric: reported metric ranking trials.
        mode: ``"min"`` or ``"max"``.
        key: the name the searcher looks the board up by (the run name).
    """

    def __init__(self, metric: str = "drifted_loss", mode: str = "min", key: str = "default") -> None:
        self.metric, self.mode, self.key = metric, mode, key
        self.best: tuple[str, float, str] | None = None  # (trial id, value, checkpoint path in the run dir)
        self._seeded = False
        _BOARDS[key] = self

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._seeded = False  # a restored board re-reads the finished trials
        _BOARDS[self.key] = self

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        """After a resume, the trials that finished before it still count."""
        if not self._seeded:
            self._seeded = True
            for trial in trials:
                if trial.status == "TERMINATED":
                    self._offer(trial)

    def on_trial_complete(self, iteration: int, trials: list, trial, **info: Any) -> None:
        self._offer(trial)

    def _offer(self, trial) -> None:
        value = (trial.last_result or {}).get(self.metric)
        if trial.checkpoint is None or not isinstance(value, (int, float)) or not math.isfinite(value):
            return
        better = self.best is None or (value < self.best[1] if self.mode == "min" else value > self.best[1])
        if better:  # kept relative to the run directory: the directory may move before a resume
            relative = f"{posixpath.basename(trial.path)}/{posixpath.basename(trial.checkpoint.path)}"
            self.best = (trial.trial_id, float(value), relative)


class WarmStart(SearchPart):
    """Searcher part: every handed-out config names the board's best checkpoint so far
    (``warm_start_checkpoint``, relative to the run directory, and ``warm_start_from``;
    both None before a trial finished). Read at hand-out, so a candidate computed ahead
    still starts from the newest best.

    Args:
        board: key of a :class:`BestCheckpointBoard` of this driver process.
    """

    def __init__(self, board: str) -> None:
        self.board = board

    def config(self, config: dict) -> dict:  # noqa: D102
        board = _BOARDS.get(self.board)
        best = board.best if board is not None else None
        return {**config, "warm_start_checkpoint": None if best is None else best[2],
                "warm_start_from": None if best is None else best[0]}


class MultiObjective(SearchPart):
    """Searcher part: Ax optimises ``-drifted_loss, clean_accuracy`` jointly (Tune's own
    metric stays the searcher's ``metric``/``mode``)."""

    def objective(self, searcher: AxSearcher) -> tuple[str, bool, list[str]]:  # noqa: D102
        # make_client prefixes "-" to the text: "-drifted_loss, clean_accuracy". Constraints
        # on objectives are Ax's objective thresholds: set loose ones explicitly, else Ax
        # infers tight ones and drops observed non-dominated trials from the front.
        return ", ".join(MOO_METRICS), True, [*searcher.outcome_constraints, *MOO_THRESHOLDS]

    def raw_data(self, result: dict,  # noqa: D102
                 data: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        if "clean_accuracy" in result:
            data = {**data, "clean_accuracy": (float(result["clean_accuracy"]), 0.0)}
        return data


def search_parts(board: str | None = None, multi_objective: bool = False) -> list[SearchPart]:
    """The parts of a search with these options (warm start from ``board``, multi-objective)."""
    return [*([WarmStart(board)] if board is not None else []), *([MultiObjective()] if multi_objective else [])]


class ExtendedAxSearcher(AxSearcher):
    """Kept only to restore pickled states of runs started before the parts existed (their
    ``tuner.pkl`` names this class; their saved states name ``board``/``multi_objective``
    instead of ``parts``). New searches build ``AxSearcher(parameters, parts=search_parts(...))``."""

    def __setstate__(self, state: dict) -> None:
        """States saved before the parts existed name the options as attributes."""
        if "parts" not in state:
            state = {**state, "parts": search_parts(state.get("board"), state.get("multi_objective", False))}
        super().__setstate__(state)


def _newest_searcher_state(run_dir: str) -> dict | None:
    fs, root = resolve(run_dir)
    states = sorted(i.path for i in fs.get_file_info(pafs.FileSelector(root))
                    if i.base_name.startswith("searcher-state-"))
    if not states:
        return None
    with fs.open_input_stream(states[-1]) as f:
        return pickle.loads(f.read())


def pareto_table(run_dir: str, trials: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Ax's observed Pareto front (``get_pareto_frontier(use_model_predictions=False)``).

    Ax returns ``(params, {metric: (mean, VARIANCE)}, index, arm)``; the table's
    ``*_sem`` columns are ``sqrt(variance)``.

    Returns:
        Rows of schema ``PARETO``, sorted by drifted loss (empty if no searcher state).
    """
    state = _newest_searcher_state(run_dir)
    if not state:
        return pd.DataFrame()
    searcher = ExtendedAxSearcher.__new__(ExtendedAxSearcher)  # reads old and new states alike
    searcher.__setstate__(dict(state))
    if not searcher.ledger.has_client:
        return pd.DataFrame()
    client = searcher.client
    ids = dict(zip(trials.trial_index.astype("Int64"), trials.trial_id))
    rows = []
    for params, values, index, arm in client.get_pareto_frontier(use_model_predictions=False):
        row = {"trial_id": ids.get(int(index)), "trial_index": int(index), "arm_name": str(arm),
               "parameters": json.dumps({k: float(v) for k, v in params.items()}, sort_keys=True)}
        for metric in MOO_METRICS:
            mean, var = values[metric]
            row[f"{metric}_mean"] = float(mean)
            row[f"{metric}_sem"] = math.sqrt(max(float(var), 0.0)) if math.isfinite(var) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows).sort_values("drifted_loss_mean", ignore_index=True) if rows else pd.DataFrame()


def plot_pareto(trials: pd.DataFrame, pareto: pd.DataFrame, path: str) -> str:
    """PNG: every completed trial (clean accuracy vs drifted loss) with the Pareto front marked."""
    from matplotlib.figure import Figure  # lazy: 0.4 s of every search's start-up, used by --multi-objective only

    fig = Figure(figsize=(5, 4))
    ax = fig.add_subplot()
    done = trials[trials.status == "completed"]
    ax.scatter(done.objective_mean, done.clean_accuracy, c="0.6", s=18, label="trials")
    if not pareto.empty:
        front = pareto.sort_values("drifted_loss_mean")
        ax.plot(front.drifted_loss_mean, front.clean_accuracy_mean, "o-", c="C3", label="Pareto front")
    ax.set_xlabel("drifted validation loss at target σ (nats, lower is better)")
    ax.set_ylabel("clean validation accuracy")
    ax.legend()
    fig.savefig(path, dpi=120, bbox_inches="tight", format="png")
    return path
