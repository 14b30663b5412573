"""`improvd generate`: continue a prompt offline with an exported .onnx model, write MIDI (and WAV).

    improvd generate --model X.onnx --prompt phrase.mid|tune.abc --out out.mid [--wav out.wav]

A performance model (the daemon's own kind: note-on/off, time shifts, velocities) answers the
prompt as `improvd run` would: the prompt is played as a call into the daemon's engine on a
virtual clock, with the daemon's config (--config, else the defaults: top-p, legality mask,
steering), and the call and its answer are written as two MIDI tracks (answer_prompt.py).
Deciding this reads only the model's metadata, so it never loads TensorFlow.

Other models generate a fixed number of tokens through the daemon's runner (the sampling below):
the prompt is read with the model's tokenizer (a MIDI file through its events; an ABC file as
text for a character model, else through music21), the continuation is sampled with temperature
(or greedily), and prompt + continuation are decoded to timed events and written as MIDI. A
recipe may add its own steps (abc-char-lstm: split the text into tunes and convert each with
music21); its module's `generate` is used when it has one.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from improvd.daemon.events import Event
from improvd.daemon.midi_events import write_midi_file as write_midi

log = logging.getLogger(__name__)

MIDI_SUFFIXES = (".mid", ".midi")
ABC_SUFFIXES = (".abc",)


class GenerateError(ValueError):
    """Bad prompt, bad output path: a user error with the file named."""


# --- prompt --------------------------------------------------------------------------------------
def prompt_events(path: Path) -> list[Event]:
    """A MIDI file (mido) or an ABC tune (music21, its first tune) -> note events from 0 s."""
    from .parsing import parse_midi_file, parse_score_file

    path = Path(path)
    if not path.is_file():
        raise GenerateError(f"prompt {path}: no such file")
    suffix = path.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        try:
            events = parse_midi_file(str(path))
        except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
            raise GenerateError(f"prompt {path}: not a readable MIDI file ({exc})") from exc
    elif suffix in ABC_SUFFIXES:
        try:
            found, _ = parse_score_file(str(path))
        except Exception as exc:  # music21 raises many unrelated types for bad ABC
            raise GenerateError(f"prompt {path}: music21 cannot read it ({exc})") from exc
        events = found[0][1] if found else []
    else:
        raise GenerateError(f"prompt {path}: format {suffix or '(none)'} is not one this model "
                            f"reads; give a {'/'.join(MIDI_SUFFIXES + ABC_SUFFIXES)} file")
    events = [e for e in events if e.kind != "control_change" or e.pitch == 64]
    if not any(e.is_note_on for e in events):
        raise GenerateError(f"prompt {path}: no notes in it")
    start = min(e.time for e in events)
    return [Event(e.time - start, e.kind, e.pitch, e.velocity, e.channel) for e in events]


def prompt_ids(path: Path, tokenizer) -> list[int]:
    path = Path(path)
    if not path.is_file():
        raise GenerateError(f"prompt {path}: no such file")
    if path.suffix.lower() in ABC_SUFFIXES and hasattr(tokenizer, "text_to_ids"):
        # A character model reads the tune's text as it is.
        text = path.read_text(encoding="utf-8", errors="replace")
        if "X:" not in text:
            raise GenerateError(f"prompt {path}: no ABC tune in it (no 'X:' line)")
        ids = tokenizer.text_to_ids(text.strip() + "\n")
    else:
        ids = tokenizer.encode(prompt_events(path))
    if not ids:
        raise GenerateError(f"prompt {path}: no notes this model's tokenizer can use")
    return ids


# --- sampling ------------------------------------------------------------------------------------
def sample(runner, prompt: Sequence[int], n: int, *, temperature: float = 1.0,
           greedy: bool = False, seed: int | None = 0) -> tuple[list[int], list[float]]:
    """Feeds the prompt, then n sampled tokens -> (tokens, ms per generated token)."""
    import numpy as np

    from improvd.daemon.sampling import Sampler

    sampler = Sampler(temperature=temperature, top_p=1.0, seed=seed)
    everything = np.ones(runner.vocab_size, dtype=bool)
    runner.reset()
    for token in prompt:
        runner.advance(int(token))
    out, cost_ms = [], []
    for _ in range(n):
        logits = runner.logits
        token = int(np.argmax(logits)) if greedy else int(sampler.sample(logits, everything))
        started = time.perf_counter()
        runner.advance(token)
        cost_ms.append((time.perf_counter() - started) * 1e3)
        out.append(token)
    return out, cost_ms


# --- MIDI out ------------------------------------------------------------------------------------
def shift(events: Sequence[Event], start: float) -> list[Event]:
    first = min((e.time for e in events), default=0.0)
    return [Event(e.time - first + start, e.kind, e.pitch, e.velocity, e.channel) for e in events]


# --- whole runs ----------------------------------------------------------------------------------
def generate_file(model_path: Path, prompt: Path | None, out: Path, *, tokens: int = 256,
                  temperature: float = 1.0, greedy: bool = False, seed: int | None = 0,
                  wav: Path | None = None, prompt_tokens: Sequence[int] | None = None,
                  runner=None) -> dict:
    """Prompt -> continuation -> MIDI (+ WAV). Returns a report (tokens, notes, ms/token)."""
    from improvd.daemon.events import events_to_notes
    from improvd.daemon.runner import load_runner

    runner = runner or load_runner(model_path)
    tok = runner.tokenizer
    if prompt_tokens is None:
        if prompt is None:
            raise GenerateError("no prompt: give --prompt phrase.mid or tune.abc")
        prompt_tokens = prompt_ids(prompt, tok)
    generated, cost_ms = sample(runner, prompt_tokens, tokens, temperature=temperature,
                                greedy=greedy, seed=seed)
    events = tok.decode(list(prompt_tokens) + generated)
    answer = tok.decode(generated)
    if not any(e.is_note_on for e in events):
        raise GenerateError(f"{model_path}: the generated tokens decode to no notes")
    write_midi(events, out)
    report = {"model": str(model_path), "out": str(out), "prompt_tokens": len(prompt_tokens),
              "generated_tokens": len(generated),
              "answer_notes": len(events_to_notes(answer)),
              "ms_per_token_median": statistics.median(cost_ms) if cost_ms else None,
              "temperature": None if greedy else temperature, "greedy": greedy,
              "tokens": generated}
    if wav:
        from .render import render_midi

        report["wav"], report["renderer"] = str(wav), render_midi(out, wav)
    log.info("wrote %s: %d prompt + %d generated tokens, %d answer notes", out,
             len(prompt_tokens), len(generated), report["answer_notes"])
    return report


def generate_abc(model_path: Path, prompt: Path | None, out: Path, *, tokens: int = 1000,
                 temperature: float = 1.0, **kwargs) -> dict:
    """As generate_file, then the seed's last step: split the sampled text into tunes, convert
    each to MIDI with music21 (out.tuneNN.mid) and report the share that parses."""
    from improvd.daemon.runner import load_runner

    runner = load_runner(model_path)
    tok = runner.tokenizer
    if not hasattr(tok, "ids_to_text"):
        raise GenerateError(f"{model_path}: not an ABC character model")
    prompt_tokens = prompt_ids(prompt, tok) if prompt else tok.text_to_ids("X")
    report = generate_file(model_path, None, out, tokens=tokens, temperature=temperature,
                           prompt_tokens=prompt_tokens, runner=runner, **kwargs)
    text = tok.ids_to_text(list(prompt_tokens) + report["tokens"])
    out = Path(out)
    out.with_suffix(".abc").write_text(text)
    report.update(tunes_to_midi(text, out))
    print(f"{report['tunes_parsed']} of {report['tunes']} generated tunes parse with music21 "
          f"(with notes), {report['tunes_midi']} of them written as MIDI by music21")
    return report


def split_tunes(text: str) -> list[str]:
    """Generated text -> tunes: from an X: line to the next X: line or blank line."""
    import re

    return [m.group(0).strip() for m in re.finditer(r"^X:.*?(?=\n\s*\n|\nX:|\Z)", text,
                                                     re.MULTILINE | re.DOTALL)]


def tunes_to_midi(text: str, out: Path) -> dict:
    """Reads each tune with music21 ("parses" = read, with notes) and writes it as MIDI
    (out.tuneNN.mid); music21's MIDI writer can still refuse a tune it has read (badly formed
    repeats), so the two shares are counted apart."""
    from music21 import converter

    tunes = split_tunes(text)
    parsed = written = 0
    for i, tune in enumerate(tunes, 1):
        try:
            score = converter.parse(tune, format="abc")
        except Exception as exc:  # noqa: BLE001 - music21 raises many types for text it cannot read
            log.info("generated tune %d does not parse: %s", i, exc)
            continue
        if not score.flatten().notes:
            continue
        parsed += 1
        try:
            score.write("midi", fp=str(out.with_suffix(f".tune{i:02d}.mid")))
            written += 1
        except Exception as exc:  # noqa: BLE001 - nor is its MIDI writer's refusal one type
            log.info("generated tune %d parses but music21 cannot write its MIDI: %s", i, exc)
    return {"tunes": len(tunes), "tunes_parsed": parsed, "tunes_midi": written,
            "parse_share": parsed / len(tunes) if tunes else 0.0,
            "midi_share": written / len(tunes) if tunes else 0.0}


# --- command line --------------------------------------------------------------------------------
def register(sub) -> None:
    p = sub.add_parser("generate", help="continue a prompt offline with an exported model")
    p.add_argument("--model", required=True, type=Path, help="an exported .onnx model")
    p.add_argument("--prompt", type=Path, help="phrase.mid or tune.abc (ABC models: optional)")
    p.add_argument("--out", required=True, type=Path, help="MIDI file to write")
    p.add_argument("--wav", type=Path, help="also render a WAV (fluidsynth, else a numpy synth)")
    p.add_argument("--config", type=Path,
                   help="daemon config.toml for a performance model's answer (default: built-in "
                   "settings)")
    p.add_argument("--tokens", type=int,
                   help="tokens to generate (default: the recipe's; a performance model's answer "
                   "is as long as the config's policy.response says)")
    p.add_argument("--temperature", type=float,
                   help="default: the config's (performance models), else 1.0")
    p.add_argument("--greedy", action="store_true",
                   help="always the most likely token (performance models: top_p 0.01)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=_handle)


def plays_live(tokenizer) -> bool:
    """A tokenizer the daemon's answer path plays with time shifts (the performance kind)."""
    return all(hasattr(tokenizer, name) for name in ("time_shift", "encoder", "decoder")) \
        and not hasattr(tokenizer, "text_to_ids")


