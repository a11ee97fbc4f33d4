"""Checks of a command's own inputs, before any data is loaded or model trained.

Each raises :class:`~bayesft_tune.errors.UserInputError` naming the rule, the value and the fix:

* :func:`check_sigmas`: a σ grid is non-empty, finite and >= 0;
* :func:`check_output_path`: an output file never overwrites a run's tables;
* :func:`check_device`, :func:`load_checkpoint`, :func:`check_checkpoint_matches`:
  ``evaluate``'s device and checkpoint.
"""

from __future__ import annotations

import math
import os
import posixpath
from typing import Any, Iterable

import pyarrow.fs as pafs

from bayesft_tune.errors import UserInputError
from bayesft_tune.run_dir import RUN_TABLES, run_files
from bayesft_tune.storage import resolve

__all__ = ["check_checkpoint_matches", "check_device", "check_output_path", "check_sigmas", "enclosing_run",
           "load_checkpoint"]

def enclosing_run(fs: pafs.FileSystem, path: str) -> str | None:
    """The nearest directory at or above ``path`` that is a run (see :data:`RUN_FILES`), if any."""
    current = path.rstrip("/") or "/"
    while True:
        if fs.get_file_info(current).type == pafs.FileType.Directory and run_files(fs, current):
            return current
        parent = posixpath.dirname(current)
        if parent in (current, ""):
            return None
        current = parent


def check_sigmas(name: str, values: Iterable[Any] | None) -> tuple[float, ...]:
    """Check a σ grid (``name`` is the flag or setting, e.g. ``"--sigmas"``); returns it as floats.

    Raises:
        UserInputError: empty, not numbers, not finite, or negative.
    """
    grid = list(values) if values is not None and not isinstance(values, (str, bytes)) else None
    if not grid:
        raise UserInputError(f"{name} must list one or more drift strengths σ >= 0; got {values!r}. "
                             f"Pass e.g. {name} 0,0.3,0.6,0.9.")
    bad = [v for v in grid if isinstance(v, bool) or not isinstance(v, (int, float))
           or not math.isfinite(v) or v < 0]
    if bad:
        raise UserInputError(f"{name} must hold finite numbers σ >= 0; got {bad[0]!r} in {grid}. "
                             f"Pass e.g. {name} 0,0.3,0.6,0.9.")
    return tuple(float(v) for v in grid)


def check_output_path(path: str, flag: str = "--out") -> None:
    """Refuse an output file that would overwrite a search run's tables.

    Refused: a file named ``trials.parquet`` or ``history.parquet``, any file at any depth
    inside a run directory (one holding a run's own files: its trials' ``result.json`` and
    checkpoints included), an existing directory, and (local paths) a path below an existing file.

    Raises:
        UserInputError: naming the path and the rule.
    """
    fs, full = resolve(path)
    name, parent = posixpath.basename(full), posixpath.dirname(full)
    fix = f"Pass {flag} a new file outside the run directory, e.g. {flag} robustness-eval.parquet."
    if name in RUN_TABLES:
        raise UserInputError(f"{flag} must not overwrite a search run's table ({name}); got {path!r}. {fix}")
    run = enclosing_run(fs, parent)
    if run is not None:
        raise UserInputError(f"{flag} must not write into a search run directory ({run} holds "
                             f"{', '.join(run_files(fs, run)[:3])}); got {path!r}. {fix}")
    if fs.get_file_info(full).type == pafs.FileType.Directory:
        raise UserInputError(f"{flag} must be a file path, not an existing directory; got {path!r}. {fix}")
    blocker = _file_in_the_way(fs, parent)
    if blocker:
        raise UserInputError(f"{flag} must be a path whose parents are directories; {blocker!r} is a file. "
                             f"Got {path!r}. {fix}")


def _file_in_the_way(fs: pafs.FileSystem, directory: str) -> str | None:
    """The nearest existing ancestor of ``directory`` if it is a file (local filesystems only)."""
    if not isinstance(fs, pafs.LocalFileSystem):
        return None
    while directory and not os.path.exists(directory):
        directory = os.path.dirname(directory.rstrip("/")) if directory != "/" else ""
    return directory if directory and not os.path.isdir(directory) else None


