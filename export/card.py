"""The model card: a Markdown page written from the figures stored in the model's own metadata,
so the card can never disagree with the file it describes. Every recipe's card has the same
sections; what differs (architecture, data, the recipe's own figures) is read from the file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from improvd.daemon.artifact import RECURRENT, ModelInfo
from improvd.daemon.atomic import write_text_atomic

log = logging.getLogger(__name__)

# Metrics with a section of their own; every other entry is listed as the recipe's figures.
_SHARED_METRICS = ("model", "baselines", "float_model", "parity", "quantized")


def _figure(value, fmt: str = ".4f") -> str:
    return format(value, fmt) if isinstance(value, (int, float)) else "n/a"


def _interface(model_path: Path, info: ModelInfo) -> str:
    if info.kind == RECURRENT:
        graph = (f"one {info.tokenizer.get('name')} token plus the recurrent state in, "
                 f"next-token logits plus the new state out ({len(info.states)} state tensors "
                 f"of shape {list(info.states[0].shape)})")
    else:
        graph = (f"the last {info.context_length} {info.tokenizer.get('name')} tokens in, "
                 "next-token logits out")
    weights = "int8 dynamic-quantized" if info.metrics.get("quantized") else "float32"
    return (f"A `{info.kind}` model: {graph}. File size "
            f"{model_path.stat().st_size / 1e6:.2f} MB, {weights} weights.")


def _dynamics(config: dict) -> str:
    """How the augmented variants were revoiced, if they were (performance-lstm's velocity keys)."""
    if not config.get("velocity_levels"):
        return ""
    low, high = config["velocity_levels"]
    return (f"; each variant at its own loudness level in {low}..{high} with a crescendo or "
            f"diminuendo of up to {config.get('velocity_swell', 0)} and a per-note jitter of "
            f"+-{config.get('velocity_jitter', 0)}")


def _training(model_path: Path, t: dict, config: dict, quantized: bool = False) -> list[str]:
    steps = (f"{t.get('steps')} steps of batch {config.get('batch_size')}" if t.get("steps")
             else f"batch {config.get('batch_size')}")
    best = (f"best validation loss {_figure(t['best_val_loss'])} nats/token"
            if "best_val_loss" in t else f"best training loss {_figure(t.get('best_loss'))}")
    wall_s = t.get("wall_s")
    return [
        (f"- Command: `{t.get('command') or 'n/a'}`, then `improvd export --run <run dir> "
         f"--out {model_path.name}{' --quantize' if quantized else ''} --card <card>`."),
        f"- Machine: {t.get('machine', 'n/a')}.",
        (f"- Wall time of training: {_figure(wall_s, '.0f')} s "
         f"({_figure((wall_s or 0) / 60, '.1f')} min); {t.get('epochs', 'n/a')} epochs, {steps}."),
        f"- Model ({_figure(t.get('parameters'), ',d')} parameters): {t.get('architecture')}.",
        f"- `{config.get('monitor', 'val_loss')}` picked the exported checkpoint; {best}.",
    ]


def _data(data: dict, config: dict) -> list[str]:
    lines = [f"- Source: `{data.get('source', config.get('source', 'n/a'))}`."]
    for key in ("pieces", "tunes", "chorales", "tokens", "characters", "windows"):
        if isinstance(data.get(key), dict):
            counts = ", ".join(f"{split} {n}" for split, n in data[key].items())
            lines.append(f"- {key.capitalize()} per split: {counts}.")
    if data.get("train_tokens_augmented") and config.get("variants"):
        lines.append(
            f"- Train tokens augmented to {data['train_tokens_augmented']} by {config['variants']} "
            f"performances of each piece (training/performances.py): transposed within "
            f"{config.get('transpose_range')} semitones, tempo x{config.get('tempo_range')}, "
            f"articulation x{config.get('articulation_range')}, timing jitter "
            f"{config.get('jitter_ms')} ms, level {config.get('velocity_levels')}, beat accents "
            f"{config.get('accent_range')}, phrase arcs {config.get('arc_range')} (train split "
            f"only){'; pieces windowed as one stream' if config.get('join_pieces') else ''}.")
    elif data.get("train_tokens_augmented"):
        lines.append(f"- Train tokens augmented to {data['train_tokens_augmented']} by "
                     f"transposing +-{config.get('transpose')} semitones and time-stretching by "
                     f"{config.get('stretches')}{_dynamics(config)} (train split only).")
    return lines


def _results(m: dict) -> list[str]:
    model = m.get("model", {})
    lines = [
        (f"Scored with onnxruntime through the daemon's runner on {model.get('tokens')} tokens "
         f"of {model.get('pieces')} held-out pieces (each piece's tokens 2..n, full context as "
         "the runner keeps it). Baselines are fitted on the (unaugmented) train split and "
         "scored on the same tokens."),
        "",
        "| model | NLL (nats/token) | accuracy |",
        "|---|---|---|",
        f"| this model | {_figure(model.get('nll'))} | {_figure(model.get('accuracy'))} |",
    ]
    if "float_model" in m:
        fm = m["float_model"]
        lines.append(f"| same model, float32 weights | {_figure(fm.get('nll'))} | "
                     f"{_figure(fm.get('accuracy'))} |")
    for name, b in m.get("baselines", {}).items():
        if isinstance(b, dict) and "nll" in b:
            lines.append(f"| {name} | {_figure(b['nll'])} | {_figure(b.get('accuracy'))} |")
    own = {k: v for k, v in m.items() if k not in _SHARED_METRICS}
    if own:
        lines += ["", "The recipe's own figures (measured at the end of training):", ""]
        lines += [f"- {k}: `{json.dumps(v, sort_keys=True, default=str)}`" for k, v in own.items()]
    return lines


def render_card(model_path: Path, info: ModelInfo) -> str:
    t, m = info.training, info.metrics
    config = t.get("config", {})
    parity = m.get("parity", {})
    lines = [f"# {model_path.name}: {info.recipe}", "", _interface(model_path, info), "",
             "## How it was trained", "",
             *_training(model_path, t, config, bool(m.get("quantized"))), "",
             "## Data", "", *_data(t.get("data", {}), config), "",
             "## Held-out results", "", *_results(m), "",
             "## Export checks", "",
             (f"- ONNX (onnxruntime, token by token through the daemon's runner) vs the trained "
              f"TensorFlow model: max |logit diff| "
              f"{_figure(parity.get('onnx_vs_tf_max_abs_diff'), '.2e')} (tolerance "
              f"{parity.get('tol')}, on {parity.get('tokens_checked')} held-out positions)."
              + (" That is the float32 export; its weights were then quantized to int8 "
                 "(onnxruntime quantize_dynamic), which the held-out figures above judge, float32 "
                 "beside int8." if m.get("quantized") else "")),
             ("- All figures above are also in the file's `improvd` metadata (`metrics`, "
              "`training`)."), ""]
    return "\n".join(lines)


def write_card(card_path: Path, model_path: Path, info: ModelInfo) -> Path:
    return write_text_atomic(card_path, render_card(Path(model_path), info))