def generate_model(model_path: Path, prompt: Path | None, out: Path, **kwargs) -> dict:
    """Offline generation for any exported model that does not play live, chosen from its
    metadata alone (no recipe module, no TensorFlow): a character model writes ABC text; the
    others continue the prompt token by token, with the defaults their recipe exported
    (`generation`: how many tokens, and the seed's own prompt when none is given)."""
    from improvd.daemon import tokenizers
    from improvd.daemon.runner import open_session

    _, info = open_session(model_path)
    if hasattr(tokenizers.from_spec(info.tokenizer), "text_to_ids"):
        return generate_abc(model_path, prompt, out, **kwargs)
    defaults = info.training.get("generation", {})
    kwargs.setdefault("tokens", defaults.get("tokens", 256))
    if prompt is None and defaults.get("prompt"):
        kwargs["prompt_tokens"] = defaults["prompt"]
    return generate_file(model_path, prompt, out, **kwargs)


def _handle(args) -> int:
    from improvd.daemon import tokenizers
    from improvd.daemon.artifact import ModelFileError
    from improvd.daemon.config import ConfigError
    from improvd.daemon.errors import CommandError
    from improvd.daemon.runner import open_session

    if args.temperature is not None and args.temperature <= 0:
        raise CommandError("--temperature must be above 0")
    try:
        _, info = open_session(args.model)
        tok = tokenizers.from_spec(info.tokenizer)
        if plays_live(tok):
            return _answer(args)
        extra = {"tokens": args.tokens} if args.tokens else {}
        temperature = 1.0 if args.temperature is None else args.temperature
        report = generate_model(args.model, args.prompt, args.out, greedy=args.greedy,
                                seed=args.seed, temperature=temperature, wav=args.wav, **extra)
    except (GenerateError, ModelFileError, ConfigError) as exc:
        raise CommandError(str(exc)) from exc
    print(f"wrote {args.out}: {report['generated_tokens']} tokens, {report['answer_notes']} "
          f"answer notes, {report['ms_per_token_median']:.2f} ms/token (median)")
    return 0


def _answer(args) -> int:
    from improvd.daemon import config as daemon_config

    from .answer_prompt import generate_answer

    config = daemon_config.load(args.config).with_overrides(
        temperature=args.temperature, top_p=0.01 if args.greedy else None)
    if args.tokens:
        log.warning("--tokens does not apply to a performance model: its answer lasts as long "
                    "as policy.response says (%s)", config.policy.response)
    report = generate_answer(args.model, args.prompt, args.out, config=config, seed=args.seed,
                             wav=args.wav)
    print(f"wrote {args.out}: a {report['prompt_notes']}-note call and its "
          f"{report['answer_notes']}-note answer (first note {report['handover_s']:.3f} s after "
          f"the call's last note-on)")
    return 0
