"""Benchmark: the search service vs a plain one-process Ax loop that does the same job.

Two whole processes are timed per task, alternating A B A B (``--repeats`` pairs), each
from a fresh interpreter under ``/usr/bin/time -v`` (else wall time and
``getrusage(RUSAGE_CHILDREN)``); the wall is the bench's own clock around the child:

* (a) the service's default search: ``bayesft-tune search --task TASK --storage-path TMP
  --name UNIQUE --quiet`` (Ray Tune, Ax searcher, 2 trials at once, Ray started locally);
* (b) ``python bench/vs_plain_loop.py --plain --task TASK``: the same job written as a
  sequential loop with the library's own functions: same ``SearchConfig`` (network, data
  split, budget, search space, objective, seed), ERM reference (``train_reference``),
  clean-accuracy floor (``driver_jobs.min_clean``), Ax ``Client`` (``make_client``, outcome
  constraint ``clean_accuracy >= floor``), ``ClassificationTrial`` per trial,
  ``client.get_next_trials(max_trials=1)`` / ``client.complete_trial`` one trial at a time,
  top-k candidates and ``run_final(FinalJob)``; one core (``torch.set_num_threads(1)``,
  ``OMP_NUM_THREADS=1``).

Where (a)'s wall goes comes from its run directory and files (each run gets its own
``RAY_TMPDIR``): start-up (interpreter, imports, CLI) = process start to
``search_config.json`` written; Ray start-up = that to the first line of Ray's
``python-core-driver-*.log`` (``ray.init`` connected the driver); ERM reference = that to
``reference.pt`` (a Ray worker's start included); final evaluation = last ``trials.parquet``
write to ``robustness.parquet``; shutdown+exit = ``selection.parquet`` to process end.
Two shares are *estimates*: trial compute = sum of ``trials.parquet`` ``wall_time_s``
(Tune's ``time_total_s``, which includes the trainable's set-up) / concurrency, and GP.
GP comes twice: GP total = the searcher's ``generation_seconds`` (every Ax generation,
driver time; pre-generation overlaps it with running trials) and GP blocking a slot = its
``blocking_seconds`` (the generations made in Tune's thread while a free slot waited, a part
of GP total); "rest" counts only the blocking part (in (b) the two are equal). The
search's printed ``wall time:`` (whole seconds, from before ``ray.init``) is kept as a
cross-check. (b) times the same phases in-process. Both report the returned network's test
AUC (mean accuracy over σ in [0, 1.5], ``paired.auc_of``) to show they did the same job.

    python bench/vs_plain_loop.py [--tasks mnist_mlp,mnist_lenet5] [--repeats 2] [--trials 30]
        [--epochs N] [--out bench/results/vs_plain_loop.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import torch

    from bayesft_tune.search.config import SearchConfig
    from bayesft_tune.tasks.space import Knobs
    from bayesft_tune.tasks.spec import TrialSpec

HERE = Path(__file__).resolve()
TIME_BIN = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
SHARES = ("startup", "ray_start", "reference", "trials", "gp", "gp_blocking", "final", "shutdown")
LABELS = ("start-up", "Ray start-up", "ERM reference", "trial compute", "GP total (Ax generation)",
          "GP blocking a slot", "final evaluation", "shutdown+exit")
PARTITION = tuple(k for k in SHARES if k != "gp")
"""The shares that do not overlap: "rest" is the wall minus these (GP total includes GP blocking a slot)."""


def returned_auc(robustness: pd.DataFrame) -> float:
    """Test AUC (mean accuracy over σ in [0, 1.5]) of the returned network's robustness rows."""
    from bayesft_tune.paired import auc_of

    rows = robustness[robustness.method == "bayesft"]
    return auc_of(rows.sigma.to_numpy(), rows.accuracy_mean.to_numpy())


