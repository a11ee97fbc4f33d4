"""``bayesft-tune``: search, evaluate and report from the command line.

    bayesft-tune search [--task mnist_mlp] [--trials 30] [--config FILE.yaml] [--resume RUN_DIR]
    bayesft-tune evaluate --model mlp --dropout 0.5,0.5
    bayesft-tune report RUN_DIR [--out DIR]
    bayesft-tune compare [--task mnist_mlp] [--methods erm,...,bayesft] [--seeds 3]
    bayesft-tune ablation [--seeds 3] [--epochs 5] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from bayesft_tune.errors import UserInputError


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, e.g. 0.5,0.3; got {text!r}") from err


def _add_search(sub) -> None:
    p = sub.add_parser("search", help="run a BayesFT search (Ax BO of per-layer dropout on Ray Tune)",
                       description="Run a BayesFT search. Flags override --config; unset flags keep "
                                   "the config file's or the defaults (see bayesft_tune.SearchConfig).")
    a = p.add_argument
    a("--config", metavar="FILE.yaml", help="YAML mapping of search settings (same names as the flags, with _)")
    a("--resume", metavar="RUN_DIR", help="continue an interrupted search from its run directory")
    a("--task", help="task to optimise (default mnist_mlp; see trainables.TASKS)")
    a("--trials", type=int, help="trials in total (default 30)")
    a("--concurrency", type=int, help="trials at once; also Ax's batch size (default 2)")
    a("--target-sigma", type=float, help="σ of the objective, the MC drifted loss (default 0.9)")
    a("--samples", type=int, help="Monte Carlo drift samples T per evaluation (default 16)")
    a("--epochs", type=int, help="training epochs per trial (default: the task's)")
    a("--batch-size", type=int, help="training batch size (default: the task's)")
    a("--lr", type=float, help="learning rate (default: the task's)")
    a("--bounds", type=_floats, metavar="LOW,HIGH", help="bounds of every dropout rate (default 0,0.8)")
    a("--seed", type=int, help="seed of Ax, training and drift draws (default 0)")
    a("--objective", choices=["drifted_loss", "grid_accuracy"],
      help="minimise MC drifted loss at --target-sigma (default) or maximise mean accuracy over --objective-sigmas")
    a("--objective-sigmas", type=_floats, metavar="S1,S2,..", help="σ grid of grid_accuracy")
    a("--min-clean-accuracy", type=float, help="outcome constraint: clean validation accuracy >= this")
    a("--method", choices=["bo", "random"], help="Ax GP Bayesian optimisation (default) or random search")
    a("--initialization-budget", type=int, help="Sobol trials before the GP (default Ax's 5)")
    a("--scheduler", choices=["fifo", "asha"], help="fifo (default) or ASHA early stopping on the objective")
    a("--drift", help="drift model of the objective (default lognormal)")
    a("--cpus-per-trial", type=float, help="CPUs per trial; torch threads follow (default 1)")
    a("--gpus-per-trial", type=float, help="GPUs per trial; 0.25 packs 4 trials per GPU (default 0)")
    a("--storage-path", help="local directory or URI (s3://, gs://, file://) for results (default ./runs)")
    a("--name", help="run name, the directory under --storage-path (default search-<timestamp>)")
    a("--address", help="Ray cluster to join ('auto', 'ray://host:10001'); default starts Ray locally")
    a("--max-failures", type=int, help="retries of a trial whose worker died (default 2)")
    a("--data-dir", help="directory holding torchvision dataset files")
    a("--download", action="store_true", default=None, help="let torchvision download datasets")
    a("--robustness-samples", type=int, help="T of the final best-vs-ERM evaluation (default 32)")
    a("--robustness-sigmas", type=_floats, help="σ grid of the final evaluation (default 0,0.3,...,1.5)")
    a("--no-erm-baseline", dest="erm_baseline", action="store_false", default=None,
      help="skip training the ERM model of the final table")
    a("--quiet", dest="verbose", action="store_false", default=None, help="no per-trial progress lines")


def _search(args: argparse.Namespace) -> int:
    from bayesft_tune.search.config import SearchConfig
    from bayesft_tune.search.runner import resume_search, run_search

    skip = {"command", "config", "resume"}
    given = {k: v for k, v in vars(args).items() if k not in skip and v is not None}
    if args.resume:
        extra = sorted(set(given) - {"address"})
        if extra or args.config:
            raise UserInputError(f"--resume continues a search with its saved settings; it takes only "
                                 f"--address, got {extra + (['config'] if args.config else [])}. "
                                 "Drop those flags (the run's search_config.json holds its settings).")
        outcome = resume_search(args.resume, address=given.get("address"))
    else:
        cfg = SearchConfig.from_yaml(args.config, **given) if args.config else SearchConfig.from_dict(given)
        outcome = run_search(cfg)
    _print_outcome(outcome)
    return 0


def _print_outcome(outcome) -> None:
    print(f"\nrun directory: {outcome.run_dir}  (trials.parquet, history.parquet, robustness.parquet)")
    print(f"wall time: {outcome.wall_time_s:.0f} s (Ax searcher {outcome.searcher_seconds:.1f} s); "
          f"trials: {outcome.trials.status.value_counts().to_dict()}")
    if outcome.best is None:
        print("no trial completed; see the error column of trials.parquet")
        return
    rates = {k[len('dropout_'):]: round(v, 3) for k, v in outcome.best.items() if k.startswith("dropout_")}
    print(f"best trial {outcome.best['trial_id']}: dropout {rates}, objective "
          f"{outcome.best['objective_mean']:.4f} ± {outcome.best['objective_sem']:.4f} (SEM)")
    print(robustness_text(outcome.robustness))


def robustness_text(robustness) -> str:
    """Accuracy [95% CI] per σ (rows) and method (columns)."""
    if robustness.empty:
        return "(no robustness table)"
    r = robustness.assign(cell=lambda d: [f"{m:.3f} [{lo:.3f}, {hi:.3f}]" for m, lo, hi in
                                          zip(d.accuracy_mean, d.accuracy_ci_low, d.accuracy_ci_high)])
    table = r.pivot(index="sigma", columns="method", values="cell")
    return "test accuracy under drift, mean [95% CI]:\n" + table.to_string()


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="train (or load) a model with given dropout rates and "
                                        "measure its accuracy under weight drift")
    a = p.add_argument
    a("--model", default="mlp", help="registered model (default mlp: 784-192-32-10)")
    a("--dataset", default="mnist_embedded", help="registered dataset (default: embedded MNIST)")
    a("--dropout", type=_floats, default=None, metavar="P1,P2,..",
      help="one dropout rate per slot (K-1 for K Linear/Conv layers); default all 0 (ERM)")
    a("--checkpoint", help="load weights saved by this package (evaluate --save, or a trial's trial.pt)")
    a("--save", metavar="PATH.pt", help="save the trained model here (torch.save, weights_only loadable)")
    a("--epochs", type=int, default=10, help="training epochs (default 10)")
    a("--batch-size", type=int, default=64, help="training batch size (default 64)")
    a("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    a("--noise-injection", type=float, default=0.0, help="σ of drift injected while training (default 0)")
    a("--sigmas", type=_floats, default=None, help="σ grid (default 0,0.3,0.6,0.9,1.2,1.5)")
    a("--samples", type=int, default=32, help="Monte Carlo samples T per σ (default 32)")
    a("--drift", default="lognormal", help="drift model: lognormal (default), gaussian, stuck_at")
    a("--params", choices=["all", "weights"], default="all", help="which parameters drift (default all)")
    a("--seed", type=int, default=0, help="seed of training and drift draws (default 0)")
    a("--device", default="cpu", help="torch device (default cpu)")
    a("--data-dir", help="directory holding torchvision dataset files")
    a("--download", action="store_true", help="let torchvision download the dataset")
    a("--label", default="model", help="method name in the output table (default 'model')")
    a("--out", default="robustness.parquet", help="Parquet file for the summary (default ./robustness.parquet)")


def _load_or_train(args: argparse.Namespace, splits):
    import torch

    from bayesft_tune import TrainConfig, add_dropout, build_model, dropout_slots, train

    torch.manual_seed(args.seed)
    net = build_model(args.model, **({"in_channels": splits.input_shape[0]} if args.model == "lenet5" else
                                     {"in_features": int(torch.tensor(splits.input_shape).prod())}))
    rates = list(args.dropout) if args.dropout else [0.0] * len(dropout_slots(net))
    if args.checkpoint:
        state = torch.load(args.checkpoint, weights_only=True, map_location="cpu")
        rates = list(state.get("rates", rates))
        net = add_dropout(net, rates)
        net.load_state_dict(state["state_dict"] if "state_dict" in state else state["trainer"]["model"])
        return net, rates
    net = add_dropout(net, rates)
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                      noise_injection=args.noise_injection)
    train(net, splits.train, cfg, seed=args.seed, device=args.device)
    if args.save:
        torch.save({"model": args.model, "rates": rates, "state_dict": net.state_dict()}, args.save)
    return net, rates


def _evaluate(args: argparse.Namespace) -> int:
    import os

    import pandas as pd

    from bayesft_tune import DEFAULT_SIGMAS, evaluate_under_drift, load_data, summarize_drift
    from bayesft_tune.storage import write_file

    splits = load_data(args.dataset, root=args.data_dir, download=args.download, seed=args.seed)
    net, rates = _load_or_train(args, splits)
    frame = evaluate_under_drift(net, splits.test, args.sigmas or DEFAULT_SIGMAS, samples=args.samples,
                                 drift=args.drift, seed=args.seed, params=args.params, device=args.device)
    summary = summarize_drift(frame)
    summary = pd.concat([pd.DataFrame({"method": args.label, "trial_id": None, "split": "test",
                                       "drift": args.drift}, index=summary.index), summary], axis=1)
    written = write_file(summary, args.out if "://" in args.out else os.path.abspath(args.out), "robustness")
    print(f"model {args.model}, dropout {rates}, drift {args.drift}, T={args.samples}, test n={len(splits.test)}")
    print(robustness_text(summary))
    print(summary[["sigma", "loss_mean", "loss_ci_low", "loss_ci_high"]].to_string(index=False))
    print(f"written: {written}")
    return 0


def _report(argv: Sequence[str]) -> int:
    from analysis.report import main as report_main

    return report_main(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bayesft-tune`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["report"]:
        return _report(argv[1:])
    if argv[:1] == ["watch"]:
        from analysis.watch import main as watch_main  # analysis loads only for this command

        return watch_main(argv[1:])
    if argv[:1] == ["compare"]:
        from bayesft_tune.compare import main as compare_main

        return compare_main(argv[1:])
    if argv[:1] == ["ablation"]:
        from bayesft_tune.ablation import main as ablation_main

        return ablation_main(argv[1:])
    parser = argparse.ArgumentParser(prog="bayesft-tune", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_search(sub)
    _add_evaluate(sub)
    sub.add_parser("report", help="write a Markdown report of a run directory (see 'report --help')")
    sub.add_parser("watch", help="live view of a search's run directory (see 'watch --help')")
    sub.add_parser("compare", help="train every method (erm, awp, ftna, ..., bayesft) over seeds and "
                                   "compare robustness (see 'compare --help')")
    sub.add_parser("ablation", help="the paper's §III.A ablation of MLP components with Welch's t-test "
                                    "(see 'ablation --help')")
    args = parser.parse_args(argv)
    import warnings

    warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
    try:
        return _search(args) if args.command == "search" else _evaluate(args)
    except UserInputError as err:
        print(f"bayesft-tune: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
