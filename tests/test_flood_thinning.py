"""A backlog of input is taken in at the speed of the Python around the model, not of its steps:
the model hears the backlog's newest tokens (context.py: thin), and in playing it hears all."""

from __future__ import annotations

import logging

from engine_support import Rig

from improvd.daemon.context import DENSE_INPUT_S, FLOOD_TAIL_TOKENS
from improvd.daemon.events import Event


def _flood(rig, pairs: int) -> list[Event]:
    events = []
    for i in range(pairs):
        pitch = 48 + (i * 7) % 36
        events += [Event(rig.now + i * 1e-4, "note_on", pitch, 1 + i % 127),
                   Event(rig.now + i * 1e-4 + 5e-5, "note_off", pitch, 0)]
    return events


def _digest_queued(engine) -> int:
    """Take in what waits in the queue, one message at a time (as the engine thread does)."""
    taken = 0
    while not engine.queue.empty():
        msg, t = engine.queue.get_nowait()
        engine.handle(msg, t)
        taken += 1
    return taken


def test_a_backlog_costs_the_model_only_its_newest_tokens(model_path, caplog):
    rig = Rig(model_path)
    engine, runner = rig.engine, rig.runner
    flood = _flood(rig, 200)  # 400 events: within the queue bound (engine.QUEUE_LIMIT), none dropped
    for e in flood:
        engine.feed(e, e.time)
    steps_before = runner.steps
    with caplog.at_level(logging.WARNING):
        assert _digest_queued(engine) == len(flood)
    rig.advance(0.05)  # the flood has passed: the engine thread ticks on
    ctx = engine.context
    # Every event was taken in: the history holds them and no key is left held.
    heard = [item.event for item in ctx.history if item.source == "heard"]
    assert [(e.kind, e.pitch) for e in heard[-len(flood):]] == [(e.kind, e.pitch) for e in flood]
    assert not engine.policy.held
    # The model stepped through the last event's tokens and the backlog's newest ones only.
    assert ctx.tokens_skipped > len(flood) // 2
    assert runner.steps - steps_before <= FLOOD_TAIL_TOKENS + 8
    assert ctx.unheard == 0
    assert "tokens left out so far" in caplog.text


def test_in_playing_every_heard_token_reaches_the_model_at_once(model_path):
    rig = Rig(model_path)
    engine, runner = rig.engine, rig.runner
    fed = 0
    for pitch in (60, 64, 67, 72):
        before = runner.steps
        rig.send("note_on", pitch)
        rig.advance(0.05)
        rig.send("note_off", pitch)
        fed += runner.steps - before
        assert engine.context.unheard == 0  # nothing waits for a later event
    assert engine.context.tokens_skipped == 0
    assert fed == len(engine.context.tokens) > 8


def test_the_model_hears_everything_before_it_is_read(model_path):
    rig = Rig(model_path)
    ctx = rig.engine.context
    ctx.deferring = True  # as the engine sets it while a backlog waits: nothing fed yet
    for e in _flood(rig, 3):
        ctx.hear(e)
    waiting = ctx.unheard
    assert waiting > 0
    steps = rig.runner.steps
    ctx.logits  # noqa: B018 - reading the logits is what must catch the model up
    assert ctx.unheard == 0 and rig.runner.steps == steps + waiting


def test_a_chords_notes_reach_the_model_once_the_input_pauses(model_path):
    rig = Rig(model_path)
    engine, runner = rig.engine, rig.runner
    before = runner.steps
    for k, pitch in enumerate((60, 64, 67, 72)):  # a chord: its notes 1 ms apart
        rig.send("note_on", pitch)
        if k == 0:
            fed_first = runner.steps - before
            assert fed_first > 0 and engine.context.unheard == 0  # a single note: at once
        rig.now += DENSE_INPUT_S / 5
    held_back = engine.context.unheard
    assert held_back > 0 and runner.steps - before == fed_first
    rig.advance(2 * DENSE_INPUT_S, step=DENSE_INPUT_S / 5)  # the input pauses
    assert engine.context.unheard == 0 and engine.context.tokens_skipped == 0
    assert runner.steps - before == fed_first + held_back  # every token, none left out


def test_a_flood_costs_no_model_step_while_it_lasts(model_path):
    rig = Rig(model_path)
    engine, runner = rig.engine, rig.runner
    rig.send("note_on", 40)  # a first note, heard at once
    rig.now += 0.5
    steps = runner.steps
    for e in _flood(rig, 500):  # 1,000 events 50 us apart, each handled as it comes
        rig.now = e.time
        engine.handle(e, e.time)
        engine.tick(rig.now)
    assert runner.steps - steps <= 4  # the flood's first event only: it followed a pause
    assert engine.context.unheard <= FLOOD_TAIL_TOKENS
    rig.advance(0.02, step=0.001)
    assert engine.context.unheard == 0
    assert runner.steps - steps <= 4 + FLOOD_TAIL_TOKENS


def test_input_that_comes_while_the_model_catches_up_stops_it(model_path):
    rig = Rig(model_path)
    engine, runner = rig.engine, rig.runner
    for e in _flood(rig, 40):
        engine.feed(e, e.time)
    assert _digest_queued(engine) == 80
    waiting = engine.context.unheard
    assert waiting > 2
    rig.now += 0.1
    fed = []
    real_feed = engine.context._feed

    def feed_then_a_note_comes(token):
        real_feed(token)
        fed.append(token)
        if len(fed) == 1:  # the player plays while the model catches up
            engine.feed(Event(rig.now, "note_on", 70, 80), rig.now)

    engine.context._feed = feed_then_a_note_comes
    engine.tick(rig.now)
    assert len(fed) == 1 and engine.context.unheard == waiting - 1
    assert not engine.queue.empty()  # the note is taken in next, the rest fed after it
