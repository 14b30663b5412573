"""Beat-relative time (tokenizers/beat_performance.py, beat_context.py): the tempo is scaled away
when a phrase is tokenized, and a beat model's answer is rendered at the tempo of the call."""

from __future__ import annotations

import pytest
from engine_support import Rig
from improvd.daemon.events import Event, Note, notes_to_events
from improvd.daemon.tokenizers import from_spec
from improvd.daemon.tokenizers.beat_performance import BeatPerformanceTokenizer
from improvd.daemon.tokenizers.performance import PerformanceTokenizer
from improvd.testsupport.random_model import make_random_recurrent_model

# Quarter, two eighths, dotted quarter, eighth...: in beats.
RHYTHM = [(0, 1), (1, 0.5), (1.5, 0.5), (2, 1.5), (3.5, 0.5), (4, 1), (5, 1), (6, 2)]
PITCHES = [60, 62, 64, 65, 67, 65, 64, 62]


def phrase(bpm: float, start: float = 0.0) -> list[Event]:
    beat = 60.0 / bpm
    return notes_to_events(Note(p, 80, start + b * beat, start + (b + d * 0.9) * beat)
                           for p, (b, d) in zip(PITCHES, RHYTHM))


def test_a_phrase_tokenizes_the_same_at_any_tempo():
    tok = BeatPerformanceTokenizer()
    slow, fast = tok.encode(phrase(75)), tok.encode(phrase(150))
    assert slow == fast
    # Onsets are counted in steps of 1/24 beat, whatever the tempo: a quarter is 24 steps.
    step, onsets = 0, []
    for kind, value in map(tok.describe, slow):
        step += value if kind == "time_shift" else 0
        onsets += [step] if kind == "note_on" else []
    assert [b - a for a, b in zip(onsets, onsets[1:])] == [
        round(24 * (b - a)) for (a, _), (b, _) in zip(RHYTHM, RHYTHM[1:])]


def test_absolute_time_hears_the_tempo():
    tok = PerformanceTokenizer()
    assert tok.encode(phrase(75)) != tok.encode(phrase(150))


def test_the_spec_rebuilds_the_tokenizer_and_a_broken_one_is_refused():
    tok = BeatPerformanceTokenizer(steps_per_beat=12, max_shift_beats=2)
    again = from_spec(tok.spec())
    assert isinstance(again, BeatPerformanceTokenizer)
    assert (again.steps_per_beat, again.max_shift_steps, again.vocab_size) == (12, 24,
                                                                               tok.vocab_size)
    with pytest.raises(ValueError, match="whole number of beats"):
        from_spec({**tok.spec(), "max_shift_steps": 25})
    with pytest.raises(ValueError, match="inconsistent"):
        from_spec({**tok.spec(), "vocab_size": 1})


@pytest.fixture(scope="module")
def beat_model(tmp_path_factory):
    return make_random_recurrent_model(tmp_path_factory.mktemp("beat") / "beat.onnx",
                                       tokenizer=BeatPerformanceTokenizer())


@pytest.mark.parametrize("bpm", [80, 150])
def test_a_beat_model_hears_the_call_at_its_tempo_and_answers_at_it(beat_model, bpm):
    rig = Rig(beat_model)
    tok = rig.runner.tokenizer
    beat = 60.0 / bpm
    rig.advance(0.01)
    start = rig.now
    call = phrase(bpm, start)
    for e in call:
        rig.advance(e.time - rig.now)
        rig.send(e.kind, e.pitch, e.velocity)
    # Nothing of the call reaches the model before its tempo is known...
    assert not rig.engine.context.tokens
    rig.advance(2.0)
    ctx = rig.engine.context
    assert rig.engine.response is not None or rig.out.events(), "no answer started"
    heard_beat = ctx.step_s * tok.steps_per_beat  # real seconds per beat, as rendered
    assert heard_beat == pytest.approx(beat, rel=0.03)
    # ...then it is told exactly what the tokenizer makes of the call at that tempo.
    told = list(ctx.tokens)[:len(tok.encode(call))]
    assert told == tok.encode_at(call, heard_beat)
    # The answer's onsets fall on steps of 1/24 of the call's beat, counted from its start.
    rig.advance(6.0)
    answer = [e for e in rig.out.events() if e.is_note_on]
    assert answer, "the answer played nothing"
    first = answer[0].time
    for e in answer:
        steps = (e.time - first) / (beat / tok.steps_per_beat)
        assert steps == pytest.approx(round(steps), abs=0.1), (e, beat)
