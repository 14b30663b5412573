"""Events or a MIDI file -> WAV, to listen to what a model generated.

With fluidsynth and the General MIDI soundfont installed (Debian: fluidsynth, fluid-soundfont-gm)
the MIDI file is rendered by fluidsynth; otherwise a small numpy synth (sine partials with a
decaying envelope, as seed 001's sine synth but with note lengths and velocities) writes it.
Files are written beside the target and renamed into place, so a failure leaves no partial WAV.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import wave
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from improvd.daemon.atomic import atomic_path
from improvd.daemon.events import Event, events_to_notes

from .parsing import parse_midi_file

log = logging.getLogger(__name__)

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SAMPLE_RATE = 44100


class RenderError(RuntimeError):
    pass


def render_midi(midi_path: Path, wav_path: Path, *, soundfont: Path = SOUNDFONT,
                sample_rate: int = SAMPLE_RATE) -> str:
    """-> "fluidsynth" or "numpy", whichever rendered it."""
    midi_path, wav_path = Path(midi_path), Path(wav_path)
    if shutil.which("fluidsynth") and Path(soundfont).is_file():
        with atomic_path(wav_path) as tmp:
            cmd = ["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(sample_rate), "-F", str(tmp),
                   str(soundfont), str(midi_path)]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            if done.returncode != 0 or not tmp.is_file() or tmp.stat().st_size <= 44:
                raise RenderError(f"fluidsynth could not render {midi_path}: "
                                  f"{(done.stderr or done.stdout).strip()[-300:]}")
            trim_silent_tail(tmp)
        return "fluidsynth"
    log.info("fluidsynth or %s missing: rendering with the numpy synth", soundfont)
    synth_wav(parse_midi_file(str(midi_path)), wav_path, sample_rate=sample_rate)
    return "numpy"


SILENT = 32  # |sample| at or below this (-60 dBFS) counts as silence
TAIL_S = 0.5  # kept after the last audible sample


def trim_silent_tail(path: Path) -> None:
    """Cut a 16-bit WAV half a second after its last audible sample. fluidsynth renders until
    every voice has died away, which for some General MIDI samples is half a minute of near
    silence after the music."""
    with wave.open(str(path)) as w:
        params, frames = w.getparams(), w.readframes(w.getnframes())
    if params.sampwidth != 2:
        return
    samples = np.frombuffer(frames, dtype="<i2").reshape(-1, params.nchannels)
    audible = np.flatnonzero(np.abs(samples).max(axis=1) > SILENT)
    end = min(len(samples), (audible[-1] + 1 if audible.size else 0)
              + int(TAIL_S * params.framerate))
    if end < len(samples):
        with wave.open(str(path), "wb") as w:
            w.setparams(params)
            w.writeframes(samples[:end].tobytes())


def synth_wav(events: Iterable[Event], wav_path: Path, *, sample_rate: int = SAMPLE_RATE) -> None:
    notes = events_to_notes(sorted(events, key=lambda e: e.time))
    if not notes:
        raise RenderError(f"{wav_path}: nothing to render (no notes)")
    end = max(n.end for n in notes) + 0.5
    out = np.zeros(int(end * sample_rate) + 1)
    for n in notes:
        start = int(n.start * sample_rate)
        length = max(1, int((n.end - n.start + 0.1) * sample_rate))  # a short release tail
        t = np.arange(length) / sample_rate
        freq = 440.0 * 2 ** ((n.pitch - 69) / 12)
        tone = np.sin(2 * np.pi * freq * t) + 0.3 * np.sin(4 * np.pi * freq * t)
        # Attack of 5 ms and an exponential decay: no clicks, and repeated notes stay distinct.
        envelope = np.minimum(1.0, t / 0.005) * np.exp(-2.0 * t)
        envelope[-int(0.1 * sample_rate):] *= np.linspace(1, 0, min(length, int(0.1 * sample_rate)))
        out[start:start + length] += (n.velocity / 127) * tone * envelope
    out *= 0.8 / max(1e-9, np.abs(out).max())
    with atomic_path(wav_path) as tmp, wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes((out * 32767).astype("<i2").tobytes())

