"""speculation.py: the answer's start computed before the call's end, through the real engine and
model on the fake clock (engine_support.Rig): kept, it is the answer the engine would have played
from the deadline, already computed; dropped, nothing of it was sent and the state is as before."""

from __future__ import annotations

import numpy as np
import pytest
from engine_support import Rig, sounding

from improvd.daemon import speculation
from improvd.daemon.beat_context import BeatContextWindow
from improvd.daemon.events import Event
from improvd.daemon.tokenizers.beat_performance import BeatPerformanceTokenizer
from improvd.testsupport.random_model import make_random_recurrent_model


def answer(rig, since):
    """(time after `since`, kind, pitch, velocity) of what the output got."""
    return [(round(t - since, 6), e.kind, e.pitch, e.velocity) for t, e in rig.out.sent]


@pytest.fixture
def without_speculation(monkeypatch):
    def switch_off():
        monkeypatch.setattr(speculation, "LEAD_S", 0.0)  # never within the lead: never started
    return switch_off


def test_the_kept_answer_is_the_one_played_from_the_deadline(model_path, without_speculation):
    # Ticks every 1 ms: the plain engine notices the deadline within 1 ms of it.
    rigs = {}
    for mode in ("ahead", "plain"):
        if mode == "plain":
            without_speculation()
        rig = Rig(model_path, silence_ms=300)
        ended = rig.phrase()
        started = []
        rig.engine.metrics.call_over = started.append
        while rig.now < ended + 0.3 - 0.002:
            rig.advance(0.001, step=0.001)
            if rig.engine.speculation.pending:
                started.append(("pending", rig.now))
        rig.advance(3.0, step=0.001)
        rigs[mode] = (rig, ended, started)
    ahead, plain = rigs["ahead"][0], rigs["plain"][0]
    assert any(s[0] == "pending" for s in rigs["ahead"][2] if isinstance(s, tuple))
    assert not any(isinstance(s, tuple) for s in rigs["plain"][2])
    assert ahead.out.sent, "no answer"
    a, p = answer(ahead, rigs["ahead"][1]), answer(plain, rigs["plain"][1])
    assert [x[1:] for x in a] == [x[1:] for x in p]  # the same notes, the same velocities
    # The same timing, but from the deadline itself rather than from the tick that noticed it.
    assert all(0 <= pt - at <= 0.0015 for (at, *_), (pt, *_) in zip(a, p))
    assert ahead.engine.last_reaction_s <= plain.engine.last_reaction_s


@pytest.fixture(scope="module")
def beat_model(tmp_path_factory):
    return make_random_recurrent_model(tmp_path_factory.mktemp("beat") / "beat.onnx",
                                       tokenizer=BeatPerformanceTokenizer())


@pytest.mark.parametrize("which", ["absolute time", "beat-relative"])
def test_input_before_the_deadline_drops_it_and_nothing_of_it_was_sent(
        which, model_path, beat_model, without_speculation):
    # A beat-relative model hears the call only at the handover: ahead of time here, and undone.
    model = beat_model if which == "beat-relative" else model_path
    runs = {}
    for mode in ("ahead", "plain"):
        if mode == "plain":
            without_speculation()
        rig = Rig(model, silence_ms=300)
        assert isinstance(rig.engine.context, BeatContextWindow) == (which == "beat-relative")
        ended = rig.phrase()
        rig.advance(ended + 0.3 - 0.01 - rig.now, step=0.001)  # 10 ms before the deadline
        if mode == "ahead":
            assert rig.engine.speculation.pending
            assert rig.out.sent == [] and rig.engine.scheduler.pending() == 0
        rig.send("note_on", 72)  # the player goes on: the call is not over
        state = [a.copy() for a in rig.runner.state]
        assert not rig.engine.speculation.pending and rig.engine.response is None
        assert rig.engine.answers == 0 and rig.engine.policy.state == "listening"
        rig.advance(0.1)
        rig.send("note_off", 72, 0)
        end2 = rig.now
        rig.advance(3.0, step=0.001)
        runs[mode] = (rig, end2, state)
    ahead, plain = runs["ahead"][0], runs["plain"][0]
    # Dropped, the model state was the one the plain engine had; the second call's answer then
    # comes out the same (with the same draws from the same generator).
    for x, y in zip(runs["ahead"][2], runs["plain"][2]):
        np.testing.assert_array_equal(x, y)
    assert ahead.engine.answers == plain.engine.answers == 1
    a, p = answer(ahead, runs["ahead"][1]), answer(plain, runs["plain"][1])
    assert a and [x[1:] for x in a] == [x[1:] for x in p]


