"""The model card: a Markdown page written from the figures stored in the model's own metadata,
so the card can never disagree with the file it describes."""

from __future__ import annotations

import logging
from pathlib import Path

from improvd.daemon.artifact import ModelInfo
from improvd.daemon.atomic import write_text_atomic

log = logging.getLogger(__name__)


def _figure(value, fmt: str = ".4f") -> str:
    return format(value, fmt) if isinstance(value, (int, float)) else "n/a"


def _dynamics(config: dict) -> str:
    """How the augmented variants were revoiced, if they were (performance-lstm's velocity keys)."""
    if not config.get("velocity_levels"):
        return ""
    low, high = config["velocity_levels"]
    return (f", each variant at its own loudness level in {low}..{high} with a crescendo or "
            f"diminuendo of up to {config.get('velocity_swell', 0)} and a per-note jitter of "
            f"+-{config.get('velocity_jitter', 0)}")


def render_card(model_path: Path, info: ModelInfo) -> str:
    t, m = info.training, info.metrics
    data, config = t.get("data", {}), t.get("config", {})
    pieces, tokens = data.get("pieces", {}), data.get("tokens", {})
    model = m.get("model", {})
    lines = [
        f"# {model_path.name}: {info.recipe}",
        "",
        f"A `{info.kind}` model: one {info.tokenizer.get('name')} token plus the recurrent state "
        f"in, next-token logits plus the new state out ({len(info.states)} state tensors of "
        f"shape {list(info.states[0].shape) if info.states else 'n/a'}). "
        f"File size {model_path.stat().st_size / 1e6:.2f} MB"
        + (", int8 dynamic-quantized weights." if m.get("quantized") else ", float32 weights."),
        "",
        "## How it was trained",
        "",
        f"- Command: `{t.get('command') or 'n/a'}`, then `improvd export --run <run dir> --out "
        f"{model_path.name} --card <card>`; `make train-default` runs both for the shipped model.",
        f"- Machine: {t.get('machine', 'n/a')}.",
        f"- Wall time of training: {_figure(t.get('wall_s'), '.0f')} s "
        f"({_figure((t.get('wall_s') or 0) / 60, '.1f')} min); "
        f"{t.get('epochs', 'n/a')} epochs of {config.get('steps_per_epoch', 'n/a')} steps "
        f"= {t.get('steps', 'n/a')} steps of batch {config.get('batch_size', 'n/a')} x "
        f"{config.get('window', 'n/a')} tokens.",
        f"- Model: {config.get('layers')} x LSTM({config.get('units')}) over an "
        f"Embedding({config.get('embed_dim')}), dropout {config.get('dropout')}, Adam "
        f"{config.get('learning_rate')} (clipnorm {config.get('clipnorm')}).",
        f"- Best validation loss {_figure(t.get('best_val_loss'))} nats/token (windows of "
        f"{config.get('window')} tokens); the checkpoint with the best validation loss is the "
        "one exported.",
        "",
        "## Data",
        "",
        f"- Source: `{data.get('source', 'n/a')}` (real scores from music21's corpus, rendered to "
        "timed note events, then performance tokens: note-on/off, 10 ms time shifts, 32 "
        "velocity bins).",
        f"- Pieces per split (split by a hash of each piece's name): train "
        f"{pieces.get('train')}, valid {pieces.get('valid')}, test {pieces.get('test')}.",
        f"- Tokens: train {tokens.get('train')} (augmented to "
        f"{data.get('train_tokens_augmented')} by transposing +-{config.get('transpose')} "
        f"semitones and time-stretching by {config.get('stretches')}{_dynamics(config)}; train "
        "split only), "
        f"valid {tokens.get('valid')}, test {tokens.get('test')}.",
        "",
        "## Held-out results (test split, whole pieces, full context, token by token)",
        "",
        f"Scored with onnxruntime through the daemon's runner on {model.get('tokens')} tokens "
        f"of {model.get('pieces')} test pieces (each piece's tokens 2..n). Baselines are fitted "
        "on the (unaugmented) train split and scored on the same tokens.",
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
    parity = m.get("parity", {})
    lines += [
        "",
        "## Export checks",
        "",
        f"- ONNX (onnxruntime, step by step) vs TensorFlow (whole sequence): max |logit diff| "
        f"{_figure(parity.get('onnx_vs_tf_max_abs_diff'), '.2e')}; TensorFlow step graph vs "
        f"whole-sequence graph: {_figure(parity.get('tf_step_vs_sequence_max_abs_diff'), '.2e')} "
        f"(tolerance {parity.get('tol')}, on {parity.get('tokens_checked')} held-out tokens).",
        "- All figures above are also in the file's `improvd` metadata (`metrics`, `training`).",
        "",
    ]
    return "\n".join(lines)


def write_card(card_path: Path, model_path: Path, info: ModelInfo) -> Path:
    return write_text_atomic(card_path, render_card(Path(model_path), info))
