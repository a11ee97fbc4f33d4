"""Driver time of the Parquet recorder at scale: ``--trials`` trials reporting ``--reports``
epochs each, fed to the real :class:`~bayesft_tune.search.recorder.ParquetRecorder` as Tune
would (``on_trial_result`` per report, ``on_trial_complete`` per trial, ``on_experiment_end``),
with the trials interleaved ``--concurrency`` at a time. Prints the total and per-hook seconds.

    python bench/recorder_scale.py --trials 1000 --reports 30 --out bench/results/recorder_scale.json
    python bench/recorder_scale.py --trials 1000 --reports 30 --s3   # on a moto S3 server on loopback
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from dataclasses import dataclass, field

from bayesft_tune.objective import Objective
from bayesft_tune.search.recorder import ParquetRecorder


@dataclass
class FakeTrial:
    """What the recorder reads of a Tune trial."""

    trial_id: str
    config: dict = field(default_factory=dict)
    last_result: dict = field(default_factory=dict)
    status: str = "RUNNING"


def _result(i: int, epoch: int) -> dict:
    loss = 1.0 / (epoch + 1) + 0.001 * i
    return {"epoch": epoch, "time_s": 2.0 * epoch, "time_total_s": 2.0 * epoch + 1, "train_loss": loss,
            "clean_loss": loss, "clean_accuracy": 0.9, "drifted_loss": loss, "drifted_loss_sem": 0.01,
            "drifted_accuracy": 0.8, "drifted_accuracy_sem": 0.01, "drift_evaluated": True,
            "knobs": {"dropout": [0.1, 0.2], "noise": 0.1, "lr": 1e-3}, "slots": ["fc1", "fc2"],
            "parameter_count": 1000}


def run(run_dir: str, trials: int, reports: int, concurrency: int) -> dict:
    rec = ParquetRecorder(run_dir, "synthetic", Objective("drifted_loss", 0.9, (0.9,), 2), reports,
                          {"target_sigma": 0.9, "samples": 2, "seed": 0, "data_seed": 0}, verbose=False)
    rec.setup()
    spent = {"on_trial_result": 0.0, "on_trial_complete": 0.0, "on_experiment_end": 0.0}
    done = []
    for start in range(0, trials, concurrency):
        batch = [FakeTrial(f"t{i:05d}", {"ax_trial_index": i}) for i in range(start, min(trials, start + concurrency))]
        for epoch in range(1, reports + 1):
            for i, trial in enumerate(batch, start):
                trial.last_result = _result(i, epoch)
                t0 = time.perf_counter()
                rec.on_trial_result(0, batch, trial, trial.last_result)
                spent["on_trial_result"] += time.perf_counter() - t0
        for trial in batch:
            trial.status = "TERMINATED"
            t0 = time.perf_counter()
            rec.on_trial_complete(0, batch, trial)
            spent["on_trial_complete"] += time.perf_counter() - t0
        done += batch
    t0 = time.perf_counter()
    rec.on_experiment_end(done)
    spent["on_experiment_end"] = time.perf_counter() - t0
    return {"trials": trials, "reports": reports, "total_s": sum(spent.values()), **spent}


def _moto() -> tuple[str, object]:
    from moto.server import ThreadedMotoServer
    import boto3

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                 aws_secret_access_key="x").create_bucket(Bucket="bench")
    return endpoint, server


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=1000)
    p.add_argument("--reports", type=int, default=30)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--s3", action="store_true", help="write to a moto S3 server on loopback")
    p.add_argument("--out")
    args = p.parse_args()
    if args.s3:
        import os

        endpoint, server = _moto()
        os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
                           "AWS_DEFAULT_REGION": "us-east-1"})
        row = run("s3://bench/run", args.trials, args.reports, args.concurrency)
        server.stop()
    else:
        with tempfile.TemporaryDirectory() as d:
            row = run(f"{d}/run", args.trials, args.reports, args.concurrency)
    row["storage"] = "s3 (moto, loopback)" if args.s3 else "local disk"
    print(json.dumps({k: (round(v, 2) if isinstance(v, float) and math.isfinite(v) else v) for k, v in row.items()}))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(row, f, indent=1)


if __name__ == "__main__":
    main()
