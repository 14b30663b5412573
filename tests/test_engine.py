"""The engine with the random-weights fixture model and a fake output port.

The tests drive it on an injected clock (handle/tick/run_due, no threads), so they are exact and
fast; test_engine_threads.py runs the real threads on the real clock.
"""

from __future__ import annotations

import logging
import time

import mido
import pytest
from engine_support import Rig, sounding

from improvd.daemon.context import ContextWindow
from improvd.daemon.engine import Engine
from improvd.daemon.events import Event
from improvd.daemon.runner import load_runner


def test_a_phrase_gets_a_prompt_answer_as_long_as_the_call_with_every_note_closed(model_path):
    rig = Rig(model_path, silence_ms=500)
    start = rig.now
    ended = rig.phrase()
    call_s = ended - start
    rig.advance(ended + 0.5 - rig.now - 0.01)
    assert rig.out.sent == [], "answered before the silence lasted silence_ms"
    rig.advance(call_s + 1.0)
    answer = rig.out.sent
    note_ons = [(t, e) for t, e in answer if e.is_note_on]
    assert note_ons, "no answer"
    first = note_ons[0][0]
    # The first note waits at most max_initial_wait_ms (30) of model time, plus one 5 ms tick.
    assert ended + 0.5 <= first <= ended + 0.5 + 0.030 + 0.006
    assert 0 <= rig.engine.last_reaction_s <= 0.030 + 0.006
    assert answer[-1][0] <= ended + 0.5 + call_s + 0.011
    config = rig.engine.config.sampling
    assert all(config.pitch_min <= e.pitch <= config.pitch_max for _, e in note_ons)
    assert all(e.channel == 0 for _, e in answer)
    assert not sounding(e for _, e in answer)
    most = max(len(sounding(e for _, e in answer[:i + 1])) for i in range(len(answer)))
    assert most <= config.max_polyphony
    assert rig.engine.response is None and rig.engine.policy.state == "listening"


def test_answer_is_generated_just_ahead_of_time_never_all_at_once(model_path):
    rig = Rig(model_path, silence_ms=300, response=6.0, lookahead_ms=50)
    ended = rig.phrase([60, 64, 67])
    rig.advance(ended + 0.3 - rig.now + 0.01)
    ctx = rig.engine.context
    assert ctx.responding and ctx.response_time <= rig.now + 0.05 + 1.0  # one shift at most
    for _ in range(20):
        rig.advance(0.1)
        if rig.engine.response is None:
            break
        assert ctx.response_time <= rig.now + 0.05 + 1.0
        assert all(t <= rig.now + 1.05 for t, _, _, _ in rig.engine.scheduler._heap)


def test_barge_in_cuts_the_answer_at_once_and_the_next_call_is_answered(model_path):
    rig = Rig(model_path, silence_ms=400, response=8.0, barge_in="stop")
    ended = rig.phrase([60, 62, 64, 65])
    rig.advance(0.4)
    for _ in range(400):  # until an answer note sounds
        if sounding(rig.out.events()):
            break
        rig.advance(0.005)
    assert sounding(rig.out.events()), "the answer never had a note sounding"
    barge = rig.now
    rig.send("note_on", 72)
    assert not sounding(rig.out.events()), "answer notes still sounding right after the barge-in"
    rig.advance(0.2)
    rig.send("note_off", 72, 0)
    rig.advance(0.39)
    assert [e for e in rig.out.events(since=barge + 1e-9) if e.is_note_on] == []
    rig.advance(0.5)
    assert [e for e in rig.out.events(since=barge + 0.5) if e.is_note_on], "no new answer"
    assert ended < barge


def test_barge_in_continue_lets_the_answer_play_on(model_path):
    rig = Rig(model_path, silence_ms=400, response=3.0, barge_in="continue")
    rig.phrase([60, 62, 64, 65])
    rig.advance(0.6)
    rig.send("note_on", 72)
    rig.advance(0.2)
    rig.send("note_off", 72, 0)
    assert rig.engine.response is not None
    rig.advance(101.35 + 3.0 - rig.now + 0.05)  # the answer started at 101.35, for 3 s
    cutoff = rig.out.sent[0][1].time + 3.0 + 0.003  # the next answer starts a tick later
    first = [e for e in rig.out.events() if e.time < cutoff]
    assert len([e for e in first if e.is_note_on]) > 3 and not sounding(first)
    # Then the call played during the answer gets its own (3 s) answer.
    assert rig.engine.response is not None
    rig.advance(3.5)
    assert rig.engine.response is None and not sounding(rig.out.events())


