"""Checks of a user's task against its own data, run in the driver before Ray starts: what
would otherwise fail in every trial worker fails once, as one line naming the rule."""

from __future__ import annotations

import torch

from bayesft_tune.data import Splits
from bayesft_tune.errors import UserInputError
from bayesft_tune.tasks.spec import TrialSpec
from bayesft_tune.tasks.task import Task

__all__ = ["check_task"]

MIN_VAL = 2
"""Fewest validation rows: the objective's standard error needs two."""


def check_task(spec: TrialSpec) -> None:
    """Load the spec's task and data and check them (classification tasks; detection tasks
    check their own data).

    Raises:
        UserInputError: a data function that fails or returns something else, a split that
            is empty or too small, labels outside ``[0, classes)``, NaN or infinite inputs,
            no dropout slot, or a forward pass that fails on one batch (both shapes named).
    """
    task = spec.get_task()
    if task.kind != "classification":
        return
    try:
        splits = spec.splits()
    except UserInputError:
        raise
    except Exception as err:  # the user's data function raised: one line, named
        raise UserInputError(f"task {task.name!r}: its data({spec.data_seed}) failed: {type(err).__name__}: {err}. "
                             "Fix the data function.") from err
    _check_splits(task, splits)
    _check_forward(task, splits, spec.batch_size)


def _check_splits(task: Task, splits: Splits) -> None:
    for name in ("train", "val", "test"):
        x, y = getattr(splits, name).tensors
        if len(y) < (MIN_VAL if name == "val" else 1):
            raise UserInputError(f"task {task.name!r}: the {name} split has {len(y)} rows; it needs at least "
                                 f"{MIN_VAL if name == 'val' else 1}. Pass more data or a larger val_fraction.")
        if not torch.isfinite(x).all():
            raise UserInputError(f"task {task.name!r}: the {name} inputs hold {int((~torch.isfinite(x)).sum())} NaN "
                                 "or infinite values; impute or drop those rows.")
        if y.dtype != torch.int64 or y.min() < 0 or y.max() >= splits.num_classes:
            raise UserInputError(f"task {task.name!r}: the {name} labels must be int64 in [0, {splits.num_classes}) "
                                 f"(num_classes); got {y.dtype} in [{int(y.min())}, {int(y.max())}]. Encode classes "
                                 "as 0..K-1 and set num_classes to K.")


def _check_forward(task: Task, splits: Splits, batch_size: int) -> None:
    x = splits.train.tensors[0][: max(2, min(batch_size, 8))]
    try:
        torch.manual_seed(0)
        net = task.build().eval()
        with torch.no_grad():
            out = net(x)
    except UserInputError:
        raise
    except Exception as err:
        raise UserInputError(f"task {task.name!r}: the model's forward fails on one batch of the data, inputs of shape "
                             f"{tuple(x.shape)}: {type(err).__name__}: {err}. Make the model take inputs of shape "
                             f"N x {' x '.join(map(str, splits.input_shape))}.") from err
    if not task.slots():
        raise UserInputError(f"task {task.name!r}: a network needs at least 2 Linear/Conv layers to have a dropout "
                             f"slot (after every such layer but the last); {type(net).__name__} has fewer. Pass a "
                             "deeper network.")
    want = (len(x), splits.num_classes)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != want:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise UserInputError(f"task {task.name!r}: the model maps inputs of shape {tuple(x.shape)} to {got}; it must "
                             f"return logits of shape {want} (N x num_classes).")
