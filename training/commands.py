"""Training subcommands: `improvd train | evaluate` (and `generate`, `evaluate-answers`, `demo`
and `plot`, each registered by its module).

Light at import time (argparse, the error types): TensorFlow and music21 load inside the
handlers, so the daemon's own commands stay fast.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from improvd.daemon.artifact import ModelFileError
from improvd.daemon.atomic import write_json_atomic
from improvd.daemon.errors import CommandError

from .errors import SourceError
from .recipes import ConfigError, UnknownRecipeError, recipe
from .run_dir import RunDirError

log = logging.getLogger(__name__)


@contextlib.contextmanager
def user_errors():
    """Turns the training stack's "your input is wrong" exceptions into one-line CommandErrors."""
    try:
        yield
    except (SourceError, ConfigError, UnknownRecipeError, RunDirError, ModelFileError) as exc:
        raise CommandError(str(exc)) from exc


def _train(args) -> int:
    with user_errors():
        from .driver import train  # TensorFlow

        return train(recipe(args.recipe), args)


def _evaluate(args) -> int:
    with user_errors():
        from .evaluate import evaluate_run

        result = evaluate_run(Path(args.model), Path(args.run), args.max_order,
                              by_source=args.by_source)
    if args.json:
        write_json_atomic(Path(args.json), result)
    return 0


def register(sub) -> None:
    p = sub.add_parser("train", help="train a recipe into a run directory",
                       description="Train a model; the run directory gets checkpoints, history, "
                       "loss.png, TensorBoard logs and run.json (all export needs).")
    p.add_argument("--recipe", default="performance-lstm",
                   help="model family (see training/recipes; default performance-lstm)")
    p.add_argument("--size", default="default",
                   help="a table of the recipe's TOML config, e.g. default or tiny")
    p.add_argument("--config", type=Path, default=None,
                   help="a TOML config file instead of training/configs/<recipe>.toml")
    p.add_argument("--source", default=None, help="override the config's data source")
    p.add_argument("--limit", type=int, default=None, help="override the config's piece limit")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint and epoch")
    p.add_argument("--strategy", choices=("default", "mirrored", "multiworker"),
                   default="default", help="tf.distribute strategy (multiworker reads TF_CONFIG)")
    p.add_argument("--epochs", type=int, default=None, help="override the number of epochs")
    p.add_argument("--steps", type=int, default=None, help="override the steps per epoch")
    p.set_defaults(handler=_train)

    p = sub.add_parser("evaluate", help="held-out NLL/accuracy of a model vs baselines",
                       description="Score an exported .onnx on a run's test split (whole pieces, "
                       "one token at a time) next to unigram and Markov baselines.")
    p.add_argument("model", help="the .onnx file")
    p.add_argument("--run", required=True, help="the training run directory (its test split)")
    p.add_argument("--max-order", type=int, default=5, help="highest Markov baseline order")
    p.add_argument("--json", default=None, help="also write the figures to this JSON file")
    p.add_argument("--by-source", action="store_true",
                   help="also per collection of test pieces (bach, folk, piano...)")
    p.set_defaults(handler=_evaluate)

    # light at import time (heavy imports in handlers)
    from . import demo, evaluate_answers, generate, session_plot
    generate.register(sub)
    evaluate_answers.register(sub)
    demo.register(sub)
    session_plot.register(sub)
