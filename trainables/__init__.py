"""Ray Tune trainables, one module per task; ``TASKS`` maps task names to their specs.

Each module defines ``TASK`` (a :class:`Task`) and ``trainable`` (a Ray Tune function
trainable). Tasks on other datasets are registered the same way.
"""

from __future__ import annotations

from trainables import (cifar10_alexnet, cifar10_preact_resnet18, cifar10_resnet18, cifar10_vgg11,
                        cifar10_vgg16, gtsrb_stn, mnist_lenet5, mnist_mlp, pennfudan_maskrcnn)
from trainables._common import TASKS, Task, get_task, register_task, run_trial

__all__ = ["TASKS", "Task", "get_task", "register_task", "run_trial", "cifar10_alexnet",
           "cifar10_preact_resnet18", "cifar10_resnet18", "cifar10_vgg11", "cifar10_vgg16", "gtsrb_stn",
           "mnist_lenet5", "mnist_mlp", "pennfudan_maskrcnn"]
