"""Each answer measure on hand-made notes whose right value is known by counting."""

from __future__ import annotations

import pytest

from improvd.daemon import answer_metrics as m
from improvd.daemon.analysis import Key, analyze
from improvd.daemon.events import Note, notes_to_events
from improvd.daemon.pulse import Pulse

# 120 bpm in eighths: beat 0.5 s, tatum 0.25 s, a beat at t = 0.1.
EIGHTHS = Pulse(tatum_s=0.25, origin=0.1, subdivision=2, confidence=1.0)


def line(pitches, start=0.1, step=0.25, length=0.2, velocities=None):
    velocities = velocities or [80] * len(pitches)
    return [Note(p, v, start + i * step, start + i * step + length)
            for i, (p, v) in enumerate(zip(pitches, velocities))]


def test_key_agreement_counts_answer_notes_in_the_scale():
    d_major = Key(2, "major", 1.0).scale
    answer = line([62, 64, 66, 67, 69, 70, 72, 73])  # Bb and C are outside D major
    assert m.key_agreement(answer, d_major) == pytest.approx(6 / 8)
    assert m.key_agreement(line([62, 66, 69]), d_major) == 1.0
    assert m.key_agreement(answer, None) is None


def test_on_grid_extends_the_calls_grid_with_a_ten_percent_tolerance():
    # Tatum 0.25 s: +-0.025 s counts. 2.1 on, 2.37 on (0.02 late), 2.65 off (0.05 late),
    # 2.225 off (half a tatum): 2 of 4.
    times = [2.1, 2.37, 2.65, 2.225]
    assert m.on_grid_share(times, EIGHTHS) == pytest.approx(0.5)
    # The same answer half a tatum later is off the grid everywhere a musician would hear it.
    assert m.on_grid_share([t + 0.125 for t in (2.1, 2.35, 2.6)], EIGHTHS) == 0.0
    assert m.on_grid_share(times, None) is None


def test_ioi_overlap_is_one_for_the_same_rhythm_and_falls_for_a_different_one():
    eighths = [0.1 + 0.25 * i for i in range(9)]
    assert m.ioi_overlap(eighths, [5 + t for t in eighths], 0.25) == pytest.approx(1.0)
    # Half eighths, half quarters against all eighths: the eighth bin is shared at 0.5.
    mixed = [0.0, 0.25, 0.5, 0.75, 1.25, 1.75, 2.25]
    assert m.ioi_overlap(eighths, mixed, 0.25) == pytest.approx(0.5)
    # Triplets (1/3 beat = 2/3 tatum) land in another bin than eighths.
    triplets = [i / 6 for i in range(10)]
    assert m.ioi_overlap(eighths, triplets, 0.25) == 0.0
    assert m.ioi_overlap(eighths, [1.0], 0.25) is None


def test_pitch_distance_is_between_medians():
    call = line([60, 62, 64, 65, 67])  # median 64
    assert m.pitch_distance(call, line([52, 53, 55])) == 11.0
    assert m.pitch_distance(call, line([64, 63, 66, 65])) == pytest.approx(0.5)


def test_pitch_class_overlap_compares_the_notes_used():
    call = line([60, 62, 64, 65])  # C D E F, a quarter each
    assert m.pitch_class_overlap(call, line([72, 74, 76, 77])) == 1.0  # an octave up: the same
    assert m.pitch_class_overlap(call, line([60, 60, 61, 61])) == pytest.approx(0.25)  # C only
    assert m.pitch_class_overlap(call, line([61, 63, 66, 68])) == 0.0
    assert m.pitch_class_overlap(call, []) is None


def test_interval_overlap_compares_melodic_steps_by_the_top_note():
    call = line([60, 62, 64, 65, 67])  # steps up: +2 +2 +1 +2
    assert m.interval_overlap(call, line([70, 72, 74, 75, 77])) == 1.0  # transposed
    assert m.interval_overlap(call, line([67, 65, 64, 62, 60])) == 0.0  # the same steps down
    # A chord counts by its top note: C-E-G then D-F-A is a step up (+2), as in the call.
    chords = [Note(p, 80, t, t + 0.4) for t, ps in ((0.0, (60, 64, 67)), (0.5, (62, 65, 69)))
              for p in ps]
    assert m.melodic_intervals(chords).tolist() == [2]
    assert m.interval_overlap(call, chords) == pytest.approx(0.75)
    assert m.interval_overlap(call, line([60])) is None


def test_polyphony_ratio_uses_the_analysis_texture():
    melody = line([60, 62, 64, 65])
    chords = [Note(p, 80, t, t + 0.4) for t in (0.0, 0.5) for p in (60, 64, 67, 72)]
    assert m.polyphony_ratio(melody, melody) == 1.0
    # Each note of a four-note chord sounds with the other three: 4 at every onset.
    assert m.polyphony_ratio(melody, chords) == pytest.approx(4.0)
    assert m.polyphony_ratio(chords, melody) == pytest.approx(0.25)
    overlapping = [Note(60, 80, 0.0, 1.0), Note(64, 80, 0.5, 1.0)]  # the second joins the first
    assert m.polyphony_ratio(melody, overlapping) == pytest.approx(1.5)


