"""The bad command lines of ``tests/test_bad_inputs.py``, one table per command.

``{w}`` in an argument stands for the test's workspace (its files: ``test_bad_inputs._workspace``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    """One bad command line: ``argv`` (``{w}`` is the workspace), the text stderr must
    match (regex), the exit status, ``kind`` "user" (one UserInputError line) or "usage"
    (argparse: usage lines and an error line) and an optional xfail reason."""

    argv: tuple[str, ...]
    match: str
    code: int = 2
    kind: str = "user"
    xfail: str | None = None
    files: dict[str, str] = field(default_factory=dict)


def U(*argv: str, match: str, xfail: str | None = None, **kw) -> Case:
    return Case(argv, match, kind="user", xfail=xfail, **kw)


def A(*argv: str, match: str, xfail: str | None = None) -> Case:
    return Case(argv, match, kind="usage", xfail=xfail)


def Y(text: str, match: str, xfail: str | None = None, *extra: str) -> Case:
    """A search with a YAML config holding ``text``."""
    return Case(("search", "--config", "{w}/cfg.yaml", *extra), match, xfail=xfail, files={"cfg.yaml": text})


SEARCH_ARGPARSE = [
    A("search", "--trials", "x", match="--trials: invalid int value"),
    A("search", "--trials", "1.5", match="--trials: invalid int value"),
    A("search", "--trials", match="--trials: expected one argument"),
    A("search", "--concurrency", "two", match="--concurrency: invalid int value"),
    A("search", "--target-sigma", "abc", match="--target-sigma: expected a number or a time such as 1s"),
    A("search", "--samples", "x", match="--samples: invalid int value"),
    A("search", "--epochs", "1e3", match="--epochs: invalid int value"),
    A("search", "--batch-size", "x", match="--batch-size: invalid int value"),
    A("search", "--lr", "fast", match="--lr: invalid float value"),
    A("search", "--bounds", "a,b", match="--bounds: expected comma-separated numbers"),
    A("search", "--bounds", ",", match="--bounds: expected one or more comma-separated numbers"),
    A("search", "--seed", "x", match="--seed: invalid int value"),
    A("search", "--objective", "accuracy", match="--objective: invalid choice"),
    A("search", "--objective-sigmas", ",", match="--objective-sigmas: expected one or more"),
    A("search", "--objective-sigmas", "a", match="--objective-sigmas: expected a number or a time"),
    A("search", "--min-clean-accuracy", "high", match="--min-clean-accuracy: invalid float value"),
    A("search", "--method", "grid", match="--method: invalid choice"),
    A("search", "--initialization-budget", "x", match="--initialization-budget: invalid int value"),
    A("search", "--scheduler", "pbt", match="--scheduler: invalid choice"),
    A("search", "--cpus-per-trial", "x", match="--cpus-per-trial: invalid float value"),
    A("search", "--gpus-per-trial", "x", match="--gpus-per-trial: invalid float value"),
    A("search", "--max-failures", "x", match="--max-failures: invalid int value"),
    A("search", "--robustness-samples", "x", match="--robustness-samples: invalid int value"),
    A("search", "--robustness-sigmas", ",", match="--robustness-sigmas: expected one or more"),
    A("search", "--robustness-sigmas", "a", match="--robustness-sigmas: expected a number or a time"),
    A("search", "--bounds", "-0.1,0.5", match="--bounds: expected one argument"),
    A("search", "--no-such-flag", match="unrecognized arguments: --no-such-flag"),
    A("search", "--download", "yes", match="unrecognized arguments: yes"),
]

SEARCH_RULES = [
    U("search", "--trials", "0", match="trials must be an integer >= 1; got trials=0"),
    U("search", "--trials", "-3", match="trials must be an integer >= 1"),
    U("search", "--concurrency", "0", match="concurrency must be an integer >= 1"),
    U("search", "--target-sigma", "0", match="target_sigma must be a number > 0"),
    U("search", "--target-sigma", "-1", match="target_sigma must be a number > 0"),
    U("search", "--target-sigma", "nan", match="target_sigma must be a number > 0"),
    U("search", "--target-sigma", "inf", match="target_sigma must be a number > 0"),
    U("search", "--samples", "1", match="samples must be an integer >= 2"),
    U("search", "--samples", "0", match="samples must be an integer >= 2"),
    U("search", "--epochs", "0", match="epochs must be an integer >= 1"),
    U("search", "--batch-size", "0", match="batch_size must be an integer >= 1"),
    U("search", "--lr", "0", match="lr must be a number > 0"),
    U("search", "--lr", "-0.1", match="lr must be a number > 0"),
    U("search", "--lr", "nan", match="lr must be a number > 0"),
    U("search", "--bounds", "0.5,0.2", match="0 <= low < high < 1"),
    U("search", "--bounds", "0.2,0.2", match="0 <= low < high < 1"),
    U("search", "--bounds=-0.1,0.5", match="0 <= low < high < 1"),
    U("search", "--bounds", "0.1,1.0", match="0 <= low < high < 1"),
    U("search", "--bounds", "0.1,1.5", match="0 <= low < high < 1"),
    U("search", "--bounds", "nan,0.5", match="search bounds must be"),
    U("search", "--bounds", "0.5", match="search bounds must be two numbers"),
    U("search", "--bounds", "0.1,0.2,0.3", match="search bounds must be two numbers"),
    U("search", "--objective-sigmas", "-0.3", match="objective_sigmas must be one or more numbers >= 0"),
    U("search", "--objective-sigmas", "0.3,nan", match="objective_sigmas must be one or more numbers >= 0"),
    U("search", "--min-clean-accuracy", "0", match="min_clean_accuracy must be a fraction in \\(0, 1\\)"),
    U("search", "--min-clean-accuracy", "1", match="min_clean_accuracy must be a fraction"),
    U("search", "--min-clean-accuracy", "1.5", match="min_clean_accuracy must be a fraction"),
    U("search", "--min-clean-accuracy", "-0.5", match="min_clean_accuracy must be a fraction"),
    U("search", "--initialization-budget", "0", match="initialization_budget must be an integer >= 1"),
    U("search", "--cpus-per-trial", "0", match="cpus_per_trial must be a number > 0"),
    U("search", "--cpus-per-trial", "-1", match="cpus_per_trial must be a number > 0"),
    U("search", "--cpus-per-trial", "inf", match="cpus_per_trial must be a number > 0"),
    U("search", "--gpus-per-trial", "-1", match="gpus_per_trial must be a fraction in \\[0, 1\\]"),
    U("search", "--gpus-per-trial", "1.5", match="gpus_per_trial must be a fraction"),
    U("search", "--gpus-per-trial", "nan", match="gpus_per_trial must be a fraction"),
    U("search", "--max-failures", "-1", match="max_failures must be an integer >= 0"),
    U("search", "--robustness-samples", "1", match="robustness_samples must be an integer >= 2"),
    U("search", "--robustness-sigmas", "-1", match="robustness_sigmas must be (one or more )?numbers >= 0"),
    U("search", "--robustness-sigmas", "nan,0.3", match="robustness_sigmas must be (one or more )?numbers >= 0"),
    U("search", "--storage-path", "", match="storage_path must be a directory or URI"),
    U("search", "--task", "imagenet", match="valid tasks are"),
    U("search", "--task", "", match="valid tasks are"),
    U("search", "--drift", "nope", match="valid drift models are"),
    U("search", "--address", "127.0.0.1:1", match="--address"),
    U("search", "--address", "nohost", match="--address"),
    U("search", "--address", "localhost:1", match=r"nothing answered at .*:1 \(Ray dials this machine's address"),
    U("search", "--address", "ray://127.0.0.1:1", match="nothing answered at 127.0.0.1:1 within"),
    U("search", "--address", "127.0.0.1:99999", match="'auto', 'host:port' or 'ray://host:port'"),
    U("search", "--resume", "{w}/badref", "--address", "127.0.0.1:1", match="not a saved ERM reference"),
    U("search", "--storage-path", "/proc/x", match="--storage-path"),
    U("search", "--storage-path", "{w}/afile/runs", match="--storage-path"),
    U("search", "--storage-path", "s3x://bucket/runs", match="storage URI must"),
]

SEARCH_RESUME = [
    U("search", "--resume", "{w}/run", "--trials", "5", match="--resume continues a search.*\\['trials'\\]"),
    U("search", "--resume", "{w}/run", "--config", "{w}/afile", match="--resume continues a search.*config"),
    U("search", "--resume", "{w}/nonexistent", match="not a search run directory"),
    U("search", "--resume", "{w}/empty", match="not a search run directory"),
    U("search", "--resume", "{w}/badrun", match="search_config.json"),
    U("search", "--resume", "{w}/badref", match="badref/reference.pt is not a saved ERM reference.*Delete it"),
    U("search", "--resume", "{w}/cutref", match="cutref/reference.pt is not a saved ERM reference"),
    U("search", "--resume", "{w}/oddref", match="oddref/reference.pt is not a saved ERM reference.*KeyError"),
    U("search", "--resume", "{w}/oddrun", match="unknown search settings \\['trails'\\]"),
]

SEARCH_YAML = [
    U("search", "--config", "{w}/missing.yaml", match="could not read search config"),
    U("search", "--config", "{w}/empty", match="could not read search config"),
    Y("trials: [1\n", "could not read search config"),
    Y("- trials\n- 3\n", "must be a YAML mapping of settings; got list"),
    Y("5\n", "must be a YAML mapping of settings; got int"),
    Y("trails: 12\n", "unknown search settings \\['trails'\\]"),
    Y("trials: 0\n", "trials must be an integer >= 1"),
    Y("trials: ten\n", "trials must be an integer >= 1"),
    Y("trials: 2.5\n", "trials must be an integer >= 1"),
    Y("trials: true\n", "trials must be an integer >= 1"),
    Y("concurrency: 0\n", "concurrency must be an integer >= 1"),
    Y("samples: 1\n", "samples must be an integer >= 2"),
    Y("bounds: [0.5, 0.2]\n", "0 <= low < high < 1"),
    Y("bounds: 0.5\n", "search bounds must be two numbers"),
    Y("bounds: \"0.1,0.5\"\n", "search bounds must be two numbers"),
    Y("bounds: [0.1, 0.2, 0.3]\n", "search bounds must be two numbers"),
    Y("bounds: [a, b]\n", "search bounds must be two numbers"),
    Y("download: \"no\"\n", "download"),
    Y("verbose: \"yes\"\n", "verbose"),
    Y("erm_baseline: \"no\"\n", "erm_baseline"),
    Y("seed: x\n", "search seed must be an integer"),
    Y("robustness_sigmas: []\n", "robustness_sigmas"),
    Y("objective_sigmas: []\n", "objective_sigmas must be one or more numbers >= 0"),
    Y("target_sigma: \"0.9\"\n", "target_sigma must be a number > 0"),
    Y("drift: nope\n", "valid drift models are"),
    Y("task: imagenet\n", "valid tasks are"),
    Y("scheduler: pbt\n", "scheduler must be 'fifo' or 'asha'"),
    Y("method: grid\n", "method must be 'bo' or 'random'"),
    Y("mode: nope\n", "mode must be 'scratch', 'warm_start' or 'alternating'"),
    Y("noise_injection_bounds: [1.0, 0.5]\n", "noise_injection_bounds must be"),
    Y("cpus_per_trial: 0\n", "cpus_per_trial must be a number > 0"),
    Y("storage_path: \"\"\n", "storage_path must be a directory or URI"),
    Y("trials: 12\n", "trials must be an integer >= 1", None, "--trials", "0"),
]

EVALUATE = [
    A("evaluate", "--sigmas", ",", match="--sigmas: expected one or more comma-separated numbers"),
    A("evaluate", "--sigmas", "a", match="--sigmas: expected comma-separated numbers"),
    U("evaluate", "--sigmas", "-0.3", match="--sigmas must hold finite numbers σ >= 0; got -0.3"),
    U("evaluate", "--sigmas", "nan", match="--sigmas must hold finite numbers"),
    U("evaluate", "--sigmas", "inf", match="--sigmas must hold finite numbers"),
    U("evaluate", "--sigmas", "0.3,-1", match="--sigmas must hold finite numbers σ >= 0; got -1.0"),
    U("evaluate", "--device", "cuda:3", match="--device must be a device this machine has; got 'cuda:3'"),
    U("evaluate", "--device", "gpu", match="--device must be a torch device"),
    U("evaluate", "--device", "meta", match="--device must be cpu, cuda, cuda:N or mps"),
    U("evaluate", "--device", "", match="--device must be a torch device"),
    U("evaluate", "--checkpoint", "{w}/missing.pt", match="--checkpoint must be an existing file"),
    U("evaluate", "--checkpoint", "{w}/empty", match="--checkpoint must be a file, not a directory"),
    U("evaluate", "--checkpoint", "{w}/cut.pt", match="--checkpoint must be a complete torch checkpoint"),
    U("evaluate", "--checkpoint", "{w}/text.pt", match="truncated or not a torch file"),
    U("evaluate", "--checkpoint", "{w}/zero.pt", match="truncated or not a torch file"),
    U("evaluate", "--checkpoint", "{w}/odd.pt", match="--checkpoint must hold model weights"),
    U("evaluate", "--checkpoint", "{w}/lenet.pt", "--model", "mlp",
      match="--checkpoint must match --model mlp: the checkpoint's keys/shapes do not match.*'lenet5'"),
    U("evaluate", "--checkpoint", "{w}/mlp.pt", "--model", "lenet5",
      match="--checkpoint must match --model lenet5.*shape mismatch"),
    U("evaluate", "--out", "{w}/run/trials.parquet", match="--out must not overwrite a search run's table"),
    U("evaluate", "--out", "{w}/elsewhere/history.parquet", match="--out must not overwrite.*history.parquet"),
    U("evaluate", "--out", "{w}/run/robustness.parquet", match="--out must not write into a search run dir"),
    U("evaluate", "--out", "{w}/empty", match="--out must be a file path, not an existing directory"),
    U("evaluate", "--out", "{w}/afile/r.parquet", match="--out must be a path whose parents are directories"),
    U("evaluate", "--out", "s3x://bucket/r.parquet", match="storage URI must"),
    U("evaluate", "--save", "{w}/run/model.pt", match="--save must not write into a search run directory"),
    U("evaluate", "--save", "{w}/empty", match="--save must be a file path"),
    U("evaluate", "--epochs", "0", match="--epochs must be an integer >= 1; got 0"),
    U("evaluate", "--batch-size", "0", match="--batch-size must be an integer >= 1"),
    U("evaluate", "--samples", "0", match="--samples must be an integer >= 1"),
    U("evaluate", "--samples", "-5", match="--samples must be an integer >= 1"),
    U("evaluate", "--lr", "0", match="--lr must be a number > 0"),
    U("evaluate", "--lr", "nan", match="--lr must be a number > 0"),
    U("evaluate", "--noise-injection", "-1", match="--noise-injection a number >= 0"),
    U("evaluate", "--model", "nope", match="--model must be a registered model"),
    U("evaluate", "--drift", "nope", match="valid drift models are"),
    U("evaluate", "--dataset", "nope", match="unknown dataset 'nope'"),
    U("evaluate", "--dataset", "mnist", "--data-dir", "{w}/nodata", match="could not load MNIST"),
    U("evaluate", "--dropout", "0.5,1.5", match="dropout rate must satisfy 0 <= p < 1"),
    U("evaluate", "--dropout=-0.1,0.5", match="dropout rate must satisfy 0 <= p < 1"),
    U("evaluate", "--dropout", "0.5", match="need one dropout rate per slot"),
    U("evaluate", "--dropout", "0.1,0.2,0.3", match="need one dropout rate per slot"),
    A("evaluate", "--dropout", "a", match="--dropout: expected comma-separated numbers"),
    A("evaluate", "--dropout", ",", match="--dropout: expected one or more"),
    A("evaluate", "--params", "some", match="--params: invalid choice"),
    A("evaluate", "--epochs", "x", match="--epochs: invalid int value"),
    A("evaluate", "--seed", "x", match="--seed: invalid int value"),
    A("evaluate", "--no-such-flag", match="unrecognized arguments: --no-such-flag"),
]

REPORT = [
    A("report", match="the following arguments are required: run_dir"),
    A("report", "{w}/run", "--no-such-flag", match="unrecognized arguments: --no-such-flag"),
    U("report", "{w}/nonexistent", match="trials.parquet"),
    U("report", "{w}/empty", match="trials.parquet"),
    U("report", "{w}/run", "--out", "{w}/afile", match="--out must be a directory.*is an existing file"),
    U("report", "{w}/run", match="trials.parquet"),
    U("report", "s3x://bucket/run", match="storage URI must"),
    U("report", "{w}/wrongrun", match=r"wrongrun/trials.parquet is not a trials table.*\['trial_id', 'status'\]"),
    U("report", "{w}/texttrials", match="column 'epochs' of a trials table must hold Int64"),
    U("report", "{w}/wrongrun", "--no-decision-boundaries", match="wrongrun/trials.parquet is not a trials table"),
]

COMPARE = [
    U("compare", "--methods", "erm", "--seeds", "0", match="--seeds (must be an integer )?>= 1"),
    U("compare", "--methods", "erm", "--samples", "1", match="--samples (must be an integer )?>= 2"),
    U("compare", "--methods", "erm", "--sigmas", "0.3,0.6", match="--sigmas .*containing 0"),
    U("compare", "--methods", "erm", "--sigmas", ",", match="--sigmas"),
    U("compare", "--methods", "nope", match="nope"),
    U("compare", "--methods", "erm,nope", match="nope"),
    U("compare", "--methods", "erm", "--task", "imagenet", match="valid tasks are"),
    A("compare", "--seeds", "x", match="--seeds: invalid int value"),
    A("compare", "--no-such-flag", match="unrecognized arguments: --no-such-flag"),
    U("compare", "--methods", "erm", "--sigmas", "a,b", match="--sigmas"),
    U("compare", "--methods", "erm", "--sigmas", "0,-1", match="--sigmas"),
    U("compare", "--methods", "erm", "--trials", "0", match="--trials"),
    U("compare", "--methods", "erm", "--concurrency", "0", match="--concurrency"),
    U("compare", "--methods", "erm", "--epochs", "0", match="--epochs"),
    U("compare", "--methods", "erm", "--noise-sigma", "-1", match="--noise-sigma"),
    U("compare", "--methods", ",", match="--methods"),
]

ABLATION = [
    U("ablation", "--seeds", "0", match="ablation needs --seeds >= 1"),
    U("ablation", "--epochs", "0", match="--epochs >= 1"),
    U("ablation", "--samples", "1", match="--samples >= 2"),
    U("ablation", "--only", "nope", match="unknown ablation variants \\['nope'\\]"),
    A("ablation", "--seeds", "x", match="--seeds: invalid int value"),
    A("ablation", "--alpha", "x", match="--alpha: invalid float value"),
    A("ablation", "--no-such-flag", match="unrecognized arguments: --no-such-flag"),
    U("ablation", "--rates", "a", match="--rates"),
    U("ablation", "--rates", "1.5", match="--rates"),
    U("ablation", "--sigmas", "a", match="--sigmas"),
    U("ablation", "--alpha", "2", match="--alpha"),
    U("ablation", "--sigmas", "nan", match="--sigmas finite σ values >= 0; got \\(nan,\\)"),
    U("ablation", "--sigmas", "0,0.6,inf", match="--sigmas finite σ values >= 0"),
    U("ablation", "--sigmas", "0,nan,1", match="--sigmas finite σ values >= 0"),
    U("ablation", "--rates", "0.1,nan", match="--rates"),
    U("ablation", "--alpha", "nan", match="--alpha"),
    U("ablation", "--only", "reference", match="--only naming a variant besides the reference"),
    U("ablation", "--only", "reference,", match="--only naming a variant besides the reference"),
    U("ablation", "--out", "{w}/afile", match="--out a directory \\(new or existing\\), not a file"),
]

GLOBAL = [
    A(match="the following arguments are required: command"),
    A("--debug", match="the following arguments are required: command"),
    A("serch", match="invalid choice: 'serch'"),
    A("watch", "--no-such-flag", match="watch|--no-such-flag"),
    A("--no-such-flag", match="the following arguments are required|unrecognized arguments"),
]

CASES = SEARCH_ARGPARSE + SEARCH_RULES + SEARCH_RESUME + SEARCH_YAML + EVALUATE + REPORT + COMPARE + ABLATION + GLOBAL
N_CASES = len(CASES)
"""How many bad command lines the suite runs (also printed by the last test)."""
