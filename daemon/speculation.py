"""The answer's first notes computed before the call is over, kept if the player stays silent.

When the call's end is near (the silence deadline, or the pulse's, is within LEAD_S), the engine
takes everything an answer changes as it stands (the model's recurrent state, the context, the
analyzer and policy, the sampler's generator), starts the answer as it would at the deadline and
generates its first lookahead. Its notes go to the scheduler at once, tagged AHEAD (all are due
at or after the deadline); what it would record and log is held back. Then:

  commit   the deadline comes with no new input: the notes become the answer's, the held
           records and log lines go out, and the answer goes on as any other. Its first note-on
           was waiting in the scheduler, so it leaves at its due time on the sending thread's
           own wake-up.
  abandon  input comes first (the player went on): the notes are cancelled and everything is
           put back as it was; nothing was sent, logged or recorded, and the input is handled as
           if nothing had happened. (Input that came just before the deadline but reached the
           engine just after it finds the first note sent: it is released at once.)

The answer is the one the engine would have played from the deadline: the same plan, the same
draws from the same generator. Nothing is started while input comes denser than a player's
(context.DENSE_INPUT_S apart: a flood, a backlog): its gaps are no silence. A beat-relative model
(beat_context.py) hears the call only at the handover; that happens here too, ahead of time, and
is undone with the rest when abandoned. A runner that cannot snapshot its state (a window runner)
is not speculated for.
"""

from __future__ import annotations

import copy
import logging
from collections import deque

from .policy import CallResponsePolicy
from .scheduler import AHEAD, ANSWER

log = logging.getLogger(__name__)

# Start this long before the deadline. Computing the start takes ~20 ms on a 2-core machine (the
# call's analysis ~12 ms, the saved state ~4 ms, the first tokens), more when other programs
# share the cores: a 20 ms lead left the first note 2-17 ms late in half the answers.
LEAD_S = 0.06
_ENGINE_FIELDS = ("answers", "last_analysis", "last_reaction_s", "input_lag_s", "response",
                  "steering")


class HeldScheduler:
    """Stands in for the scheduler while speculating. The answer's notes go to the real one
    at once, tagged AHEAD: all of them are due at or after the deadline, so the sending thread
    sends the first at its due time on its own wake-up, with no hand-over from the engine thread
    in between; abandon() cancels them, commit() makes them the answer's. The All Notes Off that
    follows the answer waits for the commit."""

    def __init__(self, scheduler):
        self.real = scheduler
        self.held: list[tuple] = []

    def push(self, due, event, source=ANSWER) -> None:
        self.real.push(due, event, AHEAD if source == ANSWER else source)

    def all_notes_off_after(self, *args, **kwargs) -> None:
        self.held.append(("all_notes_off_after", args, kwargs))

    def __getattr__(self, name):
        return getattr(self.real, name)

    def replay(self) -> None:
        self.real.retag(AHEAD, ANSWER)
        for method, args, kwargs in self.held:
            getattr(self.real, method)(*args, **kwargs)

    def cancel(self) -> int:
        """Drop what was computed ahead; notes already sent (input that came just before the
        deadline reached the engine just after it) are released at once. Returns those."""
        return self.real.cancel_pending_and_release(AHEAD)


class HeldCalls:
    """Stands in for an observer (the metrics): calls are kept and replayed on commit."""

    def __init__(self, real):
        self.real = real
        self.held: list[tuple] = []

    def __getattr__(self, name):
        def hold(*args, **kwargs):
            self.held.append((name, args, kwargs))
        return hold

    def replay(self) -> None:
        for name, args, kwargs in self.held:
            getattr(self.real, name)(*args, **kwargs)


class HeldLog(logging.Filter):
    """Holds the engine logger's records while speculating (a "call ended" line must not be
    written for a call that goes on)."""

    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.records.append(record)
        return False


def _context_state(ctx) -> dict:
    """A copy of the context's own state: containers copied, the runner and tokenizer shared
    (events and history items are immutable, so copying the containers is enough)."""
    state = dict(ctx.__dict__)
    for key, value in state.items():
        if isinstance(value, deque):
            state[key] = deque(value, maxlen=value.maxlen)
        elif isinstance(value, list):
            state[key] = list(value)
    state["_encoder"] = copy.deepcopy(ctx._encoder, {id(ctx.tok): ctx.tok})
    return state


