"""The session recorder on its own: queued messages -> a two-track MIDI file, saved per answer,
rotated per hour, complete after close(). (The JACK test runs it inside `improvd run`.)"""

from __future__ import annotations

import time
from types import SimpleNamespace

import mido
import pytest

from improvd.daemon.analysis import analyze
from improvd.daemon.events import Event
from improvd.daemon.midi_events import read_midi_tracks
from improvd.daemon.recorder import RecordError, SessionRecorder
from improvd.daemon.scheduler import AHEAD, ANSWER, THRU


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def play_call(recorder, start, pitches, beat=0.5):
    for i, p in enumerate(pitches):
        recorder.heard(mido.Message("note_on", note=p, velocity=80), start + i * beat)
        recorder.heard(mido.Message("note_off", note=p, velocity=0), start + i * beat + 0.3)


def test_a_session_is_saved_after_each_answer_with_its_real_times_and_tempo(tmp_path):
    engine = SimpleNamespace(answers_done=0, last_analysis=None)
    rec = SessionRecorder(tmp_path / "rec", engine, poll_s=0.01)
    t0 = 1000.0
    play_call(rec, t0, [60, 62, 64, 65])
    rec.heard(mido.Message("pitchwheel", pitch=100), t0 + 0.1)  # ignored, as the daemon does
    rec.sent(t0 + 2.5, Event(t0 + 2.5, "note_on", 67, 90, 1), ANSWER)
    rec.sent(t0 + 2.5, Event(t0 + 2.5, "note_on", 60, 80, 0), THRU)  # already in the call track
    rec.sent(t0 + 2.9013, Event(t0 + 2.9, "note_off", 67, 0, 1), ANSWER)
    call = [Event(t0 + i * 0.5, "note_on", p, 80) for i, p in enumerate([60, 62, 64, 65])]
    engine.last_analysis = analyze(call + [Event(t0 + 2.3, "note_off", 65, 0)])
    engine.answers_done = 1
    wait_for(lambda: rec.files and rec.files[0].exists())
    tracks = read_midi_tracks(rec.files[0])
    assert set(tracks) == {"call", "answer"}
    ons = [(e.pitch, round(e.time, 4)) for e in tracks["call"] if e.is_note_on]
    assert ons == [(60, 0.0), (62, 0.5), (64, 1.0), (65, 1.5)]
    answer = tracks["answer"]
    assert [(e.kind, e.pitch, e.channel) for e in answer] == [("note_on", 67, 1),
                                                               ("note_off", 67, 1)]
    # Sent times, not due times; within a tick (at most 0.52 ms at 60 bpm and 960 ticks/beat).
    assert answer[0].time == pytest.approx(2.5, abs=6e-4)
    assert answer[1].time == pytest.approx(2.9013, abs=6e-4)
    bpm = mido.tempo2bpm(next(m.tempo for m in mido.MidiFile(rec.files[0]).tracks[0]
                              if m.type == "set_tempo"))
    assert bpm == pytest.approx(engine.last_analysis.pulse.bpm, rel=1e-3)
    assert bpm == pytest.approx(120, abs=3)  # a note every half second

    # What comes after the last answer is in the file once the recorder is closed.
    rec.heard(mido.Message("note_on", note=72, velocity=70), t0 + 5.0)
    rec.heard(mido.Message("note_off", note=72, velocity=0), t0 + 5.25)
    assert rec.close() == [tmp_path / "rec" / rec.files[0].name]
    late = [e for e in read_midi_tracks(rec.files[0])["call"] if e.pitch == 72]
    assert [round(e.time, 3) for e in late] == [5.0, 5.25]