# ---- (b): the plain loop ---------------------------------------------------------------------
def _plain_trial(spec: TrialSpec, knobs: Knobs, device: torch.device) -> tuple[dict, dict | None]:
    """Train one trial; return its last evaluated metrics and the checkpoint state of that epoch."""
    from bayesft_tune.tasks.trial import ClassificationTrial

    trial, last, state = ClassificationTrial(spec, knobs, device), {}, {}

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
    """``driver_jobs._candidates`` without Ray's result grid: top-k completed trials above the floor."""
    import pandas as pd

    from bayesft_tune.tasks.final import Candidate

    done = pd.DataFrame(rows)
    done = done[done.status == "completed"].dropna(subset=["objective_mean"])
    if floor is not None and (done.clean_accuracy >= floor).any():
        done = done[done.clean_accuracy >= floor]
    top = done.sort_values("objective_mean", ascending=spec.objective.direction == "min").head(cfg.reselect_top_k)
    return tuple(Candidate(r.trial_id, float(r.objective_mean), states[r.trial_id]) for r in top.itertuples())


def plain_search(task: str, trials: int, epochs: int | None, result: str) -> None:
    """(b): the service's whole job, in order, in this process on one thread; writes ``result``."""
    t0, started = time.time(), time.perf_counter()
    import torch

    from bayesft_tune.search._ax import make_client
    from bayesft_tune.search.config import SearchConfig
    from bayesft_tune.search.driver_jobs import min_clean
    from bayesft_tune.search.tuner import search_spec
    from bayesft_tune.seeds import stream_seed
    from bayesft_tune.tasks.final import FinalJob, run_final, train_reference

    torch.set_num_threads(1)
    marks = {"imports": time.perf_counter()}
    cfg = SearchConfig(task=task, trials=trials, epochs=epochs, verbose=False)
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


# ---- timing whole processes -----------------------------------------------------------------
def _time_v(path: str) -> dict[str, float]:
    """User/system seconds and peak RSS from a ``/usr/bin/time -v`` report."""
    text = Path(path).read_text()
    grab = lambda label: float(re.search(rf"{label}: ([\d.]+)", text).group(1))  # noqa: E731
    return {"user_s": grab(r"User time \(seconds\)"), "sys_s": grab(r"System time \(seconds\)"),
            "max_rss_mb": grab(r"Maximum resident set size \(kbytes\)") / 1024}


def time_process(cmd: list[str], env: dict[str, str], tmp: str) -> dict[str, Any]:
    """Run ``cmd`` to completion; wall from the bench's clock, CPU and peak RSS from ``time -v``
    (else ``getrusage(RUSAGE_CHILDREN)``; Ray daemons not reaped by the child are not counted)."""
    report = os.path.join(tmp, f"time-{uuid.uuid4().hex[:8]}.txt")
    full = [TIME_BIN, "-v", "-o", report, *cmd] if TIME_BIN else cmd
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start, t = time.time(), time.perf_counter()
    proc = subprocess.run(full, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall, end = time.perf_counter() - t, time.time()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}")
    if TIME_BIN:
        usage = _time_v(report)
    else:
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        usage = {"user_s": after.ru_utime - before.ru_utime, "sys_s": after.ru_stime - before.ru_stime,
                 "max_rss_mb": after.ru_maxrss / 1024}
    return {"wall_s": wall, "start": start, "end": end, **usage, "output": proc.stdout}


def _driver_connected(ray_dir: Path) -> float:
    """Time of the first line of Ray's driver log (``ray.init`` done), or NaN."""
    for log in sorted(ray_dir.glob("*/session_2*/logs/python-core-driver-*.log")):  # RAY_TMPDIR/ray/session_…
        match = re.search(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d+)", log.read_text(errors="replace")[:500])
        if match:
            return datetime.strptime(match.group(1).replace(",", "."), "%Y-%m-%d %H:%M:%S.%f").timestamp()
    return math.nan


