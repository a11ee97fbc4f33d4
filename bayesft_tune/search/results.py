"""Getting a searched network back: ``load_trial_model(run_dir)``."""

from __future__ import annotations

import os
import tempfile

import pyarrow.fs as pafs
from torch import nn

from bayesft_tune.errors import UserInputError
from bayesft_tune.run_dir import RunDir
from bayesft_tune.storage import resolve
from bayesft_tune.tasks.checkpoint import CHECKPOINT_FILE, load_state, model_from_state

__all__ = ["load_trial_model", "returned_trial_id"]


def returned_trial_id(run_dir: str) -> str:
    """The trial the search returned (``selection.parquet``), else the best observed trial."""
    try:
        selection = RunDir(run_dir).read_table("selection")
        if not selection.empty and selection.chosen.any():
            return str(selection[selection.chosen].trial_id.iloc[0])
    except (OSError, FileNotFoundError):
        pass
    try:
        trials = RunDir(run_dir).read_table("trials")
    except (OSError, FileNotFoundError) as err:
        raise UserInputError(f"{run_dir!r} holds no trials.parquet; pass a search's run directory.") from err
    done = trials[trials.status == "completed"].dropna(subset=["objective_mean"])
    if done.empty:
        raise UserInputError(f"the search in {run_dir!r} completed no trial; there is no network to load.")
    direction = done.objective_direction.dropna().iloc[0] if "objective_direction" in done and \
        done.objective_direction.notna().any() else "min"
    return str(done.sort_values("objective_mean", ascending=direction == "min").trial_id.iloc[0])


def _checkpoint_path(run_dir: str, trial_id: str) -> tuple[pafs.FileSystem, str]:
    fs, root = resolve(run_dir)
    trial_dir = f"{root}/trial_{trial_id}"
    if fs.get_file_info(trial_dir).type != pafs.FileType.Directory:
        raise UserInputError(f"no trial {trial_id!r} in {run_dir!r} (no trial_{trial_id}/); see the trial_id "
                             "column of its trials.parquet.")
    found = sorted(i.path for i in fs.get_file_info(pafs.FileSelector(trial_dir))
                   if i.base_name.startswith("checkpoint_") and i.type == pafs.FileType.Directory)
    if not found:
        raise UserInputError(f"trial {trial_id!r} in {run_dir!r} left no checkpoint (it may have failed "
                             "before its first evaluated epoch).")
    return fs, f"{found[-1]}/{CHECKPOINT_FILE}"


def load_trial_model(run_dir: str, trial_id: str | None = None) -> nn.Module:
    """The trained network of one trial of a search, in eval mode, on CPU.

    Args:
        run_dir: the search's run directory (local path or URI: ``s3://``, ``gs://``, ``file://``).
        trial_id: a ``trial_id`` of its ``trials.parquet``; None: the network the search
            returned (re-selected among the top trials, see ``selection.parquet``).

    Raises:
        UserInputError: not a run directory, unknown trial, or no checkpoint.
    """
    if not isinstance(run_dir, str) or not run_dir.strip():
        raise UserInputError(f"load_trial_model needs a run directory (a path or URI a search printed); got "
                             f"{run_dir!r}.")
    if trial_id is not None and not isinstance(trial_id, str):
        raise UserInputError(f"trial_id must be a trial_id string of the run's trials.parquet; got {trial_id!r}.")
    trial_id = trial_id or returned_trial_id(run_dir)
    fs, path = _checkpoint_path(run_dir, str(trial_id))
    if isinstance(fs, pafs.LocalFileSystem):
        return model_from_state(load_state(path))
    with tempfile.TemporaryDirectory() as d, fs.open_input_stream(path) as src:
        local = os.path.join(d, CHECKPOINT_FILE)
        with open(local, "wb") as dst:
            dst.write(src.read())
        return model_from_state(load_state(local))

