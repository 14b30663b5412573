"""`improvd demo`: hear and see improvd answer, without a keyboard or a MIDI port.

A few built-in phrases in different styles (improvd.daemon.demo_phrases) are played as calls into
the daemon's real engine on a virtual clock (answer_prompt.generate_answer, the path of `improvd
generate`), with the daemon's config and model. For each phrase it writes

    NAME.mid   the call and its answer, two tracks
    NAME.wav   rendered by fluidsynth with the General MIDI soundfont, else the numpy synth
    NAME.png   the piano roll: call blue, answer orange, grey lines on the call's beats

and prints where they are. The seed is fixed (--seed), so a demo is repeatable.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from improvd.daemon.errors import CommandError

log = logging.getLogger(__name__)

# Built-in phrase -> the style it shows (tests/data/calls/make_calls.py wrote them).
PHRASES = {
    "swing_blues_riff": "swung blues riff, 120 bpm",
    "waltz": "waltz in 3/4, 150 bpm",
    "legato_melody": "legato melody, 72 bpm",
    "block_triads": "block chords, 90 bpm",
}
DEFAULT_OUT = "improvd-demo"


def phrase_files() -> dict[str, Path]:
    folder = resources.files("improvd.daemon.demo_phrases")
    return {name: Path(str(folder / f"{name}.mid")) for name in PHRASES}


def run_demo(config, runner, out: Path, seed: int, draw: bool = True) -> list[dict]:
    """Every built-in phrase answered and written to `out`; one report per phrase."""
    from .answer_prompt import generate_answer
    from .generate import GenerateError, plays_live

    if not plays_live(runner.tokenizer):
        raise CommandError(f"{config.model.path}: the demo answers live, as `improvd run` does, "
                           f"and this {runner.info.recipe} model does not play live")
    out.mkdir(parents=True, exist_ok=True)
    reports = []
    for name, phrase in phrase_files().items():
        midi, wav = out / f"{name}.mid", out / f"{name}.wav"
        try:
            report = generate_answer(Path(config.model.path), phrase, midi, config=config,
                                     seed=seed, wav=wav, runner=runner)
        except GenerateError as exc:
            raise CommandError(str(exc)) from None
        report["name"], report["style"] = name, PHRASES[name]
        if draw:
            from .session_plot import plot_session

            report["png"] = str(plot_session(midi, out / f"{name}.png", beats=True,
                                             title=f"{PHRASES[name]}: call and improvd's answer"
                                             )["path"])
        reports.append(report)
    return reports


def _handle(args) -> int:
    from improvd.daemon.commands import load_config, load_model

    from .session_plot import MATPLOTLIB_HINT

    try:
        import matplotlib  # noqa: F401
        draw = True
    except ImportError:
        draw = False
        log.warning("no piano rolls: %s", MATPLOTLIB_HINT)
    config = load_config(args)
    runner = load_model(config)
    out = Path(args.out)
    for r in run_demo(config, runner, out, args.seed, draw=draw):
        files = ", ".join(Path(r[k]).name for k in ("out", "wav", "png") if k in r)
        print(f"{r['style']}: {r['prompt_notes']} notes played, {r['answer_notes']} answered "
              f"({r['renderer']} audio) -> {files}")
    print(f"written to {out.resolve()}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo", help="answer a few built-in phrases; write MIDI, WAV and PNG",
                       description="Play a few built-in phrases in different styles through the "
                                   "daemon's engine on a virtual clock and write each call with "
                                   "its answer as MIDI, WAV and a piano-roll PNG.")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"folder to write (default {DEFAULT_OUT})")
    p.add_argument("--config", help="settings file (default: ./config.toml when present)")
    p.add_argument("--model", help="an .onnx model (default: the config's model.path)")
    p.add_argument("--seed", type=int, default=1, help="the answers' seed (default 1)")
    p.set_defaults(handler=_handle)