def service_shares(run_dir: Path, ray_dir: Path, proc: dict) -> dict[str, Any]:
    """Seconds of (a)'s wall per phase, from its run directory's files and logs (see module doc)."""
    import pandas as pd

    from bayesft_tune.search.rundir import searcher_times

    mtime = lambda name: (run_dir / name).stat().st_mtime  # noqa: E731
    concurrency = json.loads((run_dir / "search_config.json").read_text())["concurrency"]
    trials = pd.read_parquet(run_dir / "trials.parquet")
    connected = _driver_connected(ray_dir)
    printed = re.search(r"wall time: (\d+) s", proc["output"])
    gp_total, gp_blocking = searcher_times(str(run_dir))
    seconds = {"startup": mtime("search_config.json") - proc["start"],
               "ray_start": connected - mtime("search_config.json"),
               "reference": mtime("reference.pt") - connected,
               "trials": float(trials.wall_time_s.sum()) / concurrency,
               "gp": gp_total, "gp_blocking": gp_blocking,
               "final": mtime("robustness.parquet") - mtime("trials.parquet"),
               "shutdown": proc["end"] - mtime("selection.parquet")}
    return {"seconds": seconds, "concurrency": concurrency, "trial_seconds_sum": float(trials.wall_time_s.sum()),
            "printed_wall_s": float(printed.group(1)) if printed else math.nan,
            "trials_completed": int((trials.status == "completed").sum())}


def run_service(task: str, args: argparse.Namespace, tmp: str) -> dict[str, Any]:
    """(a): one default search as a whole process; its wall, breakdown and test AUC."""
    import pandas as pd

    key = uuid.uuid4().hex[:6]  # RAY_TMPDIR stays short: Ray's socket paths must fit 107 bytes
    name, ray_dir = f"vs-plain-{task}-{key}", Path(tmp) / f"r{key}"
    cmd = [str(Path(sys.executable).parent / "bayesft-tune"), "search", "--task", task, "--storage-path",
           os.path.join(tmp, "runs"), "--name", name, "--quiet", "--trials", str(args.trials)]
    cmd += ["--epochs", str(args.epochs)] if args.epochs else []
    env = {**os.environ, "RAY_TMPDIR": str(ray_dir)}  # its own Ray session dir, to find its driver log
    proc = time_process(cmd, env, tmp)
    run_dir = Path(tmp) / "runs" / name
    out = {**{k: v for k, v in proc.items() if k != "output"}, **service_shares(run_dir, ray_dir, proc),
           "auc": returned_auc(pd.read_parquet(run_dir / "robustness.parquet"))}
    for path in () if args.keep else (run_dir, ray_dir):
        shutil.rmtree(path, ignore_errors=True)
    return out


def run_plain(task: str, args: argparse.Namespace, tmp: str) -> dict[str, Any]:
    """(b): the plain loop as a whole process (``--plain``), on one core."""
    result = os.path.join(tmp, f"plain-{uuid.uuid4().hex[:8]}.json")
    cmd = [sys.executable, str(HERE), "--plain", "--task", task, "--trials", str(args.trials), "--result", result]
    cmd += ["--epochs", str(args.epochs)] if args.epochs else []
    proc = time_process(cmd, {**os.environ, "OMP_NUM_THREADS": "1"}, tmp)
    inner = json.loads(Path(result).read_text())
    sec = inner["seconds"]
    sec["startup"] = inner.pop("main_start") - proc["start"] + sec.pop("imports")  # interpreter + imports
    sec["shutdown"] = proc["end"] - proc["start"] - sum(sec[k] for k in sec if k != "gp")  # interpreter exit
    return {**{k: v for k, v in proc.items() if k != "output"}, **inner,
            "trial_seconds_sum": sum(r["wall_time_s"] or 0.0 for r in inner["rows"])}


