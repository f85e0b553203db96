"""``python -m sb3_hlgauss.zoo COMMAND [zoo flags]`` (console script ``sb3-hlgauss-zoo``).

Commands are the zoo's (``train``, ``enjoy``, ``plot_train``, ``plot_from_file``, ``all_plots``),
run by the zoo's unchanged ``rl_zoo3.cli`` after :func:`sb3_hlgauss.zoo.register_zoo`, and accept
every flag of the zoo's scripts. What this entry point adds:

* ``--algo`` defaults to ``hlgauss_dqn`` (the zoo's default is ``ppo``); ``train`` with no flags at all
  runs ``--algo hlgauss_dqn --env CartPole-v1``.
* For our algorithms (and our ``mse_dqn`` baseline), ``--conf-file`` defaults to our ``zoo_configs/<algo>.yml``;
  ``--conf-file sb3_hlgauss`` selects our file for any algorithm we ship one for, e.g. the
  baselines ``dqn``, ``sac``, ``td3`` with the same settings as the HL-Gauss runs.
* ``enjoy`` of our algorithms acts greedily (``--deterministic``) unless ``--stochastic`` is given,
  as the zoo does for its own off-policy algorithms.
* ``plot_train --save FILE.png`` writes the figure instead of showing it.
* An invalid hyperparameter file, or an rl_zoo3/Optuna version the wrapper does not support
  (:mod:`sb3_hlgauss.zoo._private_api`), fails with one line (exit status 2), not a stack trace.
* ``config-path [ALGO]`` prints where our hyperparameter files are.
* ``study`` shows a tuning study (:mod:`sb3_hlgauss.zoo.study`).
* Tuning flags of ``train`` (:mod:`sb3_hlgauss.zoo.tuning`): ``--heartbeat-interval S`` (default 60; 0: off),
  ``--grace-period S`` (default 2x the interval) and ``--max-retry N`` (default 3) for lost trials, and
  ``--trial-id best|N`` to retrain a stored trial; ``--storage`` defaults to ``$OPTUNA_STORAGE``.

``python -m rl_zoo3.train --algo hlgauss_dqn`` cannot work: the zoo fixes ``--algo``'s choices before it
imports anything of ours. Run ``python -m sb3_hlgauss.zoo train`` (or ``sb3-hlgauss-zoo train``) instead.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence

#: Modules of the ``zoo`` extra that this entry point cannot start without.
ZOO_EXTRA_MODULES = ("rl_zoo3", "optuna")
MISSING_EXTRA = 'sb3_hlgauss.zoo: {module} is not installed: install the zoo extra, pip install -e ".[zoo]" in a clone of sb3-hlgauss'


def missing_zoo_module() -> str | None:
    """The first module of :data:`ZOO_EXTRA_MODULES` that is not installed (``None``: all are)."""
    for module in ZOO_EXTRA_MODULES:
        try:
            if importlib.util.find_spec(module) is None:
                return module
        except (ImportError, ValueError):
            return module
    return None


if (_missing := missing_zoo_module()) is not None:  # one line naming the extra, not an ImportError's traceback
    print(MISSING_EXTRA.format(module=_missing), file=sys.stderr)
    sys.exit(2)

from sb3_hlgauss.zoo import BASELINE_ALGOS, DEFAULT_CONF_ALGOS, config_dir, config_path
from sb3_hlgauss.zoo.tuning import DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_MAX_RETRY, TuningOptions

ZOO_COMMANDS = ("train", "enjoy", "plot_train", "plot_from_file", "all_plots")
OUR_COMMANDS = ("config-path", "study")
DEFAULT_ALGO = "hlgauss_dqn"
DEFAULT_TRAIN_ARGS = ("--algo", DEFAULT_ALGO, "--env", "CartPole-v1")
#: ``--conf-file`` values that select our file for the chosen algorithm.
OUR_CONF_ALIASES = ("sb3_hlgauss", "sb3-hlgauss")

USAGE = f"""usage: python -m sb3_hlgauss.zoo {{{",".join(ZOO_COMMANDS + OUR_COMMANDS)}}} [flags]

