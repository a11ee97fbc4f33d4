"""``bayesft-tune evaluate``: one network's accuracy under drift over a σ grid.

The network is trained here (``--model``, ``--dropout``, ...), loaded from a checkpoint
(``--checkpoint``), or taken from a search (``--run RUN_DIR [--trial ID]``, through
:func:`bayesft_tune.load_trial_model`). Every flag is checked before any data is loaded
or any model trained.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import pandas as pd
import torch

from bayesft_tune import (DEFAULT_SIGMAS, TrainConfig, Trainer, add_dropout, build_model, dropout_rates,
                          dropout_slots, evaluate_under_drift, get_drift, load_data, summarize_drift)
from bayesft_tune.argtypes import floats
from bayesft_tune.errors import UserInputError
from bayesft_tune.models import model_names
from bayesft_tune.search.preflight import (check_checkpoint_matches, check_device, check_output_path, check_sigmas,
                                           load_checkpoint)
from bayesft_tune.search.results import load_trial_model
from bayesft_tune.search.rundir import load_config
from bayesft_tune.search.summary import robustness_text
from bayesft_tune.storage import write_file
from bayesft_tune.tasks import get_task

__all__ = ["add_evaluate", "run_evaluate"]


def _from_run(args: argparse.Namespace):
    """The searched network of ``--run`` (``--trial``), and its task's splits."""
    cfg = load_config(args.run)
    net = load_trial_model(args.run, args.trial)
    splits = get_task(cfg.task).splits(cfg.data_dir, False, cfg.data_seed)
    return net, splits, list(dropout_rates(net).values())