def check_device(text: str) -> None:
    """Check that ``text`` names a torch device this machine has (``cpu``, ``cuda[:N]``, ``mps``).

    Raises:
        UserInputError: not a device string, or the device is not present.
    """
    import torch  # heavy; only the evaluate command needs it here

    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError) as err:
        raise UserInputError(f"--device must be a torch device: cpu, cuda, cuda:N or mps; got {text!r}. "
                             "Pass e.g. --device cpu.") from err
    if dev.type == "cuda":
        count = torch.cuda.device_count()
        if count == 0 or (dev.index or 0) >= count:
            have = f"cuda:0..cuda:{count - 1}" if count else "no CUDA device"
            raise UserInputError(f"--device must be a device this machine has; got {text!r}, but it has "
                                 f"{have}. Pass --device cpu{' or cuda:0' if count else ''}.")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise UserInputError(f"--device must be a device this machine has; got {text!r}, but MPS is not "
                             "available. Pass --device cpu.")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise UserInputError(f"--device must be cpu, cuda, cuda:N or mps; got {text!r}. Pass --device cpu.")


def load_checkpoint(path: str) -> dict:
    """Load a checkpoint written by ``evaluate --save`` or a search trial (``trial.pt``).

    Raises:
        UserInputError: missing, a directory, truncated, not a torch file, or without weights.
    """
    import torch  # heavy; only the evaluate command needs it here

    fix = "Pass the .pt file written by 'bayesft-tune evaluate --save' or a trial's trial.pt."
    if os.path.isdir(path):
        raise UserInputError(f"--checkpoint must be a file, not a directory; got {path!r}. {fix}")
    if not os.path.exists(path):
        raise UserInputError(f"--checkpoint must be an existing file; {path!r} does not exist. {fix}")
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # noqa: BLE001 - torch raises RuntimeError, UnpicklingError, EOFError, ...
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise UserInputError(f"--checkpoint must be a complete torch checkpoint; loading {path!r} failed "
                             f"({reason}): the file is truncated or not a torch file. {fix}") from err
    if not isinstance(_weights(state), dict):
        keys = sorted(state)[:8] if isinstance(state, dict) else type(state).__name__
        raise UserInputError(f"--checkpoint must hold model weights ('state_dict', or 'trainer' -> 'model'); "
                             f"{path!r} holds {keys}. {fix}")
    return state


def _weights(state: Any) -> Any:
    if not isinstance(state, dict):
        return None
    trainer = state.get("trainer")
    return state.get("state_dict", trainer.get("model") if isinstance(trainer, dict) else None)


def check_checkpoint_matches(state: dict, model: Any, model_name: str, path: str) -> dict:
    """The checkpoint's weights, if their keys and shapes match ``model``'s state dict.

    Raises:
        UserInputError: naming missing/unexpected keys and shape mismatches, and the
            model (or task) the checkpoint was saved for when it says.
    """
    weights = _weights(state)
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    have = {k: tuple(getattr(v, "shape", ())) for k, v in weights.items()}
    missing, unexpected = sorted(set(want) - set(have)), sorted(set(have) - set(want))
    shapes = [f"{k}: checkpoint {have[k]} vs model {want[k]}" for k in want if k in have and have[k] != want[k]]
    if not (missing or unexpected or shapes):
        return weights
    saved = state.get("model") or state.get("task")
    hint = f"It was saved for {saved!r}: pass --model (and --dataset) of that network." if saved else (
        "Pass the --model (and --dataset) the checkpoint was trained with.")
    raise UserInputError(f"--checkpoint must match --model {model_name}: the checkpoint's keys/shapes do not "
                         f"match the model's (missing {missing[:3]}, unexpected {unexpected[:3]}, "
                         f"shape mismatch {shapes[:3]}) in {path!r}. {hint}")
