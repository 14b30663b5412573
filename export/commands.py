"""Export subcommands: `improvd export | verify | quantize`.

Light at import time (argparse, the error types): TensorFlow, tf2onnx and onnxruntime load inside
the handlers, so the daemon's own commands stay fast.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from improvd.daemon.artifact import ModelFileError
from improvd.daemon.errors import CommandError
from improvd.training.recipes import UnknownRecipeError
from improvd.training.run_dir import RunDirError, load_splits

from .card import write_card

log = logging.getLogger(__name__)


@contextlib.contextmanager
def user_errors():
    """The export stack's "your input is wrong" exceptions -> one-line CommandErrors."""
    from .verify import ParityError  # loads onnxruntime: only once a handler runs

    try:
        yield
    except (ModelFileError, RunDirError, UnknownRecipeError, ParityError) as exc:
        raise CommandError(str(exc)) from exc


def _export(args) -> int:
    with user_errors():
        from .driver import export_run

        out = Path(args.out)
        info = export_run(Path(args.run), out, quantize=args.quantize)
        if args.card:
            write_card(Path(args.card), out, info)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)" +
          (f" and {args.card}" if args.card else ""))
    return 0


def _verify(args) -> int:
    with user_errors():
        if args.run:
            from .driver import verify_run

            verify_run(Path(args.model), Path(args.run))
        else:
            from .verify import check_file

            check_file(Path(args.model))
    print("verify: OK")
    return 0


def _quantize(args) -> int:
    with user_errors():
        from improvd.daemon.runner import open_session
        from improvd.training.held_out import held_out

        from .quantize import compare, quantize_described, quantize_model

        # Refuse a file that is not an improvd model, or a split that cannot be had, before
        # anything is written.
        _, info = open_session(args.model)
        model, out = Path(args.model), Path(args.out)
        if not args.card:
            out = quantize_model(model, out)
            if args.run:
                compare(model, out, load_splits(Path(args.run))["test"])
            return 0
        test = load_splits(Path(args.run))["test"] if args.run else held_out(info, model)
        described = quantize_described(model, out, info, test)
        write_card(Path(args.card), out, described)
    before, after = described.metrics["float_model"], described.metrics["model"]
    print(f"held-out NLL {before['nll']:.4f} -> {after['nll']:.4f} nats/token; accuracy "
          f"{before['accuracy']:.4f} -> {after['accuracy']:.4f}; wrote {out} and {args.card}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("export", help="turn a training run into one verified .onnx model",
                       description="Convert a run's best checkpoint to ONNX with tf2onnx, check "
                       "parity with TensorFlow, evaluate it on the run's test split against "
                       "baselines and store everything in the model's metadata.")
    p.add_argument("--run", required=True, help="the training run directory")
    p.add_argument("--out", required=True, help="the .onnx file to write")
    p.add_argument("--card", default=None, help="also write a model card (Markdown) here")
    p.add_argument("--quantize", action="store_true",
                   help="ship int8 dynamic-quantized weights (reports the NLL change)")
    p.set_defaults(handler=_export)

    p = sub.add_parser("verify", help="check a model file (and its parity with a run)",
                       description="Load a model through the daemon's runner; with --run, check "
                       "its logits, token by token, against the run's trained TensorFlow model "
                       "(max |diff| <= 1e-4) on the run's test split, as export did.")
    p.add_argument("model", help="the .onnx file")
    p.add_argument("--run", default=None, help="the training run it was exported from")
    p.set_defaults(handler=_verify)

    p = sub.add_parser("quantize", help="int8 dynamic quantization of a model",
                       description="Quantize a model's weights to int8 (onnxruntime "
                       "quantize_dynamic); with --run, report the held-out NLL before/after. "
                       "With --card, score both on the held-out split (the run's, else rebuilt "
                       "from the model's metadata), store the int8 figures in the new file's "
                       "metadata and write its card.")
    p.add_argument("model", help="the .onnx file")
    p.add_argument("--out", required=True, help="the quantized .onnx file to write")
    p.add_argument("--run", default=None, help="training run whose test split to score on")
    p.add_argument("--card", default=None, help="also write the int8 model's card (Markdown)")
    p.set_defaults(handler=_quantize)