def add_evaluate(sub) -> None:
    """The ``evaluate`` sub-command's flags."""
    p = sub.add_parser("evaluate", help="train (or load) a model with given dropout rates and "
                                        "measure its accuracy under weight drift")
    a = p.add_argument
    a("--model", help="registered model (default mlp: 784-192-32-10)")
    a("--dataset", default="mnist_embedded", help="registered dataset (default: embedded MNIST)")
    a("--dropout", type=floats, default=None, metavar="P1,P2,..",
      help="one dropout rate per slot (K-1 for K Linear/Conv layers); default all 0 (ERM)")
    a("--checkpoint", help="load weights saved by this package (evaluate --save, or a trial's trial.pt)")
    a("--run", metavar="RUN_DIR", help="evaluate a searched network: the one the search in RUN_DIR returned, "
      "or --trial ID; its task's test split (the run's --data-seed)")
    a("--trial", metavar="ID", help="with --run: a trial_id of the run's trials.parquet")
    a("--save", metavar="PATH.pt", help="save the trained model here (torch.save, weights_only loadable)")
    a("--epochs", type=int, default=10, help="training epochs (default 10)")
    a("--batch-size", type=int, default=64, help="training batch size (default 64)")
    a("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    a("--noise-injection", type=float, default=0.0, help="σ of drift injected while training (default 0)")
    a("--sigmas", type=floats, default=None, help="σ grid (default 0,0.3,0.6,0.9,1.2,1.5)")
    a("--samples", type=int, default=32, help="Monte Carlo samples T per σ (default 32)")
    a("--drift", default="lognormal", help="drift model: lognormal (default), gaussian, stuck_at")
    a("--params", choices=["all", "weights"], default="all", help="which parameters drift (default all)")
    a("--seed", type=int, default=0, help="seed of training and drift draws (default 0)")
    a("--device", default="cpu", help="torch device (default cpu)")
    a("--data-dir", help="directory holding torchvision dataset files")
    a("--download", action="store_true", help="let torchvision download the dataset")
    a("--label", default="model", help="method name in the output table (default 'model')")
    a("--out", help="Parquet file or URI for the summary (default runs/evaluate-<timestamp>/robustness.parquet)")


def _check_evaluate(args: argparse.Namespace) -> dict | None:
    """Fail fast on bad evaluate flags, before data is loaded or a model trained.

    Returns:
        The loaded ``--checkpoint`` (None without one).
    """
    _check_sources(args)
    for flag, value in (("--epochs", args.epochs), ("--batch-size", args.batch_size), ("--samples", args.samples)):
        if value < 1:
            raise UserInputError(f"{flag} must be an integer >= 1; got {value}. Pass e.g. {flag} 8.")
    if not 0 < args.lr < float("inf") or not 0 <= args.noise_injection < float("inf"):
        raise UserInputError(f"--lr must be a number > 0 and --noise-injection a number >= 0; got "
                             f"--lr {args.lr}, --noise-injection {args.noise_injection}. Fix the flag.")
    if args.model not in model_names():
        raise UserInputError(f"--model must be a registered model, one of {model_names()}; got {args.model!r}.")
    if args.sigmas is not None:
        check_sigmas("--sigmas", args.sigmas)
    get_drift(args.drift)
    check_device(args.device)
    for flag, path in (("--out", args.out), ("--save", args.save)):
        if path:
            check_output_path(path, flag)
    return load_checkpoint(args.checkpoint) if args.checkpoint else None


def _check_sources(args: argparse.Namespace) -> None:
    """One source of the network: ``--run`` (with ``--trial``), ``--checkpoint``, or ``--model`` trained here."""
    conflicts = [(args.trial and not args.run, "--trial ID needs --run RUN_DIR (it names a trial of that run)"),
                 (args.run and args.checkpoint, "--run and --checkpoint both name a network; pass one"),
                 (args.run and (args.model or args.dropout), "--run takes the run's own network; drop --model/--dropout")]
    for bad, rule in conflicts:
        if bad:
            raise UserInputError(f"evaluate: {rule} (got --run {args.run!r}, --trial {args.trial!r}, --checkpoint "
                                 f"{args.checkpoint!r}, --model {args.model!r}).")
    args.model = args.model or "mlp"


def _load_or_train(args: argparse.Namespace, splits, checkpoint: dict | None = None):
    torch.manual_seed(args.seed)
    net = build_model(args.model, **({"in_channels": splits.input_shape[0]} if args.model == "lenet5" else
                                     {"in_features": int(torch.tensor(splits.input_shape).prod())}))
    rates = list(args.dropout) if args.dropout else [0.0] * len(dropout_slots(net))
    if checkpoint is not None:
        weights = check_checkpoint_matches(checkpoint, net, args.model, args.checkpoint)
        rates = list(checkpoint.get("rates", rates))
        net = add_dropout(net, rates)
        net.load_state_dict(weights)
        return net, rates
    net = add_dropout(net, rates)
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                      noise_injection=args.noise_injection)
    trainer = Trainer(net, splits.train, cfg, seed=args.seed, device=args.device)
    for epoch in range(1, cfg.epochs + 1):
        loss = trainer.epoch()
        print(f"bayesft-tune evaluate: training epoch {epoch}/{cfg.epochs}, loss {loss:.4f}", file=sys.stderr,
              flush=True)
    if args.save:
        torch.save({"model": args.model, "rates": rates, "state_dict": net.state_dict()}, args.save)
    return net, rates


def run_evaluate(args: argparse.Namespace) -> int:
    """``bayesft-tune evaluate``: train, load a checkpoint, or load a searched trial; write the table."""
    checkpoint = _check_evaluate(args)
    out = args.out or os.path.join("runs", time.strftime("evaluate-%Y%m%d-%H%M%S"), "robustness.parquet")
    if args.run:
        net, splits, rates = _from_run(args)
    else:
        splits = load_data(args.dataset, root=args.data_dir, download=args.download, seed=args.seed)
        net, rates = _load_or_train(args, splits, checkpoint)
    frame = evaluate_under_drift(net, splits.test, args.sigmas or DEFAULT_SIGMAS, samples=args.samples,
                                 drift=args.drift, seed=args.seed, params=args.params, device=args.device)
    summary = summarize_drift(frame)
    summary = pd.concat([pd.DataFrame({"method": args.label, "trial_id": None, "split": "test",
                                       "drift": args.drift}, index=summary.index), summary], axis=1)
    written = write_file(summary, out if "://" in out else os.path.abspath(out), "robustness")
    print(f"model {args.model}, dropout {rates}, drift {args.drift}, T={args.samples}, test n={len(splits.test)}")
    print(robustness_text(summary))
    print(summary[["sigma", "loss_mean", "loss_ci_low", "loss_ci_high"]].to_string(index=False))
    print(f"written: {written}")
    return 0
