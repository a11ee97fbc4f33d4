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
  constraint ``clean_accuracy >= floor``), ``Trial`` per trial,
  ``client.get_next_trials(max_trials=1)`` / ``client.complete_trial`` one trial at a time,
  top-k candidates and ``run_final(FinalJob)``; one core (``torch.set_num_threads(1)``,
  ``OMP_NUM_THREADS=1``).

Where (a)'s wall goes comes from its run directory and files (each run gets its own
``RAY_TMPDIR``): start-up (interpreter, imports, CLI) = process start to
``search_config.json`` written; Ray start-up = that to the first line of Ray's
``python-core-driver-*.log`` (``ray.init`` connected the driver); ERM reference = that to
``reference.pt``, 0 when the reference was done first (on a local CPU search it trains in a
driver thread alongside Ray's start-up, so its time is inside Ray start-up); final evaluation = last ``trials.parquet``
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

    python bench/vs_plain_loop.py [--tasks mnist_mlp,mnist_lenet5] [--seeds 0] [--repeats 2] [--trials 30]
        [--epochs N] [--background-load K] [--out bench/results/vs_plain_loop.json]

``--seeds`` runs the pairs at each search seed (both sides' ``--seed``; the data split's seed
stays 0). The two sides search differently (pending trials change Ax's proposals), so what
their trials cost differs by seed: on LeNet5 the width knob changes a trial's compute
several-fold. Beside a/b the bench prints both sides' summed trial walls and their ratio
(:func:`trial_cost`); ``bench/replay_trials.py`` retrains a kept run's trials alone.

Both sides also record the whole machine's busy and idle core-seconds over their run
(``/proc/stat``): every process's CPU, Ray's workers and daemons included. From them the bench
prints (a)'s *CPU floor*, the lowest a/b its work allows on this many cores (:func:`cpu_floor`):
the gap between a/b and the floor is idle cores, the floor itself is work.

``--background-load K`` runs K processes spinning a core each for the whole bench: the loaded
machine of the throughput issue, made reproducible (both sides share it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

# (b) the plain loop in _vs_plain_loop_plain.py; timing (a) and (b) as whole processes in _vs_plain_loop_runs.py
from _vs_plain_loop_plain import plain_search
from _vs_plain_loop_runs import TIME_BIN, run_plain, run_service

HERE = Path(__file__).resolve()
SHARES = ("startup", "ray_start", "reference", "trials", "gp", "gp_blocking", "final", "shutdown")
LABELS = ("start-up", "Ray start-up", "ERM reference", "trial compute", "GP total (Ax generation)",
          "GP blocking a slot", "final evaluation", "shutdown+exit")
PARTITION = tuple(k for k in SHARES if k != "gp")
"""The shares that do not overlap: "rest" is the wall minus these (GP total includes GP blocking a slot)."""


# ---- summary ------------------------------------------------------------------------------------
def trial_cost(pair: dict) -> float:
    """(a)'s summed trial walls over (b)'s. Above 1 when (a)'s trials took longer in all, for
    two reasons this ratio does not separate: the configurations each search proposed (they
    differ once pending trials change Ax's proposals; on LeNet5 the width knob changes a
    trial's compute several-fold at a fixed parameter budget) and (a)'s own per-trial costs
    (a worker setting up a trial, two trials and the driver's GP sharing the cores).
    ``bench/replay_trials.py`` separates them for a kept run."""
    return pair["a"]["trial_seconds_sum"] / pair["b"]["trial_seconds_sum"]


def cpu_floor(pair: dict) -> float:
    """The lowest a/b (a)'s CPU allows: the machine's busy core-seconds during (a), spread over
    every core, over (b)'s wall. (a) can only get closer to it by idling less, and below it only by
    doing less work. On a quiet machine; a background load's core-seconds count as (a)'s."""
    return pair["a"].get("machine_busy_s", math.nan) / ((os.cpu_count() or 1) * pair["b"]["wall_s"])


def summarize(task: str, pairs: list[dict]) -> dict[str, Any]:
    """Walls, median a/b, the trial-cost ratio, the CPU floor, test AUCs and each side's median
    share of its wall per phase."""
    ratios = [p["a"]["wall_s"] / p["b"]["wall_s"] for p in pairs]
    out = {"task": task, "seeds": [p.get("seed", 0) for p in pairs], "ratios": ratios,
           "median_ratio": statistics.median(ratios), "trial_cost": [trial_cost(p) for p in pairs],
           "cpu_floor": [cpu_floor(p) for p in pairs]}
    for side in "ab":
        runs = [p[side] for p in pairs]
        out[f"{side}_walls_s"], out[f"{side}_auc"] = [r["wall_s"] for r in runs], [r["auc"] for r in runs]
        out[f"{side}_trial_sums_s"] = [r["trial_seconds_sum"] for r in runs]
        out[f"{side}_busy_s"] = [r.get("machine_busy_s", math.nan) for r in runs]
        out[f"{side}_shares"] = {k: statistics.median(r["seconds"][k] / r["wall_s"] for r in runs) for k in SHARES}
    return out


def markdown(summaries: list[dict]) -> str:
    """Walls, ratio and AUC per task; then each side's share of its wall per phase, with how it was got."""
    f = lambda xs, d=1: ", ".join(f"{x:.{d}f}" for x in xs)  # noqa: E731
    lines = ["| task | seeds | a walls (s) | b walls (s) | a/b per pair | median a/b | trial walls summed a (s) | "
             "trial walls summed b (s) | trial walls a/b | test AUC a | test AUC b |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {s['task']} | {', '.join(map(str, s['seeds']))} | {f(s['a_walls_s'])} | {f(s['b_walls_s'])} | "
              f"{f(s['ratios'], 2)} | {s['median_ratio']:.2f} | {f(s['a_trial_sums_s'])} | {f(s['b_trial_sums_s'])} | "
              f"{f(s['trial_cost'], 2)} | {f(s['a_auc'], 4)} | {f(s['b_auc'], 4)} |" for s in summaries]
    lines += ["", "| task | machine busy core-s, a | machine busy core-s, b | CPU floor of a/b |",
              "|---|---|---|---|"]
    lines += [f"| {s['task']} | {f(s['a_busy_s'])} | {f(s['b_busy_s'])} | {f(s['cpu_floor'], 2)} |" for s in summaries]
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


def code_version() -> str:
    """The checkout's commit, ``+dirty`` when tracked files differ from it (``bench/pooled_ratios.py``
    lists it per file, so pairs of different code are not pooled unseen); ``unknown`` outside a git checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def write_results(out: str, settings: dict, raw: dict[str, list[dict]]) -> list[dict]:
    """Summarise every task's pairs so far and (re)write the JSON; returns the summaries."""
    summaries = [summarize(task, pairs) for task, pairs in raw.items()]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({"settings": settings, "code": code_version(), "time_bin": TIME_BIN,
                                     "nproc": os.cpu_count(),
                                     "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "summary": summaries,
                                     "runs": raw}, indent=1))
    return summaries


@contextlib.contextmanager
def background_load(processes: int) -> Iterator[None]:
    """A loaded machine, reproducibly: ``processes`` Python processes each spinning a core
    (``while True: pass``) for as long as the block runs (0: none)."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        yield
    finally:
        for proc in spinners:
            proc.kill()
            proc.wait()


def bench(args: argparse.Namespace) -> None:
    """Alternate A B per task and repeat, rewriting the JSON after every pair; print the tables."""
    tmp, raw = tempfile.mkdtemp(prefix="vspl_"), {}
    settings = {k: v for k, v in vars(args).items() if k not in ("plain", "result", "task")}
    with background_load(args.background_load):
        _pairs(args, tmp, raw, settings)


def _pairs(args: argparse.Namespace, tmp: str, raw: dict, settings: dict) -> None:
    """The A B pairs of every task in turn; the tables printed at the end."""
    try:
        for task, seed, r in ((t, s, r) for t in args.tasks for s in args.seeds for r in range(args.repeats)):
            a, b = run_service(task, seed, args, tmp), run_plain(task, seed, args, tmp)
            raw.setdefault(task, []).append({"seed": seed, "a": a, "b": b})
            print(f"{task} seed {seed} repeat {r}: a {a['wall_s']:.1f} s, b {b['wall_s']:.1f} s", file=sys.stderr,
                  flush=True)
            summaries = write_results(args.out, settings, raw)
    finally:
        if args.keep:
            print(f"run directories kept under {tmp}/runs (bench/replay_trials.py replays one)", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(markdown(summaries))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=lambda s: [t for t in s.split(",") if t], default=["mnist_mlp", "mnist_lenet5"])
    ap.add_argument("--repeats", type=int, default=2, help="pairs per task and seed")
    ap.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",") if x], default=[0],
                    help="search seeds (--seed of both sides), comma-separated; default 0")
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=None, help="default: the task's")
    ap.add_argument("--out", default=str(HERE.parent / "results" / "vs_plain_loop.json"))
    ap.add_argument("--keep", action="store_true", help="keep run directories and Ray session dirs")
    ap.add_argument("--background-load", type=int, default=0, metavar="K",
                    help="spin K extra Python processes during every run (a loaded machine; default 0)")
    for hidden in ("--plain", "--task", "--result"):  # the (b) child process: --plain --task T --seeds S --result FILE
        ap.add_argument(hidden, **({"action": "store_true"} if hidden == "--plain" else {}), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.plain:
        plain_search(args.task, args.seeds[0], args.trials, args.epochs, args.result)
    else:
        bench(args)


if __name__ == "__main__":
    main()