def test_a_runner_without_snapshots_is_not_speculated_for(model_path):
    class NoSnapshot:  # a window runner or a baseline: it cannot put its state back
        def __init__(self, runner):
            self._runner = runner

        def __getattr__(self, name):
            if name in ("snapshot", "restore"):
                raise AttributeError(name)
            return getattr(self._runner, name)

    rig = Rig(model_path, silence_ms=300)
    rig.engine.runner = NoSnapshot(rig.runner)
    ended = rig.phrase()
    rig.advance(ended + 0.3 - 0.005 - rig.now, step=0.001)
    assert not rig.engine.speculation.pending
    rig.advance(3.0)
    assert rig.out.sent  # answered the plain way


def test_the_first_note_leaves_on_time_without_the_engine_and_a_late_abandon_releases_it(
        model_path):
    # The sending thread alone (no engine tick after the speculation started) sends the first
    # note at its due time: no hand-over from the engine thread at the deadline.
    rig = Rig(model_path, silence_ms=300)
    ended = rig.phrase()
    rig.advance(ended + 0.3 - 0.01 - rig.now, step=0.001)  # 10 ms before the deadline
    spec = rig.engine.speculation
    assert spec.pending and rig.out.sent == []
    deadline = spec.deadline
    rig.now = deadline + 0.05
    rig.engine.scheduler.run_due(rig.now)  # the scheduler thread's wake-ups only
    first = [(t, e) for t, e in rig.out.sent if e.is_note_on]
    assert first and first[0][1].time >= deadline
    assert spec.pending  # the engine has not looked yet: not kept, not dropped
    # Input stamped before the deadline reaches the engine only now: the answer is dropped and
    # what of it sounded is released at once.
    rig.engine.handle(Event(deadline - 0.001, "note_on", 72, 90), deadline - 0.001)
    assert not spec.pending and rig.engine.response is None
    answer_notes = [e for _, e in rig.out.sent if e.pitch != 72]
    assert not sounding(answer_notes)
    assert rig.engine.scheduler.pending("ahead") == 0


def test_input_that_comes_while_it_is_computed_stops_it_at_once(model_path):
    rig = Rig(model_path, silence_ms=300)
    ended = rig.phrase()
    engine = rig.engine
    state = [a.copy() for a in rig.runner.state]
    drawn = []
    real_sample = engine.sampler.sample

    def sample_then_the_player_goes_on(logits, mask):
        drawn.append(real_sample(logits, mask))
        if len(drawn) == 1:  # the player plays while the answer is computed ahead
            engine.feed(Event(rig.now, "note_on", 72, 90), rig.now)
        return drawn[-1]

    engine.sampler.sample = sample_then_the_player_goes_on
    rig.advance(ended + 0.3 - 0.02 - rig.now, step=0.001)  # within the lead: computed ahead
    assert len(drawn) == 1  # stopped after the token the input came during
    assert not engine.speculation.pending and engine.response is None
    for x, y in zip(rig.runner.state, state):  # put back as it was
        np.testing.assert_array_equal(x, y)
    assert rig.out.sent == [] and engine.scheduler.pending("ahead") == 0
    engine.sampler.sample = real_sample
    engine.handle(*engine.queue.get_nowait())  # the note is taken in: the call goes on
    assert engine.policy.held