# ---- summary ------------------------------------------------------------------------------------
def summarize(task: str, pairs: list[dict]) -> dict[str, Any]:
    """Walls, median a/b, test AUCs and each side's median share of its wall per phase."""
    ratios = [p["a"]["wall_s"] / p["b"]["wall_s"] for p in pairs]
    out = {"task": task, "ratios": ratios, "median_ratio": statistics.median(ratios)}
    for side in "ab":
        runs = [p[side] for p in pairs]
        out[f"{side}_walls_s"], out[f"{side}_auc"] = [r["wall_s"] for r in runs], [r["auc"] for r in runs]
        out[f"{side}_shares"] = {k: statistics.median(r["seconds"][k] / r["wall_s"] for r in runs) for k in SHARES}
    return out


def markdown(summaries: list[dict]) -> str:
    """Walls, ratio and AUC per task; then each side's share of its wall per phase, with how it was got."""
    f = lambda xs, d=1: ", ".join(f"{x:.{d}f}" for x in xs)  # noqa: E731
    lines = ["| task | a walls (s) | b walls (s) | a/b per repeat | median a/b | test AUC a | test AUC b |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {s['task']} | {f(s['a_walls_s'])} | {f(s['b_walls_s'])} | {f(s['ratios'], 2)} | "
              f"{s['median_ratio']:.2f} | {f(s['a_auc'], 4)} | {f(s['b_auc'], 4)} |" for s in summaries]
    lines += ["", "| task | " + " | ".join(LABELS) + " | rest |", "|---|" + "---|" * (len(SHARES) + 1)]
    for s, side in ((s, side) for s in summaries for side in "ab"):
        shares = s[f"{side}_shares"]
        rest = 1 - sum(shares[k] for k in PARTITION)
        cells = [f"{100 * shares[k]:.1f}%" for k in SHARES] + [f"{100 * rest:.1f}%"]
        lines.append(f"| {s['task']} ({side}) | " + " | ".join(cells) + " |")
    lines += ["", "Median share of each process's wall; (b) timed in-process, (a) from its files' times (module "
              "docstring) except two ESTIMATES: (a)'s trial compute = sum of trials' wall_time_s (trainable set-up "
              "included) / concurrency, and GP total, which may overlap running trials; GP blocking a slot is the part of "
              "it a free slot waited for; rest = the wall minus every share but GP total (Tune/worker overhead)."]
    return "\n".join(lines)


def write_results(out: str, settings: dict, raw: dict[str, list[dict]]) -> list[dict]:
    """Summarise every task's pairs so far and (re)write the JSON; returns the summaries."""
    summaries = [summarize(task, pairs) for task, pairs in raw.items()]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({"settings": settings, "time_bin": TIME_BIN, "nproc": os.cpu_count(),
                                     "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "summary": summaries,
                                     "runs": raw}, indent=1))
    return summaries


def bench(args: argparse.Namespace) -> None:
    """Alternate A B per task and repeat, rewriting the JSON after every pair; print the tables."""
    tmp, raw = tempfile.mkdtemp(prefix="vspl_"), {}
    settings = {k: v for k, v in vars(args).items() if k not in ("plain", "result", "task")}
    try:
        for task, r in ((task, r) for task in args.tasks for r in range(args.repeats)):
            a, b = run_service(task, args, tmp), run_plain(task, args, tmp)
            raw.setdefault(task, []).append({"a": a, "b": b})
            print(f"{task} repeat {r}: a {a['wall_s']:.1f} s, b {b['wall_s']:.1f} s", file=sys.stderr, flush=True)
            summaries = write_results(args.out, settings, raw)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(markdown(summaries))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=lambda s: [t for t in s.split(",") if t], default=["mnist_mlp", "mnist_lenet5"])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=None, help="default: the task's")
    ap.add_argument("--out", default=str(HERE.parent / "results" / "vs_plain_loop.json"))
    ap.add_argument("--keep", action="store_true", help="keep run directories and Ray session dirs")
    for hidden in ("--plain", "--task", "--result"):  # the (b) child process: --plain --task T --result FILE
        ap.add_argument(hidden, **({"action": "store_true"} if hidden == "--plain" else {}), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.plain:
        plain_search(args.task, args.trials, args.epochs, args.result)
    else:
        bench(args)


if __name__ == "__main__":
    main()