Registers the sb3-hlgauss algorithms ({", ".join(DEFAULT_CONF_ALGOS)}) with RL Zoo and runs the zoo's command.
Our algorithms use sb3_hlgauss's zoo_configs/<algo>.yml unless --conf-file is given;
--conf-file sb3_hlgauss selects our baseline file for {", ".join(BASELINE_ALGOS)}.
`python -m sb3_hlgauss.zoo train` alone trains hlgauss_dqn on CartPole-v1.
Tuning flags added to train: --heartbeat-interval S, --grace-period S, --max-retry N, --trial-id best|N;
`study --storage URL --study-name NAME [--plots DIR]` shows a study. See docs/zoo.md.
"""


TRAIN_HELP = f"""sb3_hlgauss adds these flags to the zoo's train (listed after this):
  --heartbeat-interval S  seconds between heartbeats of running trials on an RDB storage (default {DEFAULT_HEARTBEAT_INTERVAL}; 0: off)
  --grace-period S        a trial silent this long is failed and re-queued (default: 2x the interval)
  --max-retry N           re-queue a lost trial at most N times (default {DEFAULT_MAX_RETRY})
  --trial-id best|N       retrain the best trial (or trial N) of --storage/--study-name
  --storage               defaults to $OPTUNA_STORAGE
"""


def _trial_id(value: str) -> str | int:
    if value == "best":
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'best' or a trial number, got {value!r}") from None


def split_tuning_args(args: Sequence[str]) -> tuple[TuningOptions, list[str]]:
    """Take our tuning flags out of ``train``'s arguments (the zoo's parser would reject them).

    :raises ValueError: naming the flag, for a value that is not allowed.
    """
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    parser.add_argument("--heartbeat-interval", type=int, default=DEFAULT_HEARTBEAT_INTERVAL)
    parser.add_argument("--grace-period", type=int, default=None)
    parser.add_argument("--max-retry", type=int, default=DEFAULT_MAX_RETRY)
    parser.add_argument("--trial-id", type=_trial_id, default=None)
    try:
        known, rest = parser.parse_known_args(list(args))
    except argparse.ArgumentError as error:
        raise ValueError(str(error)) from None
    options = TuningOptions(
        heartbeat_interval=known.heartbeat_interval or None,
        grace_period=known.grace_period,
        max_retry=known.max_retry,
        trial=known.trial_id,
    )
    return options, rest



def _pre_parse(args: Sequence[str]) -> argparse.Namespace:
    """Read the few flags we act on, with the zoo's spelling (unknown flags are left to the zoo)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--algo")
    parser.add_argument("-conf", "--conf-file")
    parser.add_argument("--deterministic", action="store_true")
    parser.add_argument("--stochastic", action="store_true")
    parser.add_argument("-h", "--help", action="store_true")
    namespace, _ = parser.parse_known_args(list(args))
    return namespace


def _replace_conf(args: list[str], value: str) -> list[str]:
    out = []
    skip = False
    for arg in args:
        if skip:
            out.append(value)
            skip = False
        elif arg in ("-conf", "--conf-file"):
            out.append(arg)
            skip = True
        elif arg.startswith("--conf-file=") or arg.startswith("-conf="):
            out.append(f"{arg.split('=', 1)[0]}={value}")
        else:
            out.append(arg)
    return out


def prepare_args(command: str, args: Sequence[str]) -> list[str]:
    """The zoo arguments for ``command``: our defaults added where the user gave none."""
    args = list(args)
    if command == "train" and not args:
        args = list(DEFAULT_TRAIN_ARGS)
    if command not in ("train", "enjoy"):
        return args
    known = _pre_parse(args)
    if known.help:
        return args
    algo = known.algo
    if algo is None:
        algo = DEFAULT_ALGO
        args = ["--algo", algo, *args]
    if command == "train":
        if known.conf_file is None and algo in DEFAULT_CONF_ALGOS:
            args += ["--conf-file", str(config_path(algo))]
        elif known.conf_file in OUR_CONF_ALIASES:
            args = _replace_conf(args, str(config_path(algo)))
    elif command == "enjoy" and algo in DEFAULT_CONF_ALGOS and not (known.deterministic or known.stochastic):
        args.append("--deterministic")
    return args


