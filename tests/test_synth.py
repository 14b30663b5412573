"""The synth's choices without starting one: the soundfont, the audio driver, the programs.
(tests/e2e/test_synth.py starts a real fluidsynth on JACK.)"""

from __future__ import annotations

import logging

import pytest

from improvd.daemon import synth
from improvd.daemon.config import Config
from improvd.daemon.synth import Synth, SynthError, audio_driver, find_soundfont, programs


def test_the_general_midi_soundfont_is_preferred_and_a_missing_one_names_the_package(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "Other.sf2").write_bytes(b"")
    (tmp_path / "a" / "FluidR3_GM.sf2").write_bytes(b"")
    assert find_soundfont("", dirs=(str(tmp_path / "a"),)).name == "FluidR3_GM.sf2"
    with pytest.raises(SynthError, match="apt-get install fluid-soundfont-gm"):
        find_soundfont("", dirs=(str(tmp_path / "empty"),))
    with pytest.raises(SynthError, match="synth.soundfont .*nope.sf2: no such file"):
        find_soundfont(str(tmp_path / "nope.sf2"))


def test_without_an_audio_device_the_synth_says_so_and_starts_nothing(monkeypatch, tmp_path,
                                                                       caplog):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # no PipeWire, no PulseAudio socket
    monkeypatch.setattr(synth.glob, "glob", lambda pattern: [])  # no ALSA device, no soundfont
    assert audio_driver("jack") == "jack"
    assert audio_driver("alsa") is None
    started = []
    monkeypatch.setattr(synth.subprocess, "Popen", lambda *a, **k: started.append(a))
    config = Config().with_overrides(**{"synth.soundfont": str(tmp_path / "gm.sf2")})
    (tmp_path / "gm.sf2").write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        assert Synth.start(config.synth, config.midi, "alsa") is None
    assert "no audio device" in caplog.text and "renders nothing" in caplog.text
    assert started == []


def test_programs_answer_on_its_channel_and_the_player_on_the_others():
    commands = programs(answer_program=12, player_program=1, answer_channel=2)
    assert len(commands) == 16
    assert commands[1] == "prog 1 11"  # General MIDI 12 (vibraphone) is fluidsynth's 11
    assert set(commands) - {commands[1]} == {f"prog {ch} 0" for ch in range(16) if ch != 1}
