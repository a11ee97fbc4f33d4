"""Trainable: LeNet5 on MNIST (embedded 5,000 digits offline)."""

from __future__ import annotations

from trainables._common import Task, register_task

TASK = Task(name="mnist_lenet5", model="lenet5", dataset="mnist_embedded", epochs=8, batch_size=64, lr=1e-3,
            description="LeNet-5, embedded MNIST (5,000 digits), 1 x 28 x 28")
trainable = register_task(TASK)
