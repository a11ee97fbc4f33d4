"""``bayesft-tune``: search, evaluate and report from the command line.

    bayesft-tune search [--task mnist_mlp | --task file.py:NAME] [--trials 30] [--config FILE.yaml] [--resume RUN]
    bayesft-tune evaluate --model mlp --dropout 0.5,0.5 | report RUN_DIR | compare | ablation

Bad input ends with one line 'bayesft-tune <command>: error: <rule, value, fix>' and exit status 2;
--debug (before or after the command) shows the traceback instead. Ctrl-C exits with status 130.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import traceback
import warnings
from typing import Sequence

from bayesft_tune.errors import UserInputError
from bayesft_tune.argtypes import floats as _floats, level as _level, levels as _levels, names as _names

# Every command's modules are imported inside the functions that run it: the first line prints before torch loads.

EXIT_USER_ERROR, EXIT_INTERRUPTED = 2, 130
DEBUG_FLAG, DEBUG_ENV = "--debug", "BAYESFT_DEBUG"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_WRAPPED = re.compile(r"(?:bayesft_tune\.errors\.)?UserInputError: (.+)")


def _add_search(sub) -> None:
    p = sub.add_parser("search", help="run a BayesFT search (Ax BO of per-layer dropout on Ray Tune)",
                       description="Run a BayesFT search. Flags override --config; unset flags keep "
                                   "the config file's or the defaults (see bayesft_tune.SearchConfig).")
    p.add_argument("--config", metavar="FILE.yaml", help="YAML mapping of search settings (same names as the "
                   "flags, with _)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted search from its run directory")
    for flags in (_space_flags, _objective_flags, _training_flags, _searcher_flags, _run_flags):
        flags(p.add_argument)  # one group per part of SearchConfig (bayesft_tune/search/settings.py)


def _space_flags(a) -> None:
    a("--space", metavar="KNOB,..", help="knobs the search owns, from dropout, noise, width, activation, norm, "
      "lr, weight_decay (default dropout,width,noise where the task's model has them; 'dropout' alone is "
      "the paper's mode: drifted-loss objective and training)")
    a("--bounds", type=_floats, metavar="LOW,HIGH", help="bounds of every dropout rate (default 0,0.8)")
    a("--width-ratio-bounds", type=_floats, metavar="LOW,HIGH", help="log-scale range of the width ratios "
      "(default 0.125,8)")
    a("--activations", type=_names, metavar="A,..", help="values of the activation knob (default relu,elu,gelu,tanh)")
    a("--norms", type=_names, metavar="N,..", help="values of the norm knob (default none,layer)")


def _objective_flags(a) -> None:
    a("--objective", choices=["drifted_loss", "grid_accuracy"], help="grid_accuracy: maximise mean accuracy "
      "over --objective-sigmas (default); drifted_loss: minimise MC drifted loss at --target-sigma (paper mode)")
    a("--objective-levels", "--objective-sigmas", dest="objective_sigmas", type=_levels, metavar="L1,L2,..",
      help="levels of grid_accuracy on the drift's axis: σ (0.3,...,1.5) or time since programming (pcm: 1h,1d,30d,1y)")
    a("--target-level", "--target-sigma", dest="target_sigma", type=_level, help="level of the MC drifted loss "
      "(default 0.9; time models: the last objective level)")
    a("--gdc", action=argparse.BooleanOptionalAction, help="global drift compensation per layer (device models; "
      "default on for pcm, off for reram_wan2022)")
    a("--samples", type=int, help="Monte Carlo drift samples T per evaluation (default 16)")
    a("--drift", help="drift model of the objective (default lognormal): " + _drift_list())
    a("--clean-guard", type=float, metavar="DROP", help="returned network's clean validation accuracy at most "
      "DROP below an ERM reference trained first (default 0.01; --no-clean-guard turns it off)")
    a("--no-clean-guard", dest="clean_guard", action="store_const", const="off", help="no clean-accuracy guard")
    a("--min-clean-accuracy", type=float, help="outcome constraint: clean validation accuracy >= this")


def _training_flags(a) -> None:
    a("--task", help="built-in task (default mnist_mlp), or yours: file.py:NAME or module:NAME of a bayesft_tune.Task "
      "(or a zero-argument function returning one). Built in: " + _task_list())
    a("--data", metavar="PATH", help="data without code: a .npz of x_train, y_train, x_test, y_test or an ImageFolder")
    a("--model", help="with --data: a registered model, adapted to the data (default mlp), or file.py:NAME")
    a("--epochs", type=int, help="training epochs per trial (default: the task's)")
    a("--batch-size", type=int, help="training batch size (default: the task's)")
    a("--lr", type=float, help="learning rate (default: the task's)")
    a("--training", choices=["clean", "drifted"], help="drifted: Algorithm 1, θ trained on the drifted loss "
      "at --target-sigma; clean: clean loss (default: drifted in the paper's mode, else clean)")
    a("--data-seed", type=int, help="seed of the train/val/test split (default 0; independent of --seed)")
    a("--data-dir", help="directory holding torchvision dataset files")
    a("--download", action="store_true", default=None, help="let torchvision download datasets")


def _searcher_flags(a) -> None:
    a("--trials", type=int, help="trials in total (default 30)")
    a("--concurrency", type=int, help="trials at once; also Ax's batch size (default 2)")
    a("--seed", type=int, help="seed of Ax, training and drift draws (default 0)")
    a("--method", choices=["bo", "random"], help="Ax GP Bayesian optimisation (default) or random search")
    a("--initialization-budget", type=int, help="Sobol trials before the GP (default Ax's 5)")
    a("--scheduler", choices=["fifo", "asha"], help="fifo (default) or ASHA early stopping on the objective")
    a("--eval-every", type=int, metavar="N", help="MC objective and checkpoint every N epochs (default: last "
      "epoch and ASHA rungs only)")
    a("--mode", choices=["scratch", "warm_start", "alternating"], help="scratch (default): every trial from a "
      "fresh initialisation; warm_start: each trial starts from the best finished trial's weights; alternating: "
      "the paper's Algorithm 1 as written (--space dropout): one network, θ and α in turn")


def _run_flags(a) -> None:
    """Resources, storage and the final job."""
    a("--cpus-per-trial", type=float, help="CPUs per trial; torch threads follow (default 1)")
    a("--gpus-per-trial", type=float, help="GPUs per trial; 0.25 packs 4 trials per GPU (default 0)")
    a("--address", help="Ray cluster to join ('auto', 'ray://host:10001'); default starts Ray locally")
    a("--max-failures", type=int, help="retries of a trial whose worker died (default 2)")
    a("--storage-path", help="local directory or URI (s3://, gs://, file://) for results (default ./runs)")
    a("--name", help="run name, the directory under --storage-path (default search-<timestamp>)")
    a("--quiet", dest="verbose", action="store_false", default=None, help="no per-trial progress lines")
    a("--reselect-top-k", type=int, metavar="K", help="top trials re-scored with fresh draws to pick the "
      "returned network (default 3)")
    a("--robustness-samples", type=int, help="T of the final best-vs-ERM evaluation (default 32)")
    a("--robustness-levels", "--robustness-sigmas", dest="robustness_sigmas", type=_levels, help="levels of the "
      "final evaluation (default 0,0.3,...,1.5; pcm 0,1s,1h,1d,30d,1y; reram_wan2022 0,1s,1d,2d)")
    a("--no-erm-baseline", dest="erm_baseline", action="store_false", default=None,
      help="skip training the ERM model of the final table")


def _task_list() -> str:
    from bayesft_tune.tasks import TASKS  # lazy, as every command's modules: see the top
    return "; ".join(f"{t.name} ({t.description})" for t in TASKS.values())


def _drift_list() -> str:
    from bayesft_tune.drift import drift_names  # lazy, as every command's modules: see the top
    return ", ".join(drift_names()) + " (pcm:gdc=false etc. sets a model's parameters)"


def _search(args: argparse.Namespace) -> int:
    # lazy: Ax and Ray load after the first line; tests replace runner.run_search before this runs
    from bayesft_tune.search.config import SearchConfig
    from bayesft_tune.search.interrupt import forget_run_dir, remember_run_dir, watch_sigint
    from bayesft_tune.search.runner import resume_search, run_search
    from bayesft_tune.search.summary import outcome_text

    forget_run_dir()
    watch_sigint()
    given = {k: v for k, v in vars(args).items() if k not in {"command", "config", "resume"} and v is not None}
    given.update({"clean_guard": None} if given.get("clean_guard") == "off" else {})
    if args.resume is not None:
        if not args.resume.strip():
            raise UserInputError("--resume needs the run directory a search printed; got ''. Pass --resume RUN_DIR.")
        extra = sorted(set(given) - {"address"})
        if extra or args.config:
            raise UserInputError(f"--resume continues a search with its saved settings; it takes only "
                                 f"--address, got {extra + (['config'] if args.config else [])}. "
                                 "Drop those flags (the run's search_config.json holds its settings).")
        remember_run_dir(args.resume)
        outcome = resume_search(args.resume, address=given.get("address"))
    else:
        cfg = SearchConfig.from_yaml(args.config, **given) if args.config else SearchConfig.from_dict(given)
        outcome = run_search(cfg)
    print(outcome_text(outcome))
    return 0


def _report(argv: Sequence[str]) -> int:
    from analysis.report import main as report_main  # lazy, as every command's modules: see the top

    return report_main(list(argv))


def _watch(argv: Sequence[str]) -> int:
    from analysis.watch import main as watch_main  # lazy: analysis loads only for this command

    return watch_main(argv)


def _compare(argv: Sequence[str]) -> int:
    from bayesft_tune.compare import main as compare_main  # lazy: Ray and torch load only for this command

    return compare_main(argv)


def _ablation(argv: Sequence[str]) -> int:
    from bayesft_tune.ablation import main as ablation_main  # lazy: Ray and torch load only for this command

    return ablation_main(argv)


def user_error(err: BaseException) -> UserInputError | None:
    """The :class:`UserInputError` behind ``err``, if any: ``err`` itself, or one found
    through Ray's wrappers (``RayTaskError.cause``, a ``TuneError``'s ``__cause__`` /
    ``__context__`` chain) or, for errors that only carry a worker's traceback text,
    its ``UserInputError: <message>`` line."""
    stack, seen = [err], set()
    while stack:
        e = stack.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        cause = getattr(e, "cause", None)  # ray.exceptions.RayTaskError: the worker's exception
        inner = cause if isinstance(cause, BaseException) else None
        if isinstance(e, UserInputError) and inner is None:
            return e
        stack += [inner, e.__cause__, e.__context__]
    found = _WRAPPED.findall(_ANSI.sub("", str(err)))
    return UserInputError(found[-1].strip()) if found else None


def error_line(command: str, err: BaseException) -> str:
    """``bayesft-tune <command>: error: <message>`` on one line, without ANSI codes."""
    message = " ".join(_ANSI.sub("", str(err)).split())
    return f"bayesft-tune{' ' + command if command else ''}: error: {message}"


def _interrupted(command: str) -> str:
    if command == "search" and "bayesft_tune.search.interrupt" in sys.modules:
        from bayesft_tune.search.interrupt import interrupted_message  # already imported by _search

        return interrupted_message(command)
    return f"bayesft-tune{' ' + command if command else ''}: interrupted."


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bayesft-tune`` console script: the one error path for users.

    A :class:`UserInputError` (also one raised in a Ray worker) prints one line and
    returns 2; Ctrl-C prints one line and returns 130; ``--debug`` anywhere in ``argv``
    (or ``BAYESFT_DEBUG=1``) prints the traceback as well, and sets ``BAYESFT_DEBUG=1``
    for the command (Ray's own logs, see ``bayesft_tune.search.session``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    saved = os.environ.get(DEBUG_ENV)
    if DEBUG_FLAG in argv:
        os.environ[DEBUG_ENV] = "1"
    try:
        return _guarded([a for a in argv if a != DEBUG_FLAG], os.environ.get(DEBUG_ENV) == "1")
    finally:
        if saved is None:
            os.environ.pop(DEBUG_ENV, None)
        else:
            os.environ[DEBUG_ENV] = saved


def _guarded(argv: list[str], debug: bool) -> int:
    command = argv[0] if argv and not argv[0].startswith("-") else ""
    try:
        return _dispatch(argv)
    except SystemExit as done:  # argparse: --help (0) or a usage error (2), message already printed
        return done.code if isinstance(done.code, int) else int(done.code is not None)
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print(_interrupted(command), file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:
        found = user_error(err)
        if found is None:
            raise
        if debug:
            traceback.print_exc()
        print(error_line(command, found), file=sys.stderr)
        return EXIT_USER_ERROR


def _dispatch(argv: list[str]) -> int:
    own = {"report": _report, "watch": _watch, "compare": _compare, "ablation": _ablation}
    if argv[:1] and argv[0] in own:  # commands that parse their own flags
        return own[argv[0]](argv[1:])
    if argv[:1] == ["search"] and not {"-h", "--help"} & set(argv):
        print("bayesft-tune search: starting (loading torch, Ax and Ray)", file=sys.stderr, flush=True)
    from bayesft_tune import evaluate_cmd  # lazy: torch loads only once a search/evaluate command is parsed

    args = _parser(evaluate_cmd).parse_args(argv)
    warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
    del args.debug
    if args.command == "repair":
        return _repair(args.run_dir)
    return _search(args) if args.command == "search" else evaluate_cmd.run_evaluate(args)


def _parser(evaluate_cmd) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bayesft-tune", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(DEBUG_FLAG, action="store_true",
                        help="show the traceback of an error (also accepted after the command)")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_search(sub)
    evaluate_cmd.add_evaluate(sub)
    sub.add_parser("report", help="write a Markdown report of a run directory (see 'report --help')")
    sub.add_parser("watch", help="live view of a search's run directory (see 'watch --help')")
    repair = sub.add_parser("repair", help="rebuild a run's trials.parquet and history.parquet from its "
                                           "trials' own result.json files (a deleted or truncated table)")
    repair.add_argument("run_dir", metavar="RUN_DIR", help="the search's run directory (path or URI)")
    sub.add_parser("compare", help="train every method (erm, awp, ftna, ..., bayesft) over seeds and "
                                   "compare robustness (see 'compare --help')")
    sub.add_parser("ablation", help="the paper's §III.A ablation of MLP components with Welch's t-test "
                                    "(see 'ablation --help')")
    return parser


def _repair(run_dir: str) -> int:
    from bayesft_tune.search.runner import repair_run  # lazy: Ray loads only for this command

    trials, history = repair_run(run_dir)
    print(f"rebuilt {run_dir}: trials.parquet ({trials} trials), history.parquet ({history} epochs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