def test_an_answer_computed_ahead_reaches_the_listener_at_the_calls_end(
        model_path, without_speculation):
    # With 5 ms of output latency (a synth's) the first note leaves 5 ms early. Computed ahead,
    # it can leave before the call is over and sound at its end; computed at the deadline, it
    # sounds 5 ms after it.
    first = {}
    for mode in ("ahead", "plain"):
        if mode == "plain":
            without_speculation()
        rig = Rig(model_path, silence_ms=300, **{"midi.output_latency_ms": 5})
        assert rig.engine.early_s == pytest.approx(0.005)
        calls = []
        rig.engine.metrics.call_over = calls.append
        rig.phrase()
        rig.advance(3.0, step=0.001)
        sent, note = next((t, e) for t, e in rig.out.sent if e.is_note_on)
        first[mode] = (sent - calls[0], note.time - calls[0])
    assert first["ahead"] == pytest.approx((-0.005, 0.0), abs=1e-6)
    assert first["plain"][1] >= 0.005 - 1e-6 and first["plain"][0] >= -1e-6


def test_input_denser_than_a_players_never_starts_an_answer_ahead(model_path, monkeypatch):
    # A flood whose every gap looked like a call about to end started an answer there (the
    # call's analysis, the model's catch-up) that the next burst threw away: the input waited
    # behind it. Only a pause in the input may start one.
    rig = Rig(model_path, silence_ms=300)
    engine = rig.engine
    rig.phrase()
    monkeypatch.setattr(engine.policy, "next_deadline", lambda now=None: rig.now + 0.03)
    started, start = [], engine._start_response

    def start_recorded(decision, now):
        started.append(rig.now)
        start(decision, now)

    monkeypatch.setattr(engine, "_start_response", start_recorded)
    for i in range(200):  # a note every millisecond, ticks in between
        rig.send("note_on" if i % 2 == 0 else "note_off", 40 + (i // 2) % 40)
        rig.advance(0.001, step=0.0005)
    assert started == [] and not engine.speculation.pending
    rig.advance(0.01, step=0.001)  # the input pauses: the call's end is within the lead
    assert started and started[0] >= engine._heard_at + 0.005


def test_a_control_after_its_first_note_left_keeps_the_answer_as_it_was(model_path):
    # A knob turned just as the answer starts (its first note out, the engine not yet at the
    # deadline): dropping the answer would cut that note and play it again.
    played = {}
    for mode in ("undisturbed", "knob"):
        rig = Rig(model_path, silence_ms=300)
        ended = rig.phrase()
        rig.advance(ended + 0.3 - 0.01 - rig.now, step=0.001)
        spec = rig.engine.speculation
        assert spec.pending
        rig.now = spec.deadline + 0.001
        rig.engine.scheduler.run_due(rig.now)
        assert [e for _, e in rig.out.sent if e.is_note_on]
        if mode == "knob":
            rig.engine.handle(Event(rig.now, "control_change", 1, 64), rig.now)  # mod wheel
            assert not spec.pending and rig.engine.response is not None  # kept, now the answer
        rig.advance(3.0, step=0.001)
        played[mode] = answer(rig, ended)
    assert played["knob"] == played["undisturbed"]


def test_a_setting_changed_before_its_first_note_can_leave_is_heard_in_it(model_path):
    # Temperature turned 10 ms before the call's end: the answer computed ahead at the old
    # temperature is dropped and computed again at the new one. Turned to where it was, the
    # answer computed again is the same as the one never dropped: the difference the hot one
    # makes is the temperature's.
    played = {}
    for mode, value in (("undisturbed", None), ("same", 64), ("hot", 127)):
        rig = Rig(model_path, silence_ms=300)
        ended = rig.phrase()
        rig.advance(ended + 0.3 - 0.01 - rig.now, step=0.001)
        assert rig.engine.speculation.pending
        if value is not None:
            rig.send("control_change", 16, value)
            # computed again at once: the end is within the lead
            assert rig.engine.speculation.pending
        rig.advance(3.0, step=0.001)
        played[mode] = answer(rig, ended)
        assert [e for _, e in rig.out.sent if e.is_note_on]
    assert rig.engine.sampler.temperature > 3.5
    assert played["same"] == played["undisturbed"]
    assert played["hot"] != played["undisturbed"]