def test_every_token_is_one_model_step_and_long_pauses_are_clamped(model_path):
    runner = load_runner(model_path)
    ctx = ContextWindow(runner, history=64, max_gap_s=2.0)
    tok = runner.tokenizer
    events = [Event(0.0, "note_on", 60, 80), Event(0.5, "note_off", 60, 0),
              Event(60.5, "note_on", 62, 80), Event(61.0, "note_off", 62, 0)]
    tokens = sum(ctx.hear(e) for e in events)
    assert runner.steps == tokens == len(ctx.tokens)
    shifts = [tok.describe(t)[1] for t in ctx.tokens if tok.describe(t)[0] == "time_shift"]
    assert sum(shifts) * tok.step_s == pytest.approx(0.5 + 2.0 + 0.5)  # 60 s pause -> 2 s
    for i in range(500):  # the history stays bounded
        ctx.hear(Event(62 + i * 0.01, "note_on" if i % 2 == 0 else "note_off", 70, 80))
    assert len(ctx.history) == 64 and len(ctx.tokens) == 64


def test_the_answer_enters_the_context_too(model_path):
    rig = Rig(model_path, silence_ms=300, response=1.0)
    rig.phrase([60, 62, 64])
    heard_steps = rig.runner.steps
    rig.advance(1.5)
    played = [h for h in rig.engine.context.history if h.source == "played"]
    assert rig.runner.steps > heard_steps and played
    assert {(h.event.kind, h.event.pitch) for h in played if h.event.is_note_on} == \
        {(e.kind, e.pitch) for e in rig.out.events() if e.is_note_on}


def test_channels_thru_and_velocity_scale(model_path):
    plain = Rig(model_path, silence_ms=300, response=1.0)
    plain.phrase([60, 62, 64], channel=1)
    plain.advance(1.5)
    scaled = Rig(model_path, silence_ms=300, response=1.0, output_channel=5, thru=True,
                 input_channels=[2], **{"midi.velocity_scale": 0.5})
    scaled.phrase([40, 41], channel=0)  # not listened to: no thru, no answer
    scaled.advance(1.0)
    assert scaled.out.sent == []
    scaled.phrase([60, 62, 64], channel=1)
    thru = [e for e in scaled.out.events() if e.channel == 1]
    assert [(e.kind, e.pitch) for e in thru][:2] == [("note_on", 60), ("note_off", 60)]
    scaled.advance(1.5)
    answer = [e for e in scaled.out.events() if e.channel == 4 and e.is_note_on]
    expected = [max(1, round(e.velocity * 0.5)) for e in plain.out.events() if e.is_note_on]
    assert [e.velocity for e in answer] == expected and expected


def test_hostile_input_is_ignored(model_path):
    rig = Rig(model_path)
    for msg in [mido.Message("pitchwheel", pitch=100), mido.Message("sysex", data=[1, 2]),
                mido.Message("clock"), mido.Message("program_change", program=5),
                mido.Message("note_off", note=50), mido.Message("note_on", note=51, velocity=0)]:
        rig.engine.handle(msg, rig.now)  # converted by midi_events.to_event
    rig.advance(2.0)
    assert rig.out.sent == [] and rig.engine.policy.call_start is None


def test_a_flood_is_bounded_without_losing_a_note_off(model_path, caplog):
    rig = Rig(model_path)
    engine = Engine(rig.engine.config, rig.runner, rig.out, clock=lambda: rig.now,
                    queue_limit=500)
    # A key pressed before the flood: its note-off comes when the queue is full.
    engine.feed(mido.Message("note_on", note=100, velocity=64, channel=3), rig.now)
    for i in range(5000):
        engine.feed(mido.Message("note_on", note=i % 128, velocity=64, channel=i % 16), rig.now)
        engine.feed(mido.Message("note_off", note=i % 128, channel=i % 16), rig.now)
    engine.feed(mido.Message("note_off", note=100, channel=3), rig.now)
    engine.feed(mido.Message("note_off", note=100, channel=3), rig.now)  # a stray second one
    queued = list(engine.queue.queue)
    # The queue fills at 500; past it only the note-off of a note-on that was let in may wait:
    # the 500th message's (a note-on) and the key held before the flood. Notes dropped whole
    # cost nothing, and the stray second note-off is dropped: the queue stays bounded.
    assert len(queued) == 500 + 2
    assert engine.dropped == 1 + 2 * 5000 + 2 - len(queued)
    assert queued[-1][0].type == "note_off" and queued[-1][0].note == 100
    with caplog.at_level(logging.WARNING):
        engine.start()
        deadline = time.monotonic() + 60
        while not engine.queue.empty() and time.monotonic() < deadline:
            time.sleep(0.01)
        engine.stop()
    assert engine.queue.empty()
    assert f"dropped {engine.dropped} messages" in caplog.text
    assert not engine.policy.held
