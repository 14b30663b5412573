"""When the answer starts and ends, through the real engine on a virtual clock (the offline path):
on the call's next beat or bar, a whole number of beats long, the call ended by its pulse."""

from __future__ import annotations

import numpy as np
import pytest
from model_fixtures import make_random_recurrent_model
from synthetic_calls import call

from improvd.daemon.analysis import analyze
from improvd.daemon.config import Config
from improvd.daemon.events import Event, Note, notes_to_events
from improvd.daemon.offline import answer_call
from improvd.daemon.runner import load_runner


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    return load_runner(make_random_recurrent_model(tmp_path_factory.mktemp("m") / "r.onnx"))


def beats_from(pulse, t):
    return (t - pulse.origin) / pulse.beat_s


@pytest.mark.parametrize("bpm", [70, 120, 180])
def test_the_answer_comes_in_on_the_next_beat_for_whole_beats(runner, bpm):
    events = notes_to_events(call(bpm, list(np.arange(0, 8, 0.5))))
    answer = answer_call(Config().with_overrides(silence_ms=3000), runner, events, seed=1)
    pulse = analyze(list(answer.call)).pulse
    last_onset = max(e.time for e in events if e.is_note_on)
    assert answer.first_note == pytest.approx(answer.started, abs=1e-9)
    k = beats_from(pulse, answer.started)
    assert abs(k - round(k)) * pulse.beat_s < 0.001, "the answer does not start on a beat"
    length = (answer.end - answer.started) / pulse.beat_s
    assert abs(length - round(length)) < 1e-6 and round(length) >= 1
    # The call ended by its pulse (no onset where one was due), long before silence_ms (3 s).
    assert last_onset < answer.call_ended < last_onset + 2 * 60 / bpm
    assert answer.started - answer.call_ended <= 60 / bpm + 1e-6


def test_bar_alignment_waits_for_the_bar_line(runner):
    notes = call(150, list(range(12)), accent=0, beat_accents=(30, 0, 0))
    config = Config().with_overrides(answer_start="bar")
    answer = answer_call(config, runner, notes_to_events(notes), seed=2)
    pulse = analyze(list(answer.call)).pulse
    assert pulse.beats_per_bar == 3
    bars = (answer.started - pulse.downbeat) / (3 * pulse.beat_s)
    assert abs(bars - round(bars)) * 3 * pulse.beat_s < 0.001
    assert (answer.end - answer.started) / (3 * pulse.beat_s) == pytest.approx(
        round((answer.end - answer.started) / (3 * pulse.beat_s)))


def test_answer_start_now_and_a_call_without_pulse_answer_after_the_silence(runner):
    steady = notes_to_events(call(120, list(np.arange(0, 4, 0.5))))
    now = answer_call(Config().with_overrides(answer_start="now", end_on_pulse=False,
                                              silence_ms=500), runner, steady, seed=3)
    last_off = max(e.time for e in steady)
    assert now.call_ended == pytest.approx(last_off + 0.5, abs=0.002)
    assert now.started == pytest.approx(now.call_ended, abs=0.002)
    rng = np.random.default_rng(3)
    starts = np.cumsum(rng.uniform(0.15, 0.9, 14))
    rubato = notes_to_events(Note(60 + i % 7, 80, t, t + 0.1) for i, t in enumerate(starts))
    assert analyze(rubato).pulse is None
    free = answer_call(Config().with_overrides(silence_ms=1000), runner, rubato, seed=3)
    assert free.premature == 0
    assert free.call_ended == pytest.approx(max(e.time for e in rubato) + 1.0, abs=0.002)
    assert free.started == pytest.approx(free.call_ended, abs=0.002)


def test_playing_again_before_the_beat_cancels_the_answer(runner):
    events = notes_to_events(call(60, list(np.arange(0, 6, 0.5))))
    first = answer_call(Config(), runner, events, seed=4)
    # Play again between the call's end and the beat the answer was to start on.
    again = first.call_ended + 0.5 * (first.started - first.call_ended)
    more = events + [Event(again, "note_on", 72, 90), Event(again + 0.2, "note_off", 72, 0)]
    second = answer_call(Config(), runner, more, seed=4)
    assert second.premature == 1  # the first answer was cancelled before a note of it sounded
    assert all(e.time >= again for e in second.events)
    assert not second.left_sounding


def test_releasing_a_long_note_just_before_the_next_is_no_end_of_the_call(runner):
    # Legato eighths, then a held half note, then more: the release of the half note comes
    # after every onset that was due, and the next note follows it at once.
    beats = [0, 0.5, 1, 1.5, 2, 2.5, 3, 5, 5.5, 6, 6.5, 7]
    notes = call(120, beats, legato=0.97)
    answer = answer_call(Config().with_overrides(silence_ms=2000), runner,
                         notes_to_events(notes), seed=5)
    assert answer.premature == 0
    assert answer.call_ended > max(n.start for n in notes)


def test_a_player_who_goes_on_after_a_pause_is_still_playing_the_same_call(runner):
    # Eight eighths, a rest of a beat and a half (taken for the end), then eight more: the
    # answer cut by the second half is forgotten, and the call is analysed whole.
    beats = [b for b in np.arange(0, 4, 0.5)] + [b + 5.5 for b in np.arange(0, 4, 0.5)]
    notes = call(120, beats, legato=0.8, accent=30)
    answer = answer_call(Config().with_overrides(silence_ms=2000), runner,
                         notes_to_events(notes), seed=6)
    assert answer.premature == 1
    whole = analyze(list(answer.call)).pulse
    k = (answer.started - whole.origin) / whole.beat_s
    assert abs(k - round(k)) * whole.beat_s < 0.001  # on the whole call's beat
    last = max(n.start for n in notes)
    assert answer.end - answer.started == pytest.approx(last - notes[0].start + 0.5, abs=0.51)
