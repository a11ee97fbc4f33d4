"""A trial's training does not depend on when it is evaluated.

Evaluation must not draw from the random streams training uses (dropout masks come from the
global torch generator). A ``DataLoader`` draws a base seed from that generator each time it is
iterated, even unshuffled, so evaluating through one moved every later dropout mask: a search
with ``--eval-every 1`` trained other networks than the same search evaluating at the end.
"""

from __future__ import annotations

import torch

from bayesft_tune.objective import Objective
from bayesft_tune.tasks import Space, TrialSpec, get_task
from bayesft_tune.tasks.trial import Trial


def _history(eval_epochs: tuple[int, ...]) -> list[dict]:
    task = get_task("mnist_mlp")
    spec = TrialSpec(task="mnist_mlp", space=Space(knobs=("dropout",)), epochs=3, batch_size=task.batch_size,
                     lr=task.lr, objective=Objective("drifted_loss", 0.9, (0.9,), 4), train_seed=3,
                     select_seed=5, eval_epochs=eval_epochs)
    knobs = spec.knobs({name: 0.3 for name in task.parameter_names()})
    reports: list[dict] = []
    Trial(spec, knobs, torch.device("cpu")).run(lambda metrics, evaluated: reports.append(metrics))
    return reports


def test_training_is_the_same_whether_every_epoch_or_only_the_last_is_evaluated():
    every, last = _history((1, 2, 3)), _history(())
    assert [r["drift_evaluated"] for r in every] == [True, True, True]
    assert [r["drift_evaluated"] for r in last] == [False, False, True]
    for key in ("train_loss", "clean_loss", "clean_accuracy"):
        assert [r[key] for r in every] == [r[key] for r in last], key
    assert every[-1]["drifted_loss"] == last[-1]["drifted_loss"]
