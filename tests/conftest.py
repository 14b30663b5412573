"""Shared fixtures: the project's data, small real MIDI files, a fresh cache folder."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

from kept_time_plugin import KeptTime

from improvd.daemon.midi_events import with_delta_times
from improvd.testsupport.random_model import make_random_recurrent_model

# tests/test_kept_time_plugin.py runs the kept_time marker in a pytest of its own.
pytest_plugins = ["pytester"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The seed-001 chorales live beside the checkout, never inside it.
JSB_TGZ = PROJECT_ROOT / ".." / "shared" / "data" / "jsb_chorales.tgz"


def pytest_configure(config):
    config.pluginmanager.register(KeptTime(_session_jack_server), "kept_time")


def _session_jack_server():
    from e2e.jack_helpers import shared_server  # only once a kept_time test runs

    return shared_server()


@pytest.fixture(scope="session")
def jsb_tgz() -> Path:
    assert JSB_TGZ.is_file(), f"the JSB chorales are expected at {JSB_TGZ}"
    return JSB_TGZ


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "cache"


def write_midi(path: Path, notes, *, ticks_per_beat: int = 480, tempos=((0, 500_000),),
               channel: int = 0, controls=()) -> Path:
    """A real one-track MIDI file. notes: (pitch, velocity, start_tick, end_tick[, channel]);
    tempos: (tick, microseconds per beat); controls: (tick, controller, value)."""
    timed = [(tick, 0, mido.MetaMessage("set_tempo", tempo=t)) for tick, t in tempos]
    for n in notes:
        pitch, velocity, start, end = n[:4]
        ch = n[4] if len(n) > 4 else channel
        timed.append((start, 2, mido.Message("note_on", note=pitch, velocity=velocity, channel=ch)))
        timed.append((end, 1, mido.Message("note_off", note=pitch, velocity=0, channel=ch)))
    for tick, control, value in controls:
        timed.append((tick, 1, mido.Message("control_change", control=control, value=value,
                                            channel=channel)))
    timed.sort(key=lambda t: (t[0], t[1]))
    track = mido.MidiTrack(with_delta_times((tick, msg) for tick, _, msg in timed))
    midi = mido.MidiFile(ticks_per_beat=ticks_per_beat)
    midi.tracks.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.save(path)
    return path


@pytest.fixture
def midi_writer():
    """write_midi as a fixture, for tests that build MIDI folders."""
    return write_midi


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A random-weights model of the artifact contract (tests/e2e has its own: the shipped one)."""
    return make_random_recurrent_model(tmp_path_factory.mktemp("model") / "random.onnx")
