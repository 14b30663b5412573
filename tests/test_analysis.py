"""Call analysis on synthetic calls whose pulse, key, register, texture and dynamics are known."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_calls import call

from improvd.daemon.analysis import CallAnalyzer, analyze, analyze_notes, sounding_at_onsets
from improvd.daemon.events import Note, notes_to_events


def next_beat_error_ms(notes, bpm, drift=0.0, beats=None):
    """How far the predicted next beat after the call lies from the true one."""
    a = analyze_notes(notes)
    last = max(beats)
    q = np.floor(last) + 1
    truth = 1.0 + 60 / bpm * (q + drift * q * q / (2 * last))
    return 1000 * (a.pulse.next_beat(notes[-1].start + 0.01) - truth), a.pulse


@pytest.mark.parametrize("bpm", [60, 75, 90, 120, 150, 200])
def test_tempo_and_phase_from_60_to_200_bpm(bpm):
    beats = [0, 1, 1.5, 2, 3, 3.5, 4, 5, 5.5, 6, 7, 8]
    err, pulse = next_beat_error_ms(call(bpm, beats), bpm, beats=beats)
    assert pulse.bpm == pytest.approx(bpm, rel=0.01)
    assert pulse.subdivision == 2
    assert abs(err) < 5


@pytest.mark.parametrize("name,kwargs,beats,subdivision", [
    ("sixteenths", {}, list(np.arange(0, 4, 0.25)), 4),
    ("triplets", {}, list(np.arange(0, 4, 1 / 3)), 3),
    ("rests", {}, [0, 0.5, 1, 3, 3.5, 4, 4.5, 7, 8], 2),
    ("chords", {"chord": (0, 4, 7)}, [0, 1, 2, 2.5, 3, 4, 5, 6, 6.5, 7], 2),
    ("staccato", {"legato": 0.25}, list(np.arange(0, 6, 0.5)), 2),
])
def test_subdivision_is_found(name, kwargs, beats, subdivision):
    err, pulse = next_beat_error_ms(call(100, beats, **kwargs), 100, beats=beats)
    assert pulse.bpm == pytest.approx(100, rel=0.01), name
    assert pulse.subdivision == subdivision, name
    assert abs(err) < 5, name


@pytest.mark.parametrize("swing", [2 / 3, 0.6])
def test_swing_is_kept_on_the_grid(swing):
    beats = list(np.arange(0, 6, 0.5))
    err, pulse = next_beat_error_ms(call(130, beats, swing=swing), 130, beats=beats)
    assert pulse.bpm == pytest.approx(130, rel=0.01)
    assert abs(err) < 5
    # Straight eighths with a late off-beat, or a triplet grid: either way the grid as played
    # has a point where the swung off-beat falls, and none at the straight off-beat.
    beat = pulse.next_beat(20.0)
    played = [pulse.played_time(round(pulse.index(beat)) + k) - beat
              for k in range(pulse.subdivision)]
    assert min(abs(p - swing * pulse.beat_s) for p in played) < 0.01
    assert min(abs(p - 0.5 * pulse.beat_s) for p in played) > 0.03
    assert pulse.grid_distance(beat + swing * pulse.beat_s) < 0.02  # on the grid as played
    assert pulse.grid_distance(beat + 0.5 * pulse.beat_s) > 0.1


def test_a_player_who_slows_down_is_followed():
    beats = list(np.arange(0, 8, 0.5))
    err, pulse = next_beat_error_ms(call(100, beats, drift=0.15), 100, drift=0.15, beats=beats)
    assert abs(err) < 15  # a steady-tempo estimate would be 60+ ms early
    assert pulse.bpm < 95  # the local tempo at the end, not the average


def test_timing_jitter_of_a_human_player():
    errors = []
    for seed in range(10):
        beats = list(np.arange(0, 8, 0.5))
        err, pulse = next_beat_error_ms(call(110, beats, jitter=0.01, seed=seed), 110,
                                        beats=beats)
        errors.append(abs(err))
        assert pulse.bpm == pytest.approx(110, rel=0.04)
    assert np.median(errors) < 10


def test_rubato_has_no_pulse():
    rng = np.random.default_rng(3)
    starts = np.cumsum(rng.uniform(0.15, 0.9, 14))
    notes = [Note(60 + i % 7, 80, t, t + 0.1) for i, t in enumerate(starts)]
    assert analyze_notes(notes).pulse is None


def test_waltz_meter_from_accented_downbeats():
    beats = list(range(12))
    a = analyze_notes(call(150, beats, accent=0, beat_accents=(30, 0, 0)))
    assert a.pulse.beats_per_bar == 3
    assert a.pulse.next_bar(1.0 + 0.4 * 11.5) == pytest.approx(1.0 + 0.4 * 12, abs=0.005)


@pytest.mark.parametrize("tonic,mode,steps", [
    (2, "major", (0, 2, 4, 5, 7, 9, 11, 12, 7, 4)),
    (9, "minor", (0, 2, 3, 5, 7, 8, 11, 12, 7, 3)),
    (7, "major", (0, 4, 7, 12, 11, 9, 7, 5, 4, 2, 0)),
    (5, "minor", (0, 3, 7, 12, 10, 8, 7, 5, 3, 2, 0)),
])
def test_key_and_mode(tonic, mode, steps):
    pitches = tuple(60 + tonic + s for s in steps)
    a = analyze_notes(call(100, list(range(len(steps))), pitches=pitches))
    assert (a.key.tonic, a.key.mode) == (tonic, mode)
    assert {p % 12 for p in pitches} <= a.key.scale


def test_register_texture_and_articulation():
    low = analyze_notes(call(100, list(range(8)), pitches=(36, 38, 40, 41), legato=0.3))
    triads = analyze_notes(call(100, list(range(8)), chord=(0, 4, 7), legato=1.0))
    assert low.register[1] == pytest.approx(39, abs=1.5)
    assert low.texture == 1.0 and triads.texture == 3.0
    assert low.articulation == pytest.approx(0.3, abs=0.05)
    assert triads.articulation == pytest.approx(1.0, abs=0.05)
    assert sounding_at_onsets([Note(60, 80, 0, 2), Note(64, 80, 1, 1.5)]) == [1, 2]


def test_crescendo_and_accents():
    notes = [Note(60 + i % 5, 30 + 6 * i + (20 if i % 2 == 0 else 0), 1 + 0.25 * i,
                  1.2 + 0.25 * i) for i in range(16)]
    a = analyze_notes(notes)
    assert a.swell == pytest.approx(24, abs=2)  # 6 velocity per eighth at 120 bpm
    assert a.pulse.subdivision == 2
    assert a.accents[0] - a.accents[1] == pytest.approx(20, abs=8)


def test_live_analyzer_matches_the_whole_call_and_remembers_earlier_calls():
    notes = call(120, list(np.arange(0, 4, 0.5)), pitches=(62, 64, 66, 67, 69, 71, 73, 74))
    live = CallAnalyzer()
    for e in notes_to_events(notes):
        live.update(e)
    assert live.analysis() == analyze(notes_to_events(notes))
    first = live.end_call()
    assert first.key.name == "D major" and live.analysis() is None
    # The next call is ambiguous alone (D E F# G A); the earlier call still counts, at half.
    for e in notes_to_events(call(120, [0, 1, 2, 3], pitches=(62, 66, 69, 74), t0=10.0)):
        live.update(e)
    assert live.analysis().key.name == "D major"


def test_the_hand_written_calls_are_understood_as_written():
    """tests/data/calls: tempo and key of every call, the meter where accents show it."""
    import sys
    from pathlib import Path

    from improvd.daemon.midi_events import read_midi_file

    folder = Path(__file__).parent / "data" / "calls"
    sys.path.insert(0, str(folder))
    try:
        from make_calls import CALLS
    finally:
        sys.path.remove(str(folder))
    names = {"m": "minor", "": "major"}
    for name, (_, bpm, beats_per_bar, key) in CALLS.items():
        a = analyze(read_midi_file(folder / f"{name}.mid"))
        assert a.pulse.bpm == pytest.approx(bpm, rel=0.01), name
        tonic, mode = key.rstrip("m"), names[key[len(key.rstrip("m")):]]
        assert a.key.name == f"{tonic} {mode}", name
        if name in ("waltz", "odd_meter_5_4"):  # accents mark their bars
            assert a.pulse.beats_per_bar == beats_per_bar, name


def test_a_burst_of_simultaneous_notes_has_no_pulse():
    notes = [Note(40 + i % 60, 90, 1.0 + i * 0.00004, 1.0 + i * 0.00004 + 0.001)
             for i in range(300)]
    assert analyze_notes(notes).pulse is None


def _play(analyzer, notes):
    for e in notes_to_events(notes):
        analyzer.update(e)


def test_a_call_resumes_after_a_breath_but_not_after_an_answer_played_out():
    # Eight eighths at 120 bpm, the call taken as over, then the player goes on a beat later.
    first = call(120, np.arange(0, 4, 0.5), legato=0.8)
    later = call(120, np.arange(0, 2, 0.5) + 5.0, legato=0.8)
    for answered in (False, True):
        analyzer = CallAnalyzer()
        _play(analyzer, first)
        analyzer.end_call()
        if answered:
            analyzer.answered()  # the answer to it played out before the player went on
        _play(analyzer, later)
        assert (analyzer.resumed is not None) == (not answered)
        assert analyzer.analysis().notes == len(later) + (0 if answered else len(first))


def test_a_stream_of_note_ons_closer_than_a_chord_never_pays_for_the_analysis():
    analyzer = CallAnalyzer()
    _play(analyzer, call(120, np.arange(0, 4, 0.5)))  # a call with a pulse: onsets to read
    t = 100.0
    for k in range(2000):  # then 10 s of notes 5 ms apart, every key up between them
        t = 2.0 + 0.005 * k
        _play(analyzer, [Note(40 + k % 40, 80, t, t + 0.002)])
        assert analyzer.call_end_due(t + 0.003) is None
    assert analyzer._cached is None  # never analysed while the stream went on


def test_a_panic_after_an_answered_call_weighs_the_earlier_calls_as_its_end_did():
    # A panic during the answer drops a call that is already over: its notes are kept once,
    # and nothing more weighs the earlier calls down.
    weights = {}
    for how in ("answered", "dropped"):
        analyzer = CallAnalyzer()
        for e in notes_to_events([Note(60 + i, 90, i * 0.25, i * 0.25 + 0.2) for i in range(6)]):
            analyzer.update(e)
        analyzer.end_call()
        analyzer.answered() if how == "answered" else analyzer.drop_call()
        weights[how] = [w for _, w in analyzer._earlier]
    assert weights["dropped"] == weights["answered"] and len(weights["answered"]) == 6
