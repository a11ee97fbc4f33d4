"""Trainable: VGG-11 with BatchNorm (CIFAR variant), CIFAR-10, 3 x 32 x 32."""

from __future__ import annotations

from trainables._common import Task, register_task

TASK = Task(name="cifar10_vgg11", model="vgg11", dataset="cifar10", epochs=30, batch_size=128, lr=1e-3,
            eval_batch_size=1024, description="VGG-11 with BatchNorm (CIFAR variant), CIFAR-10, 3 x 32 x 32",
            smoke={"batch_size": 16, "eval_batch_size": 64, "model_kwargs": {"width": 8}})
trainable = register_task(TASK)