def _plot_train_saving(args: list[str]) -> list[str]:
    """Handle ``--save FILE`` for ``plot_train`` (the zoo's script only shows the figure)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--save")
    known, rest = parser.parse_known_args(args)
    if known.save:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        def save(*_args: object, **_kwargs: object) -> None:
            plt.savefig(known.save, bbox_inches="tight")
            print(f"Saved {known.save}")

        plt.show = save  # type: ignore[assignment]
    return rest


def _disable_broken_rliable() -> None:
    """Let the zoo's plots import when ``rliable`` is installed but broken.

    ``rliable`` imports ``arch``, which fails with a ``TypeError`` under pandas >= 3 (rl-zoo3's
    ``plots`` extra pins pandas < 3). The zoo's ``plot_from_file`` already copes with a *missing*
    rliable (``except ImportError``: only ``-r``/``-iqm``/``-vs`` need it), so a broken one is made
    to look missing.
    """
    try:
        import rliable.library  # noqa: F401
    except ImportError:
        pass
    except Exception as error:  # noqa: BLE001 - any failure inside rliable's imports
        for name in [name for name in sys.modules if name == "rliable" or name.startswith("rliable.")]:
            del sys.modules[name]
        sys.modules["rliable"] = None  # type: ignore[assignment]  # `import rliable` -> ImportError
        print(f"sb3_hlgauss.zoo: rliable cannot be imported ({type(error).__name__}: {error}); "
              "plot_from_file runs without its -r/-iqm/-vs plots (install 'rl-zoo3[plots]', pandas<3).",
              file=sys.stderr)


def load_zoo_script(command: str) -> Callable[[], None]:
    """The zoo's own function for ``command`` (what ``rl_zoo3.cli.main`` dispatches to), imported lazily.

    ``rl_zoo3.cli`` imports every plotting script (and ``rliable``) even to train; importing only the
    script asked for keeps ``train``/``enjoy`` independent of the plotting stack.
    """
    if command in ("train", "enjoy"):
        module = importlib.import_module(f"rl_zoo3.{command}")
    else:
        _disable_broken_rliable()
        module = importlib.import_module(f"rl_zoo3.plots.{command}")
    return getattr(module, command)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, args = argv[0], argv[1:]
    if command == "config-path":
        try:
            print(config_path(args[0]) if args else config_dir())
        except FileNotFoundError as error:
            print(f"sb3_hlgauss.zoo: error: {error}", file=sys.stderr)
            return 2
        return 0
    if command == "study":
        from sb3_hlgauss.zoo import study

        return study.main(args)
    if command not in ZOO_COMMANDS:
        print(f"{USAGE}\nerror: unknown command {command!r}", file=sys.stderr)
        return 2

    from sb3_hlgauss.zoo import register_zoo, tuning
    from sb3_hlgauss.zoo._private_api import UnsupportedZooVersion

    try:
        register_zoo()  # checks rl_zoo3's and Optuna's versions first
    except UnsupportedZooVersion as error:
        print(f"sb3_hlgauss.zoo: error: {error}", file=sys.stderr)
        return 2
    from sb3_hlgauss.zoo.exp_manager import ZooConfigError

    try:
        if command == "train":
            options, args = split_tuning_args(args)
            tuning.set_options(options)
        args = prepare_args(command, args)
    except (FileNotFoundError, ValueError) as error:
        print(f"sb3_hlgauss.zoo: error: {error}", file=sys.stderr)
        return 2
    if command == "plot_train":
        args = _plot_train_saving(args)
    if command == "train" and _pre_parse(args).help:
        print(TRAIN_HELP)
    script = load_zoo_script(command)
    sys.argv = [f"rl_zoo3 {command}", *args]
    try:
        script()
    except ZooConfigError as error:
        print(f"sb3_hlgauss.zoo: error: {tuning.redact(str(error))}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