def test_velocity_spread():
    assert m.velocity_spread(line([60] * 4, velocities=[80, 80, 80, 80])) == (1, 0.0)
    distinct, std = m.velocity_spread(line([60] * 4, velocities=[60, 100, 60, 100]))
    assert distinct == 2 and std == pytest.approx(20.0)


def test_accent_agreement_follows_the_calls_strong_positions():
    call = line([60] * 8, velocities=[110, 60] * 4)  # accent on the beat
    same = line([62] * 8, start=2.1, velocities=[100, 70] * 4)
    against = line([62] * 8, start=2.1, velocities=[70, 100] * 4)
    flat = line([62] * 8, start=2.1)
    assert m.accent_agreement(call, same, EIGHTHS) == pytest.approx(1.0)
    assert m.accent_agreement(call, against, EIGHTHS) == pytest.approx(-1.0)
    assert m.accent_agreement(call, flat, EIGHTHS) == 0.0
    assert m.accent_agreement(flat, same, EIGHTHS) is None  # the call has no accents


def test_accents_of_a_waltz_are_read_per_beat_of_the_bar():
    waltz = Pulse(tatum_s=0.5, origin=0.0, subdivision=1, confidence=1.0, beats_per_bar=3,
                  downbeat=0.0)
    call = line([60] * 6, start=0.0, step=0.5, velocities=[110, 60, 60] * 2)
    answer = line([64] * 6, start=3.0, step=0.5, velocities=[100, 70, 70] * 2)
    assert m.accent_agreement(call, answer, waltz) == pytest.approx(1.0)


def test_cut_at_end_counts_notes_the_engine_closed():
    answer = [Note(60, 80, 0.0, 0.4), Note(62, 80, 0.5, 1.995), Note(64, 80, 1.0, 2.0),
              Note(65, 80, 1.2, 1.8)]
    assert m.cut_at_end(answer, 2.0) == pytest.approx(0.5)
    assert m.cut_at_end(answer, 3.0) == 0.0


def test_copy_rate_counts_pitch_four_grams_taken_from_the_call():
    call = line([60, 62, 64, 65, 67, 69])
    assert m.copy_rate(call, line([60, 62, 64, 65, 67])) == 1.0  # 2 of 2 four-grams copied
    assert m.copy_rate(call, line([62, 64, 65, 67, 71, 72])) == pytest.approx(1 / 3)
    assert m.copy_rate(call, line([67, 65, 64, 62, 60])) == 0.0  # the call backwards
    assert m.copy_rate(call, line([60, 62, 64])) is None


def test_handover_and_first_note_phase():
    call = line([60, 62, 64, 65])  # last note-on 0.85
    answer = line([67, 69], start=1.1 + 0.004)
    assert m.handover_s(call, answer) == pytest.approx(0.254)
    assert m.phase_error_ms(1.104, EIGHTHS) == pytest.approx(4.0)  # beat at 1.1
    assert m.phase_error_ms(1.33, EIGHTHS) == pytest.approx(230.0)  # beats at 1.1 and 1.6
    assert m.phase_error_ms(1.5, None) is None


def test_measure_on_an_answer_that_repeats_the_call_a_bar_later():
    call = line([62, 64, 66, 67, 69, 67, 66, 64], velocities=[100, 60] * 4)
    answer = [Note(n.pitch, n.velocity, n.start + 2.0, n.end + 2.0) for n in call]
    analysis = analyze(notes_to_events(call))
    got = m.measure(call, answer, analysis, answer_end=answer[-1].end + 0.5)
    assert got["key_agreement"] == 1.0 and got["copy_rate"] == 1.0
    assert got["pitch_distance"] == 0.0 and got["polyphony_ratio"] == 1.0
    assert got["pitch_class_overlap"] == 1.0 and got["interval_overlap"] == 1.0
    assert got["ioi_overlap"] == pytest.approx(1.0) and got["cut_at_end"] == 0.0
    assert got["handover_s"] == pytest.approx(2.0 - 7 * 0.25)
    assert analysis.pulse is not None  # steady eighths: the repeat keeps their grid and accents
    assert got["on_grid"] == 1.0 and got["call_on_grid"] == 1.0 and got["phase_error_ms"] < 1.0
    assert got["accent_agreement"] == pytest.approx(1.0)


def test_mean_of_skips_what_was_not_measured():
    assert m.mean_of([1.0, None, 0.0]) == 0.5
    assert m.mean_of([None]) is None
