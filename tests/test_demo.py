"""`improvd demo` and `improvd plot` through the command line: the files they write, read back."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from improvd.daemon.__main__ import main
from improvd.daemon.events import Event, events_to_notes
from improvd.daemon.midi_events import read_midi_file, read_midi_tracks, write_midi_file
from improvd.training import render
from improvd.training.demo import PHRASES, phrase_files
from improvd.training.piano_roll import ANSWER_COLOUR, CALL_COLOUR

plt = pytest.importorskip("matplotlib.pyplot")


def wav_peak(path) -> int:
    with wave.open(str(path)) as w:
        return int(np.abs(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")).max())


def colour_pixels(png, hex_colour: str) -> int:
    """Pixels within a shade of the colour (the notes are drawn with some transparency)."""
    image = plt.imread(str(png))[..., :3]
    target = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    tint = (image - 1.0) / (target - 1.0)  # how far from white toward the colour, per channel
    close = np.all(np.abs(tint - tint.mean(axis=-1, keepdims=True)) < 0.08, axis=-1)
    return int((close & (tint.mean(axis=-1) > 0.3)).sum())


@pytest.mark.parametrize("fluidsynth", [True, False], ids=["fluidsynth", "numpy-synth"])
def test_demo_writes_midi_wav_and_png_for_each_phrase(model_path, tmp_path, capsys, monkeypatch,
                                                       fluidsynth):
    if not fluidsynth:  # a machine without fluidsynth: the numpy synth renders
        monkeypatch.setattr(render.shutil, "which", lambda name: None)
    out = tmp_path / "demo"
    assert main(["demo", "--model", str(model_path), "--out", str(out), "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert str(out.resolve()) in printed
    assert printed.count("fluidsynth audio" if fluidsynth else "numpy audio") == len(PHRASES)
    for name, phrase in phrase_files().items():
        tracks = read_midi_tracks(out / f"{name}.mid")
        played = events_to_notes(read_midi_file(phrase))
        call = events_to_notes(tracks["call"])
        assert [(n.pitch, round(n.start, 3)) for n in call] == \
            [(n.pitch, round(n.start, 3)) for n in played]
        answer = events_to_notes(tracks["answer"])
        assert answer and min(n.start for n in answer) > max(n.start for n in call)
        assert wav_peak(out / f"{name}.wav") > 1000
        png = out / f"{name}.png"
        assert colour_pixels(png, CALL_COLOUR) > 200 and colour_pixels(png, ANSWER_COLOUR) > 200


def test_plot_draws_a_recorded_session_in_two_colours(tmp_path, capsys):
    call = [Event(0.5 * i, kind, 60 + i, 80 if kind == "note_on" else 0)
            for i in range(4) for kind in ("note_on", "note_off")]
    session = tmp_path / "session.mid"
    write_midi_file((), session, tracks={"call": call, "answer": []})
    assert main(["plot", str(session)]) == 0
    assert "4 call notes (blue), 0 answer notes" in capsys.readouterr().out
    png = tmp_path / "session.png"
    assert colour_pixels(png, CALL_COLOUR) > 100 and colour_pixels(png, ANSWER_COLOUR) == 0


def test_plot_names_what_is_wrong_with_a_file(tmp_path, capsys):
    other = tmp_path / "other.mid"
    write_midi_file([Event(0, "note_on", 60, 80), Event(1, "note_off", 60, 0)], other)
    assert main(["plot", str(other)]) == 2
    assert "no 'call' and 'answer' tracks" in capsys.readouterr().err
    junk = tmp_path / "junk.mid"
    junk.write_bytes(b"not midi")
    assert main(["plot", str(junk)]) == 2
    assert "junk.mid: not a readable MIDI file" in capsys.readouterr().err
