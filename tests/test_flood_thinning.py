"""A backlog of input is taken in at the speed of the Python around the model, not of its steps:
the model hears the backlog's newest tokens (context.py: thin), and in playing it hears all."""

from __future__ import annotations

import logging

from engine_support import Rig

from improvd.daemon.context import FLOOD_TAIL_TOKENS
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
    flood = _flood(rig, 200)  # 400 events: within the queue bound (512), none dropped
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
