"""(b) of ``bench/vs_plain_loop.py``: the service's job written as a plain sequential loop with the
library's own functions, run in the ``--plain`` child process; and the returned network's test AUC."""

from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import torch

    from bayesft_tune.search.config import SearchConfig
    from bayesft_tune.tasks.space import Knobs
    from bayesft_tune.tasks.spec import TrialSpec


def returned_auc(robustness: pd.DataFrame) -> float:
    """Test AUC (mean accuracy over σ in [0, 1.5]) of the returned network's robustness rows."""
    from bayesft_tune.paired import auc_of

    rows = robustness[robustness.method == "bayesft"]
    return auc_of(rows.sigma.to_numpy(), rows.accuracy_mean.to_numpy())


def _plain_trial(spec: TrialSpec, knobs: Knobs, device: torch.device) -> tuple[dict, dict | None]:
    """Train one trial; return its last evaluated metrics and the checkpoint state of that epoch."""
    from bayesft_tune.tasks.trial import Trial

    trial, last, state = Trial(spec, knobs, device), {}, {}

    def report(metrics: dict, evaluated: bool) -> None:
        if evaluated:
            last.clear()
            last.update(metrics)
            state["s"] = {"trainer": copy.deepcopy(trial.trainer.state_dict()), "task": spec.task,
                          "knobs": knobs.to_dict(), "rates": list(knobs.dropout)}
    trial.run(report)
    return last, state.get("s")


def _plain_trials(cfg: SearchConfig, spec: TrialSpec, client: Any) -> tuple[list[dict], dict, float]:
    """Ask Ax for one trial at a time, train it, complete it; returns rows, states, Ax seconds."""
    import torch

    obj, rows, states, gen_s = spec.objective, [], {}, 0.0
    for _ in range(cfg.trials):
        t = time.perf_counter()
        ((index, params),) = client.get_next_trials(max_trials=1).items()
        gen_s += time.perf_counter() - t
        last, state = _plain_trial(spec, spec.knobs(params), torch.device("cpu"))
        mean, sem = last.get(obj.name, math.nan), last.get(obj.sem_metric, math.nan)
        ok = all(isinstance(v, float) and math.isfinite(v) for v in (mean, sem))
        if ok:
            client.complete_trial(index, raw_data={obj.name: (mean, sem),
                                                   "clean_accuracy": (last["clean_accuracy"], 0.0)})
            states[str(index)] = state
        else:
            client.mark_trial_failed(index, failed_reason=f"non-finite {obj.name}")
        rows.append({"trial_id": str(index), "status": "completed" if ok else "failed", "objective_mean": mean,
                     "clean_accuracy": last.get("clean_accuracy"), "wall_time_s": last.get("time_s")})
    return rows, states, gen_s


def _plain_candidates(cfg: SearchConfig, spec: TrialSpec, rows: list[dict], states: dict,
                      floor: float | None) -> tuple:
    """``driver_jobs.candidates`` without Ray's result grid: top-k completed trials above the floor."""
    import pandas as pd

    from bayesft_tune.tasks.final import Candidate

    done = pd.DataFrame(rows)
    done = done[done.status == "completed"].dropna(subset=["objective_mean"])
    if floor is not None and (done.clean_accuracy >= floor).any():
        done = done[done.clean_accuracy >= floor]
    top = done.sort_values("objective_mean", ascending=spec.objective.direction == "min").head(cfg.reselect_top_k)
    return tuple(Candidate(r.trial_id, float(r.objective_mean), states[r.trial_id]) for r in top.itertuples())


def plain_search(task: str, seed: int, trials: int, epochs: int | None, result: str) -> None:
    """(b): the service's whole job (search seed ``seed``), in order, in this process on one thread; writes ``result``."""
    t0, started = time.time(), time.perf_counter()
    import torch

    from bayesft_tune.search.searcher import make_client
    from bayesft_tune.search.config import SearchConfig
    from bayesft_tune.search.driver_jobs import min_clean
    from bayesft_tune.search.tuner import search_spec
    from bayesft_tune.seeds import stream_seed
    from bayesft_tune.tasks.final import FinalJob, run_final, train_reference

    torch.set_num_threads(1)
    marks = {"imports": time.perf_counter()}
    cfg = SearchConfig(task=task, seed=seed, trials=trials, epochs=epochs, verbose=False)
    spec = search_spec(cfg)
    reference = train_reference(spec, "cpu", 1)
    floor, obj = min_clean(cfg, reference), spec.objective
    marks["reference"] = time.perf_counter()
    client = make_client(spec.space.parameters(spec.get_task()), obj.name, obj.direction == "min",
                         [f"clean_accuracy >= {floor}"] if floor is not None else [], cfg.seed, cfg.method,
                         cfg.initialization_budget)
    rows, states, gen_s = _plain_trials(cfg, spec, client)
    marks["trials"] = time.perf_counter()
    job = FinalJob(spec, _plain_candidates(cfg, spec, rows, states, floor), cfg.erm_baseline, reference,
                   tuple(cfg.robustness_sigmas), cfg.robustness_samples, stream_seed(cfg.seed, "reselect"),
                   stream_seed(cfg.seed, "test"), floor, threads=1)
    robustness, _ = run_final(job)
    marks["final"] = time.perf_counter()
    seconds, prev = {"ray_start": 0.0}, started
    for name, at in marks.items():
        seconds[name], prev = at - prev, at
    seconds["gp"], seconds["trials"] = gen_s, seconds["trials"] - gen_s
    seconds["gp_blocking"] = gen_s  # one trial at a time: every generation blocks
    Path(result).write_text(json.dumps({"main_start": t0, "seconds": seconds, "floor": floor, "rows": rows,
                                        "auc": returned_auc(robustness)}))