def test_no_save_while_an_answer_note_still_sounds(tmp_path):
    engine = SimpleNamespace(answers_done=0, last_analysis=None)
    rec = SessionRecorder(tmp_path, engine, poll_s=0.01)
    play_call(rec, 0.0, [60, 64])
    rec.sent(1.0, Event(1.0, "note_on", 67, 90), ANSWER)
    engine.answers_done = 1  # the engine is done; the note-off is still on its way
    time.sleep(0.2)
    assert rec.files == []
    rec.sent(1.2, Event(1.2, "note_off", 67, 0), ANSWER)
    wait_for(lambda: rec.files)
    assert [e.kind for e in read_midi_tracks(rec.files[0])["answer"]] == ["note_on", "note_off"]
    rec.close()


def test_hourly_rotation_starts_a_new_file_after_an_answer_in_a_new_hour(tmp_path):
    wall = [time.mktime((2026, 5, 1, 9, 59, 0, 0, 0, -1))]
    engine = SimpleNamespace(answers_done=0, last_analysis=None)
    rec = SessionRecorder(tmp_path, engine, rotate="hour", wall=lambda: wall[0], poll_s=0.01)
    play_call(rec, 0.0, [60, 62])
    engine.answers_done = 1
    wait_for(lambda: len(rec.files) == 1)
    wall[0] += 120  # 10:01
    play_call(rec, 10.0, [64, 65])  # still the 9 o'clock file: no answer has ended since
    engine.answers_done = 2
    wait_for(lambda: len(read_midi_tracks(rec.files[0])["call"]) == 8)
    play_call(rec, 20.0, [67])
    files = rec.close()
    assert [p.name for p in files] == ["improvd-20260501-095900.mid",
                                       "improvd-20260501-100100.mid"]
    second = read_midi_tracks(files[1])["call"]
    assert [(e.pitch, e.time) for e in second if e.is_note_on] == [(67, 0.0)]


def test_a_folder_that_cannot_be_made_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    engine = SimpleNamespace(answers_done=0, last_analysis=None)
    with pytest.raises(RecordError, match="record.dir .*file/sub"):
        SessionRecorder(blocker / "sub", engine)


def test_the_midi_clock_sets_the_tempo_over_the_calls_pulse(tmp_path):
    engine = SimpleNamespace(answers_done=0, last_analysis=None)
    rec = SessionRecorder(tmp_path, engine, poll_s=0.01)
    tick = 60 / 100 / 24  # 100 bpm
    for i in range(60):  # a late clock now and then does not move the median
        rec.heard(mido.Message("clock"), 10.0 + i * tick + (0.004 if i % 13 == 0 else 0))
    play_call(rec, 11.0, [60, 62, 64, 65])  # a call with a 120 bpm pulse
    call = [Event(11.0 + i * 0.5, "note_on", p, 80) for i, p in enumerate([60, 62, 64, 65])]
    engine.last_analysis = analyze(call + [Event(13.3, "note_off", 65, 0)])
    engine.answers_done = 1
    files = rec.close()
    midi = mido.MidiFile(files[0])
    bpm = mido.tempo2bpm(next(m.tempo for m in midi.tracks[0] if m.type == "set_tempo"))
    assert bpm == pytest.approx(100, abs=0.01)
    # The clock is no note: the call track starts at the first note, in real time.
    assert [round(e.time, 3) for e in read_midi_tracks(files[0])["call"]][:2] == [0.0, 0.3]


def test_an_answer_note_sent_before_the_engine_kept_its_speculation_is_recorded(tmp_path):
    # The first note of an answer computed ahead leaves at the deadline, tagged AHEAD, often
    # before the engine thread has kept the answer: it was heard, so it is the answer's.
    engine = SimpleNamespace(answers_done=0, last_analysis=None)
    rec = SessionRecorder(tmp_path, engine, poll_s=0.01)
    play_call(rec, 0.0, [60, 64])
    rec.sent(1.0, Event(1.0, "note_on", 67, 90), AHEAD)
    rec.sent(1.2, Event(1.2, "note_off", 67, 0), ANSWER)
    engine.answers_done = 1
    wait_for(lambda: rec.files)
    answer = read_midi_tracks(rec.files[0])["answer"]
    assert [(e.kind, e.pitch) for e in answer] == [("note_on", 67), ("note_off", 67)]
    rec.close()
