"""Ray Tune trainables: the thin entry layer between Tune and :mod:`bayesft_tune.tasks`.

``run_trial`` trains any registered task (its config is ``TrialSpec.to_config(params)``);
``compare_trial`` and ``ablation_trial`` are the trials of the ``compare`` and
``ablation`` commands. Tasks are rows of :mod:`bayesft_tune.tasks.table`.
"""

from __future__ import annotations

from bayesft_tune.tasks import TASKS, Task, get_task
from trainables._common import run_trial

__all__ = ["TASKS", "Task", "get_task", "run_trial"]
