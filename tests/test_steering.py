"""Steering: unit checks of each bias on the performance vocabulary, then the whole effect on
answers of the random-weights model through the real engine (offline path), on vs off."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from model_fixtures import SHIPPED_MODEL, make_random_recurrent_model
from synthetic_calls import call

from improvd.daemon import answer_metrics as metrics
from improvd.daemon.analysis import analyze, analyze_notes
from improvd.daemon.config import Config, SteeringConfig
from improvd.daemon.events import Event, Note, notes_to_events
from improvd.daemon.offline import answer_call
from improvd.daemon.runner import load_runner
from improvd.daemon.steering import Steering
from improvd.daemon.tokenizers.performance import PerformanceTokenizer

TOK = PerformanceTokenizer()
D_MAJOR = (62, 64, 66, 67, 69, 71, 73, 74, 73, 71, 69, 67, 66, 64)


def steering(notes, start=10.0, length=4.0, **strengths):
    a = analyze_notes(notes)
    cfg = dataclasses.replace(SteeringConfig(), **strengths)
    return Steering(cfg, a, TOK, start, start + length, np.random.default_rng(0)), a


def test_scale_register_and_texture_biases():
    s, _a = steering(call(120, list(np.arange(0, 8, 0.5)), pitches=D_MAJOR), scale=1.0)
    on = s.bias(10.0, set())[TOK.note_on(0):TOK.note_on(128)]
    assert on[66] - on[65] == pytest.approx(6.0, abs=0.3)  # F# in D major, F not
    assert on[67] > on[60] > on[48] > on[36]  # further from the call's register, less likely
    held = s.bias(10.0, {66})[TOK.note_on(0):TOK.note_on(128)]
    assert on[69] - held[69] == pytest.approx(6.0)  # a solo line: one note at a time
    off = steering(call(120, [0, 1, 2, 3], pitches=D_MAJOR), scale=0.0, register=0.0)[0]
    assert not off.bias(10.0, set())[TOK.note_on(0):TOK.note_on(128)].any()


def test_phrase_end_prefers_stable_tones_and_releases_before_the_end():
    s, _a = steering(call(120, list(np.arange(0, 8, 0.5)), pitches=D_MAJOR))
    early = s.bias(10.0, {69})
    late = s.bias(13.8, {69})  # in the last eighth before the end at 14.0
    assert late[TOK.note_on(62)] - late[TOK.note_on(64)] > early[TOK.note_on(62)] - early[
        TOK.note_on(64)] + 2.5  # D (tonic) over E near the end
    assert late[TOK.note_off(69)] > early[TOK.note_off(69)]
    assert late[TOK.time_shift(50)] < late[TOK.time_shift(10)] - 5  # a hold past the end


def test_notes_held_past_the_calls_long_notes_are_pushed_to_end():
    s, a = steering(call(120, list(np.arange(0, 8, 0.5)), pitches=D_MAJOR, legato=0.5))
    s.shape(Event(10.0, "note_on", 69, 80))
    assert s.bias(10.1, {69})[TOK.note_off(69)] == 0.0
    assert s.bias(10.0 + 3 * a.long_note, {69})[TOK.note_off(69)] > 2.0


def test_a_call_of_notes_released_as_struck_still_limits_holds():
    # Random input (the e2e fuzz) made a call whose notes ended where they began: the hold limit
    # was 0, and the engine's next answer stopped on a division by zero.
    s, a = steering([Note(60 + k, 80, 0.1 * k, 0.1 * k) for k in range(6)])
    assert a.long_note > 0
    s.shape(Event(10.0, "note_on", 69, 80))
    assert np.isfinite(s.bias(10.0, {69})).all()
    assert s.bias(10.0 + 3 * a.long_note, {69})[TOK.note_off(69)] > 2.0


def test_grid_waits_snapping_and_dynamics():
    notes = call(120, list(np.arange(0, 8, 0.5)), pitches=D_MAJOR, accent=30)
    s, a = steering(notes)
    beat = a.pulse.next_beat(10.0)
    assert s.steps_to_grid(beat) == 0
    assert s.steps_to_grid(beat + 0.1) == 15  # the next eighth (0.25 s) is 150 ms away
    snapped = s.shape(Event(beat + 0.25 + 0.004, "note_on", 69, 40))
    assert snapped.time == pytest.approx(beat + 0.25, abs=1e-3)
    on_beat = [s.shape(Event(beat + k, "note_on", 69, 40)).velocity for k in range(4)]
    off_beat = [s.shape(Event(beat + k + 0.25, "note_on", 69, 40)).velocity for k in range(4)]
    assert np.mean(on_beat) - np.mean(off_beat) == pytest.approx(30, abs=8)
    assert np.mean(on_beat + off_beat) == pytest.approx(a.level, abs=8)  # not the model's 40


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    return load_runner(make_random_recurrent_model(tmp_path_factory.mktemp("m") / "r.onnx"))


def measured(runner, config, calls, seeds=3):
    rows = []
    for notes in calls:
        for seed in range(seeds):
            answer = answer_call(config, runner, notes_to_events(notes), seed=seed)
            rows.append(metrics.measure(answer.call_notes, answer.notes,
                                        analyze(list(answer.call)), answer.end))
    return {k: metrics.mean_of([r[k] for r in rows]) for k in rows[0]}


def test_steering_makes_even_a_random_model_follow_the_call(runner):
    calls = [call(110, list(np.arange(0, 8, 0.5)), pitches=D_MAJOR),
             call(90, list(np.arange(0, 4, 1 / 3)), pitches=(69, 72, 76, 74, 72, 71, 69, 68)),
             call(80, list(range(8)), pitches=(53, 58, 60, 53), chord=(0, 4, 7))]
    off = SteeringConfig(**{f.name: 0.0 for f in dataclasses.fields(SteeringConfig)})
    steered = measured(runner, Config(), calls)
    free = measured(runner, dataclasses.replace(Config(), steering=off), calls)
    assert steered["key_agreement"] >= 0.9 > free["key_agreement"]
    assert steered["on_grid"] >= 0.95 > free["on_grid"]
    assert steered["pitch_distance"] < free["pitch_distance"]
    assert steered["polyphony_ratio"] <= 1.5 < free["polyphony_ratio"]
    assert steered["phase_error_ms"] < 1.0



def test_the_shipped_model_answers_in_key_on_the_grid_with_the_calls_accents():
    calls = [call(110, list(np.arange(0, 8, 0.5)), pitches=D_MAJOR, accent=30),
             call(130, [0, 0.5, 1, 1.5, 2, 3, 3.5, 4, 4.5, 5, 6, 7], swing=2 / 3, accent=30,
                  pitches=(55, 58, 60, 62, 65, 67))]
    m = measured(load_runner(SHIPPED_MODEL), Config(), calls, seeds=2)
    assert m["answer_notes"] >= 6
    assert m["key_agreement"] >= 0.9 and m["on_grid"] >= 0.95
    assert m["velocities_distinct"] >= 2 and m["accent_agreement"] > 0.5
    assert m["pitch_distance"] <= 4 and m["cut_at_end"] <= 0.1


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 127), st.integers(1, 127), st.floats(0, 4),
                          st.sampled_from([0.0, 0.001, 0.05, 0.5, 2.0])), min_size=1, max_size=24),
       st.sets(st.integers(0, 127), max_size=6), st.floats(0, 6))
def test_any_call_gives_finite_biases(notes, sounding, at):
    """Whatever a player (or a fuzzer) played, every bias is a number: no division by a length,
    tempo or level of 0 stops the engine."""
    s, _a = steering([Note(p, v, t, t + d) for p, v, t, d in notes])
    for p in sounding:
        s.shape(Event(10.0, "note_on", p, 80))
    assert np.isfinite(s.bias(10.0 + at, sounding)).all()
