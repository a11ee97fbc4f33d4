"""Trainable: the paper's 3-layer MLP (784-192-32-10) on MNIST (embedded 5,000 digits offline)."""

from __future__ import annotations

from trainables._common import Task, register_task

TASK = Task(name="mnist_mlp", model="mlp", dataset="mnist_embedded", epochs=10, batch_size=64, lr=1e-3,
            description="3-layer MLP 784-192-32-10, embedded MNIST (5,000 digits), 1 x 28 x 28")
trainable = register_task(TASK)