class Speculation:
    """One speculative answer start at a time, for one engine (its engine thread only)."""

    def __init__(self, engine, engine_log: logging.Logger):
        self.engine = engine
        self.log = engine_log
        self.deadline: float | None = None  # set while a speculative answer waits
        self.computing = False  # True while try_start computes one
        self._saved: dict | None = None
        self._held: tuple[HeldScheduler, HeldCalls, HeldLog] | None = None

    @property
    def pending(self) -> bool:
        return self.deadline is not None

    def possible(self) -> bool:
        """A runner that can snapshot its state, answering calls on their own pulse. Not in
        accompany mode (no call ends there) nor while a DAW's clock runs (its bar lines move the
        answer's end as it plays, clock_sync.py: a plan made ahead could not be put back)."""
        e = self.engine
        return (hasattr(e.runner, "snapshot") and isinstance(e.policy, CallResponsePolicy)
                and not e.sync.clock.running)

    def begun(self, now: float) -> bool:
        """Whether its first note may have left: each of its events is due at or after the
        deadline, and the sending thread sends a note early_s before it is due."""
        return self.pending and now >= self.deadline - self.engine.early_s

    def wake_at(self) -> float | None:
        """When the engine thread must next look at the speculation (or start one)."""
        if self.pending:
            return self.deadline
        deadline = self.engine.policy.next_deadline()
        if deadline is None or not self.possible():
            return None
        return max(deadline - LEAD_S, self.engine._feed_at)  # not while input is dense

    def try_start(self, now: float, respond_type) -> None:
        """The engine is idle and no input waits: start the answer ahead if the call's end is
        within LEAD_S."""
        e = self.engine
        if self.pending or not self.possible():
            return
        # Input denser than a player's (a flood, a backlog) is no silence ending a call: each
        # of its gaps would start an answer (the call's analysis, the model's catch-up) that the
        # next burst throws away, and the input would wait behind it.
        if not e._input_paused(now):
            return
        deadline = e.policy.next_deadline(now)
        if deadline is None or deadline <= now or deadline - now > LEAD_S:
            return
        # What was heard reaches the model first, outside what may be undone (it is the music
        # either way); input that comes meanwhile stops it, and the call goes on.
        e.context.catch_up(e._input_waits)
        if e._input_waits():
            return
        self._save()
        self.computing = True  # the engine's generation stops as soon as input waits
        try:
            decision = e.policy.poll(deadline)
            if isinstance(decision, respond_type):
                self.deadline = deadline
                e._start_response(decision, deadline)
                e._generate(deadline)  # stops before a token when input waits
                if not e._input_waits():
                    log.debug("answer computed ahead in %.1f ms, %.1f ms before its deadline",
                              1000 * (e.clock() - now), 1000 * (deadline - e.clock()))
                    return
        except BaseException:
            self.abandon()
            raise
        finally:
            self.computing = False
        self.abandon()  # too short a call, or the player went on while it was computed

    def commit(self) -> None:
        """The deadline has come without input: play what was computed."""
        log.debug("speculative answer committed %.2f ms after its deadline",
                  1000 * (self.engine.clock() - self.deadline))
        scheduler, metrics, held_log = self._release()
        scheduler.replay()
        metrics.replay()
        for record in held_log.records:
            self.log.handle(record)
        self.deadline = None
        self._saved = None

    def abandon(self) -> None:
        """Input came before the deadline: put everything back; nothing was sent (unless the
        input reached the engine only after the deadline: those notes are released at once)."""
        scheduler, _, _ = self._release()
        if released := scheduler.cancel():
            log.debug("%d notes computed ahead had gone out; released", released)
        self._restore()
        self.deadline = None
        self._saved = None
        log.debug("speculative answer dropped: the call goes on")

    # --- inside ------------------------------------------------------------------------------
    def _save(self) -> None:
        e = self.engine
        policy, analyzer = copy.deepcopy((e.policy, e.analyzer))  # the policy holds the analyzer
        self._saved = {"policy": policy, "analyzer": analyzer, "runner": e.runner.snapshot(),
                       "context": _context_state(e.context),
                       "rng": copy.deepcopy(e.sampler.rng.bit_generator.state),
                       "fields": {name: getattr(e, name) for name in _ENGINE_FIELDS}}
        self._held = (HeldScheduler(e.scheduler), HeldCalls(e.metrics), HeldLog())
        e.scheduler, e.metrics = self._held[0], self._held[1]
        self.log.addFilter(self._held[2])

    def _release(self) -> tuple[HeldScheduler, HeldCalls, HeldLog]:
        scheduler, metrics, held_log = self._held
        self.log.removeFilter(held_log)
        self.engine.scheduler, self.engine.metrics = scheduler.real, metrics.real
        self._held = None
        return scheduler, metrics, held_log

    def _restore(self) -> None:
        e, saved = self.engine, self._saved
        e.policy, e.analyzer = saved["policy"], saved["analyzer"]
        e.runner.restore(saved["runner"])
        e.context.__dict__.clear()
        e.context.__dict__.update(saved["context"])
        e.sampler.rng.bit_generator.state = saved["rng"]
        for name, value in saved["fields"].items():
            setattr(e, name, value)
