"""Trainable: AlexNet (CIFAR variant), CIFAR-10, 3 x 32 x 32."""

from __future__ import annotations

from trainables._common import Task, register_task

TASK = Task(name="cifar10_alexnet", model="alexnet", dataset="cifar10", epochs=30, batch_size=128, lr=1e-3,
            eval_batch_size=1024, description="AlexNet (CIFAR variant), CIFAR-10, 3 x 32 x 32",
            smoke={"batch_size": 16, "eval_batch_size": 64, "model_kwargs": {"fc_width": 64}})
trainable = register_task(TASK)
