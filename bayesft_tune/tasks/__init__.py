"""Tasks: the task table, the typed trial spec and search space, a trial's training loop,
checkpoints and the search's final job. Ray-free; ``trainables`` runs them under Tune."""

from __future__ import annotations

from bayesft_tune.tasks.checkpoint import CHECKPOINT_FILE, build_network, load_state, model_from_state
from bayesft_tune.tasks.space import KNOBS, ChoiceParam, Knobs, Param, RangeParam, Space
from bayesft_tune.tasks.spec import SPEC_KEY, TrialSpec
from bayesft_tune.tasks.table import TABLE
from bayesft_tune.tasks.source import (TASK_MODULES_ENV, get_task, modules_to_ship, reference_for, register_task,
                                       shipped_task)
from bayesft_tune.tasks.task import SMOKE_ENV, TASKS, Task, cached_data

for _task in TABLE:
    TASKS.register(_task.name, _task)

__all__ = ["CHECKPOINT_FILE", "KNOBS", "SMOKE_ENV", "SPEC_KEY", "TASKS", "TASK_MODULES_ENV", "ChoiceParam", "Knobs",
           "Param", "RangeParam", "Space", "Task", "TrialSpec", "build_network", "cached_data", "get_task",
           "load_state", "model_from_state", "modules_to_ship", "reference_for", "register_task", "shipped_task"]
