"""Kill/resume matrix: SIGKILL a real ``bayesft-tune search`` at set points of its life, resume it,
and check that every finished trial and every reported epoch is recorded exactly once.

    .venv/bin/python bench/kill_matrix.py                       # both backends, every kill point
    .venv/bin/python bench/kill_matrix.py --backends s3 --points mid_trial,table_write

Backends:

* ``cluster``: a 2-node Ray cluster on loopback (``tests/loopback_cluster.py``: head and a
  worker node, 1 CPU each, separate ``--temp-dir``, ``RAY_AUTH_MODE=token``, its own
  ``RAY_TMPDIR``); the search joins it with ``--address`` and writes to a local storage path.
* ``s3``: a moto S3 server on loopback; the search (local Ray) writes to ``s3://``.

Kill points (the driver is SIGKILLed, then ``bayesft-tune search --resume RUN_DIR``):

* ``before_first_trial``: while the ERM reference trains (its progress line), no trial started;
* ``mid_trial``: a trial has reported an epoch (its ``result.json``) and none has finished;
* ``between_trials``: ``--concurrency 1``, right after the first "[  1/N] trial ... completed" line;
* ``final_job``: inside the final job (``BAYESFT_PAUSE_AT=final``, see ``bayesft_tune/faults.py``);
* ``table_write``: inside the first ``trials.parquet`` write, after its temporary file is
  written and before it is moved into place (``BAYESFT_PAUSE_AT=table_write:trials``);
* ``worker_kill``: a trial's worker process (``ray::ImplicitFunc``) is SIGKILLed mid-trial; the
  search must finish by itself (Tune retries the trial, ``--max-failures``), no resume;
* ``node_kill`` (cluster only): the worker node's raylet is SIGKILLed while a trial runs there.

Checks after the run finished: each trial's ``result.json`` (Tune's own per-trial record) vs
``trials.parquet`` and ``history.parquet``: every trial whose record reached the last epoch
is ``completed`` exactly once; every (trial, epoch) in the records is one history row; no
other rows; every Ax trial index once; the trials finished before the kill keep
their objective (not re-run); no temporary table file left. Writes a JSON table (default
``bench/results/kill_matrix.json``) and prints it as Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import posixpath
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pyarrow.fs as pafs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from loopback_cluster import LoopbackCluster, cluster_env  # noqa: E402

CLI = str(Path(sys.executable).with_name("bayesft-tune"))
POINTS = ("before_first_trial", "mid_trial", "between_trials", "final_job", "table_write", "worker_kill",
          "node_kill")
BUCKET = "bayesft-kill"
S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
          "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


# ---- backends --------------------------------------------------------------------------------
class Backend:
    name = ""
    address: str | None = None
    env: dict[str, str] = {}

    def storage(self) -> str:
        raise NotImplementedError

    def fs(self) -> tuple[pafs.FileSystem, str]:
        from bayesft_tune.storage import resolve

        return resolve(self.storage())

    def workers(self, driver: int | None) -> list[psutil.Process]:
        """Trial worker processes of this backend now."""
        raise NotImplementedError

    def stop(self) -> None:
        pass


def _is_trial(p: psutil.Process) -> bool:
    try:
        return "ImplicitFunc" in " ".join(p.cmdline())
    except psutil.Error:
        return False


class ClusterBackend(Backend):
    name = "cluster"

    def __init__(self, work: Path) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="bftk", dir="/tmp"))  # Unix socket paths stay short
        self.cluster = LoopbackCluster(self.tmp, base_port=47380).start()
        self.address = self.cluster.address
        self.env = cluster_env(self.tmp)
        self.root = work / "cluster-runs"

    def storage(self) -> str:
        return str(self.root)

    def workers(self, driver):
        out = []
        for node in ("head", "worker"):
            try:
                out += [c for c in psutil.Process(self.cluster.raylet_pid(node)).children(recursive=True)
                        if _is_trial(c)]
            except (LookupError, psutil.Error):
                pass
        return out

    def worker_raylet(self) -> int:
        return self.cluster.raylet_pid("worker")

    def stop(self) -> None:
        self.cluster.stop()


class S3Backend(Backend):
    name = "s3"

    def __init__(self, work: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.log = open(work / "moto.log", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        endpoint = f"http://127.0.0.1:{port}"
        os.environ.update({**S3_ENV, "AWS_ENDPOINT_URL": endpoint})  # this process reads the run too
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        pafs.S3FileSystem(endpoint_override=endpoint, scheme="http", access_key="testing", secret_key="testing",
                          region="us-east-1", allow_bucket_creation=True).create_dir(BUCKET)
        ray_tmp = tempfile.mkdtemp(prefix="bftk", dir="/tmp")
        self.env = {**os.environ, **S3_ENV, "AWS_ENDPOINT_URL": endpoint, "RAY_TMPDIR": ray_tmp,
                    "OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0"}

    def storage(self) -> str:
        return f"s3://{BUCKET}/runs"

    def workers(self, driver):
        try:
            return [c for c in psutil.Process(driver).children(recursive=True) if _is_trial(c)] if driver else []
        except psutil.Error:
            return []

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


# ---- reading a run -----------------------------------------------------------------------------
def _records(fs: pafs.FileSystem, run: str) -> dict[str, list[dict]]:
    """Trial id -> its result.json lines (Tune's own per-trial record)."""
    out = {}
    if fs.get_file_info(run).type != pafs.FileType.Directory:
        return out
    for info in fs.get_file_info(pafs.FileSelector(run)):
        path = f"{info.path}/result.json"
        if info.type != pafs.FileType.Directory or fs.get_file_info(path).type != pafs.FileType.File:
            continue
        with fs.open_input_stream(path) as f:
            lines = []
            for line in f.read().decode(errors="replace").splitlines():
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    pass
        out[posixpath.basename(info.path).removeprefix("trial_")] = lines
    return out


def _table(fs: pafs.FileSystem, run: str, name: str):
    import pyarrow.parquet as pq

    try:
        return pq.read_table(f"{run}/{name}.parquet", filesystem=fs).to_pandas()
    except (OSError, FileNotFoundError, ValueError):
        return None


def _has_rows(fs: pafs.FileSystem, run: str, name: str) -> bool:
    frame = _table(fs, run, name)
    return frame is not None and len(frame) > 0


def _finished(records: dict[str, list[dict]], epochs: int) -> dict[str, float]:
    """Trials whose record reached the last epoch -> their objective."""
    out = {}
    for tid, lines in records.items():
        last = [r for r in lines if int(r.get("epoch", 0)) >= epochs]
        if last:
            out[tid] = last[-1].get("grid_accuracy")
    return out


def _progress(log: Path) -> str:
    try:
        return log.read_text(errors="replace")
    except OSError:
        return ""


# ---- one case ------------------------------------------------------------------------------------
def run_case(backend: Backend, point: str, work: Path, trials: int, epochs: int) -> dict:
    name = f"{backend.name}-{point}"
    fs, storage_root = backend.fs()
    run = f"{storage_root}/{name}"
    run_uri = f"{backend.storage()}/{name}"
    env = {**backend.env, "BAYESFT_SMOKE": "1"}
    if point == "final_job":
        env["BAYESFT_PAUSE_AT"] = "final=20"
    if point == "table_write":
        env["BAYESFT_PAUSE_AT"] = "table_write:trials=20"
    concurrency = "1" if point == "between_trials" else "2"
    flags = ["--storage-path", backend.storage(), "--name", name, "--trials", str(trials), "--epochs", str(epochs),
             "--concurrency", concurrency, "--samples", "4", "--robustness-samples", "4", "--max-failures", "3",
             *(["--address", backend.address] if backend.address else [])]
    log = work / f"{name}.log"
    started = time.time()
    proc = subprocess.Popen([CLI, "search", *flags], env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    row = {"backend": backend.name, "point": point, "killed_at": None, "kill_s": None,
           "finished_at_kill": None, "search_rc": None, "resume_rc": None}

    def wait_for(cond, timeout=300.0) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if cond():
                return True
            if proc.poll() is not None:
                return False
            time.sleep(0.25)
        return False

    def completed_lines() -> int:
        return _progress(log).count(" completed ")

    conds = {
        "before_first_trial": (lambda: "training the ERM reference" in _progress(log),
                               "ERM reference training (progress line)"),
        "mid_trial": (lambda: completed_lines() == 0 and _has_rows(fs, run, "history"),
                      "a trial reported an epoch (history.parquet), none finished"),
        "between_trials": (lambda: completed_lines() >= 1, "right after the first 'completed' line"),
        "final_job": (lambda: "pausing at final" in _progress(log), "inside the final job (hook)"),
        "table_write": (lambda: "pausing at table_write:trials" in _progress(log),
                        "inside the first trials.parquet write (hook)"),
        "worker_kill": (lambda: completed_lines() >= 1 and backend.workers(proc.pid),
                        "a trial worker process, after 1 trial finished"),
        "node_kill": (lambda: completed_lines() >= 1 and any(
            c for c in backend.workers(proc.pid) if _under(c, getattr(backend, "worker_raylet", lambda: -1)())),
                      "worker node raylet, a trial running there"),
    }
    cond, what = conds[point]
    driver_tree = []
    if not wait_for(cond):
        row["killed_at"] = f"NOT REACHED ({what}); driver exit {proc.poll()}"
        if proc.poll() is None:
            proc.kill()
        row["log_tail"] = _progress(log)[-1500:]
        return row
    row["kill_s"] = round(time.time() - started, 1)
    before = _finished(_records(fs, run), epochs)
    row["finished_at_kill"] = len(before)
    row["started_at_kill"] = len(_records(fs, run))
    if point == "worker_kill":
        victim = backend.workers(proc.pid)[0]
        row["killed_at"] = f"{what}: pid {victim.pid}"
        victim.kill()
        row["search_rc"] = proc.wait(timeout=600)
    elif point == "node_kill":
        raylet = backend.worker_raylet()
        row["killed_at"] = f"{what}: raylet pid {raylet}"
        os.kill(raylet, signal.SIGKILL)
        row["search_rc"] = proc.wait(timeout=600)
    else:
        try:
            driver_tree = psutil.Process(proc.pid).children(recursive=True)
        except psutil.Error:
            driver_tree = []
        row["killed_at"] = what
        proc.send_signal(signal.SIGKILL)
        row["search_rc"] = proc.wait()
        time.sleep(1)
        for child in driver_tree:  # a local Ray the killed driver started (s3 backend)
            try:
                child.kill()
            except psutil.Error:
                pass
        row["tmp_files_after_kill"] = _tmp_files(fs, run)
        rlog = work / f"{name}.resume.log"
        renv = {k: v for k, v in env.items() if k != "BAYESFT_PAUSE_AT"}
        resume = subprocess.run([CLI, "search", "--resume", run_uri,
                                 *(["--address", backend.address] if backend.address else [])],
                                env=renv, stdout=open(rlog, "w"), stderr=subprocess.STDOUT, timeout=600)
        row["resume_rc"] = resume.returncode
        if resume.returncode != 0:
            row["resume_tail"] = _progress(rlog)[-1500:]
    row["wall_s"] = round(time.time() - started, 1)
    row.update(check(fs, run, trials, epochs, before))
    if not row["ok"]:
        row["log_tail"] = _progress(log)[-800:]
    return row


def _under(proc: psutil.Process, raylet: int) -> bool:
    try:
        return any(p.pid == raylet for p in proc.parents())
    except psutil.Error:
        return False


def _with_error(fs, run) -> int:
    """Trial directories holding Tune's error.txt (a failure, retried or final)."""
    return sum(fs.get_file_info(f"{i.path}/error.txt").type == pafs.FileType.File
               for i in fs.get_file_info(pafs.FileSelector(run)) if i.base_name.startswith("trial_"))


def _tmp_files(fs, run) -> list[str]:
    try:
        return [i.base_name for i in fs.get_file_info(pafs.FileSelector(run)) if i.base_name.endswith(".tmp")]
    except (OSError, FileNotFoundError):
        return []


def check(fs, run: str, trials: int, epochs: int, before: dict[str, float]) -> dict:
    records = _records(fs, run)
    finished = _finished(records, epochs)
    table, history = _table(fs, run, "trials"), _table(fs, run, "history")
    out: dict = {"records": len(records), "records_finished": len(finished)}
    if table is None:
        return {**out, "ok": False, "problem": "no trials.parquet"}
    done = table[table.status == "completed"]
    # A trial the killed driver had started but not yet saved in Tune's experiment state is
    # abandoned (its Ax trial runs again under a new id); its epochs are not expected in the tables.
    abandoned = {tid: len(lines) for tid, lines in records.items() if tid not in set(table.trial_id)}
    json_epochs = {(tid, int(r.get("epoch", 0))) for tid, lines in records.items() if tid not in abandoned
                   for r in lines}
    hist_keys = [] if history is None else list(zip(history.trial_id, history.epoch.astype(int)))
    out.update({
        "rows": len(table), "completed": len(done), "statuses": table.status.value_counts().to_dict(),
        "dup_trial_rows": int(table.trial_id.duplicated().sum()),
        "lost_trials": sorted(set(finished) - set(done.trial_id)),
        "completed_without_record": sorted(set(done.trial_id) - set(finished)),
        # unique, not contiguous: a stale pre-generated Ax candidate may leave a gap
        "trial_index_ok": bool(done.trial_index.notna().all() and done.trial_index.is_unique),
        "abandoned_records": abandoned, "history_rows": len(hist_keys), "record_epochs": len(json_epochs),
        "dup_history_rows": len(hist_keys) - len(set(hist_keys)),
        "lost_epochs": len(json_epochs - set(hist_keys)),
        "extra_history_rows": len(set(hist_keys) - json_epochs),
        "rerun_or_changed": sorted(t for t, v in before.items()
                                   if t not in set(done.trial_id)
                                   or float(done.set_index("trial_id").objective_mean[t]) != v),
        "robustness": _table(fs, run, "robustness") is not None,
        "trials_with_error_txt": _with_error(fs, run),
        "tmp_files": _tmp_files(fs, run),
    })
    problems = [k for k in ("dup_trial_rows", "lost_trials", "completed_without_record", "dup_history_rows",
                            "lost_epochs", "extra_history_rows", "rerun_or_changed", "tmp_files") if out[k]]
    if len(done) != trials:
        problems.append(f"completed {len(done)} != {trials}")
    if not out["trial_index_ok"]:
        problems.append("Ax trial_index missing or repeated")
    if not out["robustness"]:
        problems.append("no robustness.parquet")
    out["problem"] = ", ".join(problems)
    out["ok"] = not problems
    return out


def _abandoned(records: dict | None) -> str:
    if not records:
        return "0"
    return f"{len(records)} ({sum(records.values())} epochs)"


def markdown(rows: list[dict]) -> str:
    head = ("| backend | kill point | killed at | t (s) | finished at kill | resume rc | completed | "
            "trials rows / records | history rows / record epochs | dup | lost | abandoned | result |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for r in rows:
        rc = r["resume_rc"] if r["resume_rc"] is not None else f"n/a (search rc {r['search_rc']})"
        dup = (r.get("dup_trial_rows") or 0) + (r.get("dup_history_rows") or 0)
        lost = len(r.get("lost_trials") or []) + (r.get("lost_epochs") or 0)
        lines.append(f"| {r['backend']} | {r['point']} | {r['killed_at']} | {r['kill_s']} | {r['finished_at_kill']} "
                     f"| {rc} | {r.get('completed')} | {r.get('rows')} / {r.get('records')} | "
                     f"{r.get('history_rows')} / {r.get('record_epochs')} | {dup} | {lost} | "
                     f"{_abandoned(r.get('abandoned_records'))} | "
                     f"{'ok' if r.get('ok') else 'FAIL: ' + str(r.get('problem'))} |")
    return head + "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", default="cluster,s3")
    ap.add_argument("--points", default=",".join(POINTS))
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "kill_matrix.json"))
    ap.add_argument("--work", default=None, help="where runs and logs go (default: a new temp dir)")
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="kill-matrix-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work dir: {work}", flush=True)
    rows = []
    for name in args.backends.split(","):
        backend = ClusterBackend(work) if name == "cluster" else S3Backend(work)
        try:
            points = [p for p in args.points.split(",") if p != "node_kill" or name == "cluster"]
            for point in sorted(points, key=lambda p: p == "node_kill"):  # the node kill last: it loses a node
                row = run_case(backend, point, work, args.trials, args.epochs)
                rows.append(row)
                print(json.dumps(row, default=str), flush=True)
        finally:
            backend.stop()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"trials": args.trials, "epochs": args.epochs, "rows": rows},
                                         indent=1, default=str))
    print(markdown(rows))
    return 0 if all(r.get("ok") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
