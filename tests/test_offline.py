"""The offline answer path: the real engine on a virtual clock, with a tiny model and baselines."""

from __future__ import annotations

import dataclasses

import pytest
from model_fixtures import make_random_recurrent_model

from improvd.daemon.baseline_runners import EchoRunner, UniformRunner
from improvd.daemon.config import Config
from improvd.daemon.events import Event, Note, notes_to_events
from improvd.daemon.offline import answer_call
from improvd.daemon.runner import load_runner


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    return load_runner(make_random_recurrent_model(tmp_path_factory.mktemp("m") / "r.onnx"))


def phrase(pitches=(60, 62, 64, 65, 67, 65, 64, 62), step=0.25, length=0.2, start=0.0,
           velocity=90):
    return notes_to_events(Note(p, velocity, start + i * step, start + i * step + length)
                           for i, p in enumerate(pitches))


def steering_off(config: Config) -> Config:
    s = config.steering
    zero = {f.name: 0.0 for f in dataclasses.fields(s)}
    return dataclasses.replace(config, steering=dataclasses.replace(s, **zero))


def sounding_after(events) -> set[int]:
    on: set[int] = set()
    for e in events:
        if e.is_note_on:
            on.add(e.pitch)
        elif e.is_note_off:
            on.discard(e.pitch)
    return on


def test_a_tiny_model_answers_after_the_call_with_every_note_closed(runner):
    call = phrase()
    answer = answer_call(Config(), runner, call, seed=3)
    last_off = max(e.time for e in call)
    assert answer.notes, "no answer"
    # The pulse may end the call early; silence_ms after the last key is the latest.
    assert last_off < answer.call_ended <= last_off + 0.5 + 1e-6
    assert answer.started >= answer.call_ended
    assert answer.first_note >= answer.started and answer.end > answer.first_note
    assert answer.reaction_s == pytest.approx(answer.first_note - answer.call_ended)
    assert not answer.left_sounding and not sounding_after(answer.events)
    assert all(n.end <= answer.end + 1e-9 for n in answer.notes)
    assert answer.premature == 0 and answer.seed == 3
    sampling = Config().sampling
    assert all(sampling.pitch_min <= n.pitch <= sampling.pitch_max for n in answer.notes)


def test_the_same_seed_gives_the_same_answer_and_another_seed_another(runner):
    call = phrase()
    first = answer_call(Config(), runner, call, seed=7)
    assert answer_call(Config(), runner, call, seed=7).events == first.events
    assert answer_call(Config(), runner, call, seed=8).events != first.events


def test_a_rest_longer_than_silence_ms_gets_a_premature_answer_and_then_the_real_one(runner):
    call = phrase((60, 62, 64)) + phrase((65, 67, 69), start=2.0)
    answer = answer_call(Config(), runner, call, seed=1)
    assert answer.premature == 1
    assert answer.started > 2.0 + 0.75 and min(e.time for e in answer.events) >= answer.started
    assert not sounding_after(answer.events)


def test_echo_replays_the_calls_notes_and_rhythm():
    call = phrase((62, 66, 69, 74, 69, 66), step=0.3, length=0.25)
    runner = EchoRunner.for_call(call)
    answer = answer_call(steering_off(Config()), runner, call, seed=0)
    call_notes = answer.call_notes
    echo = answer.notes[:len(call_notes)]  # as long as the call: it may wrap round at the end
    assert [n.pitch for n in echo] == [n.pitch for n in call_notes]
    got = [n.start - echo[0].start for n in echo]
    want = [n.start - call_notes[0].start for n in call_notes]
    assert got == pytest.approx(want, abs=0.011)


def test_uniform_runner_plays_random_notes_in_the_allowed_range():
    call = phrase()
    # Steering off: this is about the runner and the range mask, not the call's register.
    config = steering_off(Config().with_overrides(pitch_min=48, pitch_max=72, response=8.0))
    answers = [answer_call(config, UniformRunner(), call, seed=s) for s in range(4)]
    pitches = [n.pitch for a in answers for n in a.notes]
    # Flat logits draw a time shift of up to 1 s most of the time: a few notes per answer.
    assert all(a.notes for a in answers) and len(set(pitches)) > 3
    assert all(48 <= p <= 72 for p in pitches)
    assert len({a.events for a in answers}) == 4
    assert not any(sounding_after(a.events) for a in answers)


def test_a_call_without_notes_is_refused(runner):
    with pytest.raises(ValueError):
        answer_call(Config(), runner, [Event(0.0, "control_change", 64, 127)])
