"""Trainable: spatial transformer network, GTSRB (43 classes), 3 x 32 x 32."""

from __future__ import annotations

from trainables._common import Task, register_task

TASK = Task(name="gtsrb_stn", model="stn", dataset="gtsrb", epochs=15, batch_size=128, lr=1e-3,
            eval_batch_size=1024, description="spatial transformer network, GTSRB (43 classes), 3 x 32 x 32",
            smoke={"batch_size": 16, "eval_batch_size": 64, "model_kwargs": {"widths": (8, 8, 8), "fc_width": 16}})
trainable = register_task(TASK)
