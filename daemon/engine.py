"""The engine: input queue -> context + policy -> streamed answer -> scheduler.

Threads:
  MIDI input thread feed(msg, t): put_nowait((msg, t)) and nothing else (the "improvd-midi-in"
                    thread of ports.py).
  engine thread     _loop(): converts, filters, feeds the context (one model step per token), asks
                    the policy, and generates the answer just ahead of the clock (lookahead_ms).
  scheduler thread  sends at due times (scheduler.py).

The input queue drops past `queue_limit` but never a note-off (input_queue.py). While input
waits in the queue, the model hears only the newest tokens of the backlog (context.py: thin), so
events are taken in at the speed of the Python code around them, not of the model's steps.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import realtime
from .accompany import Accompanist, make_policy
from .analysis import CallAnalyzer
from .clock_sync import TRANSPORT_STOP, ClockSync
from .config import Config
from .context import DENSE_INPUT_S
from .events import Event
from .handover import plan_answer
from .input_queue import InputQueue
from .live_controls import LiveControls
from .metrics import EngineMetrics
from .midi_events import to_event as midi_to_event
from .output_latency import send_ahead_s
from .policy import CallResponsePolicy, Respond, Stop
from .sampling import Constraints, Sampler, legal_mask
from .scheduler import ANSWER, THRU, Scheduler
from .speculation import Speculation
from .steering import Steering
from .step_context import make_context

log = logging.getLogger(__name__)

_STOP = object()
_RELOAD = object()
MAX_TOKENS_PER_TICK = 256  # generation yields to input at least this often
HEARTBEAT_S = 1.0  # the engine thread wakes at least this often (stale keys, the watchdog)


def _is_note(msg) -> bool:
    """A note-on or note-off, as a mido message or an Event (the other queued items: controls,
    other channel messages, the reload and transport sentinels)."""
    return (getattr(msg, "type", None) or getattr(msg, "kind", None)) in ("note_on", "note_off")


@dataclass
class _Response:
    started: float  # real time the answer starts (and the call was detected)
    end: float  # real time it ends
    call_ended: float  # when the call counted as over (the silence deadline, the pedal)
    notes: int = 0
    waited_steps: int = 0  # model time before the first note, in tokenizer steps
    tokens_at_instant: int = 0
    first_note_due: float | None = None
    closed: bool = False  # its last note-offs are scheduled


# Input messages let wait for the engine before new ones are dropped. An idle input thread looks
# every input_timing.IDLE_POLL_S (50 ms): a flood that starts then is found as one batch, up to
# 1,000 messages at 20,000 a second (twice what the engine is asked to digest). 512 dropped the
# head of such a batch (201 messages in the bench's digest run).
QUEUE_LIMIT = 1024


class Engine:
    def __init__(self, config: Config, runner, output, clock: Callable[[], float] = time.monotonic,
                 to_event: Callable | None = None, queue_limit: int = QUEUE_LIMIT,
                 metrics: EngineMetrics | None = None):
        """output: has send_event(event, channel). to_event: mido message -> Event | None
        (default: midi_events.to_event); Event objects are accepted as they are. metrics: told of
        each measurement point (metrics.py; default: nothing recorded)."""
        self.clock = clock
        self.metrics = metrics or EngineMetrics()
        self.scheduler = Scheduler(output, clock, (config.midi.output_channel - 1,))
        self.queue = InputQueue(queue_limit)
        self._to_event = to_event or midi_to_event
        self._thread: threading.Thread | None = None
        self.last_reaction_s: float | None = None  # call end -> first answer note due
        self.input_lag_s = 0.0  # worst time from the MIDI callback's stamp to the engine
        self._thinned_at = -float("inf")  # the last log line about a flood's thinned tokens
        self._heard_at = -float("inf")  # the stamp of the last event heard
        # Read by other threads (status line, recorder, watchdog): written only here.
        self.answers = 0  # answers started
        self.answers_done = 0  # answers ended (played out, or stopped by reload/shutdown/error)
        self.last_analysis = None  # CallAnalysis of the last call answered (tempo, key)
        self.alive_at = clock()  # the engine loop's last turn: a service watchdog checks it
        self.sync = ClockSync(self.queue)  # a DAW's MIDI clock (clock_sync.py)
        self.controls = LiveControls(self)  # the CC map and Program Change (live_controls.py)
        self.accompanist = Accompanist(self)  # keeps an accompaniment going (accompany.py)
        self._install(config, runner)

    def _install(self, config: Config, runner) -> None:
        self.config = config
        self.runner = runner
        self.tok = runner.tokenizer
        self.context = make_context(runner)  # ContextWindow, or StepContextWindow
        self.context.input_waits = self._input_waits
        self.analyzer = CallAnalyzer()
        self.policy = make_policy(config, self.analyzer, self.sync)  # or accompany
        self.steering: Steering | None = None  # the current answer's (performance models)
        s = config.sampling
        self.sampler = Sampler(s.temperature, s.top_p, s.seed)
        self.constraints = Constraints(s.pitch_min, s.pitch_max, s.max_polyphony)
        self.channels = {c - 1 for c in config.midi.input_channels}  # empty = omni
        self.out_channel = config.midi.output_channel - 1
        self.response: _Response | None = None
        self.sync.configure(config.clock.source, config.clock.beats_per_bar)
        self.controls.configure(config.controls)
        self.early_s = send_ahead_s(config.midi, self.scheduler.output)  # synth + port latency
        self._mask = np.zeros(self.tok.vocab_size, dtype=bool)  # refilled for every token
        self.speculation = Speculation(self, log)  # the answer's start, computed ahead

    @property
    def dropped(self) -> int:
        """Input messages dropped by the flood bound so far."""
        return self.queue.dropped

    # --- MIDI input thread -------------------------------------------------------------------
    def feed(self, msg, t: float) -> None:
        """The MIDI input callback: queue (msg, t) and return; never blocks, never raises."""
        if not self.sync.take(msg, t):  # clock messages never reach the queue or the model
            self.queue.put_input(msg, t)

    def wants_prompt_input(self) -> bool:
        """The input thread must look often (input_timing.py): a call is open (its end, a
        pedal, must be heard at once), an answer plays (a barge-in too) or the player's notes go
        thru. Any thread: it only reads references."""
        p = self.policy
        if self.response is not None or self.config.midi.thru:
            return True
        if not isinstance(p, CallResponsePolicy):  # accompany mode plays along with every note
            return True
        return p.call_start is not None or bool(p.held)

    # --- the owner's thread ------------------------------------------------------------------
    def start(self) -> None:
        self.scheduler.start()
        self._thread = threading.Thread(target=self._loop, name="improvd-engine", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the engine thread (sentinel + join), then the scheduler, which panics."""
        if self._thread is not None:
            self.queue.put(_STOP)
            self._thread.join(timeout=5 * HEARTBEAT_S)
            if self._thread.is_alive():  # wedged: the scheduler releases the notes without it
                log.error("the engine thread does not stop; releasing the notes without it")
            self._thread = None
        self.scheduler.stop()

    def reload(self, config: Config, runner) -> None:
        """Swap in a new config and model between two events; the ports stay open."""
        self.queue.put((_RELOAD, (config, runner)))

    # --- the engine thread (tests call handle/tick directly, on their own clock) -------------
    def _loop(self) -> None:
        realtime.enter("engine", below=1)  # below the sender: see realtime.py
        while True:
            self.alive_at = self.clock()
            try:
                item = self.queue.get(timeout=self._timeout(self.alive_at))
            except queue.Empty:
                item = None
            if item is _STOP:
                break
            try:
                if item is not None:
                    self.handle(*item)
                self.tick(self.clock())
            except Exception:
                log.exception("engine error - answer stopped, notes released")
                self._abort_response()
        self._abort_response()

    def _timeout(self, now: float) -> float:
        """How long the engine thread may wait for input before it has work to do (at most
        HEARTBEAT_S: held keys turn stale and the service watchdog waits without input too)."""
        r = self.response
        if r is None:
            deadline = self.policy.next_deadline()
        elif r.closed:
            deadline = r.end
        else:  # generate again when half the lookahead has been played
            deadline = (self.context.response_time - self.config.sampling.lookahead_ms / 2000
                        - self.early_s)
        if (ahead := self.speculation.wake_at()) is not None:
            deadline = ahead if deadline is None else min(deadline, ahead)
        if self.context.unheard:  # held back from the model while input was dense
            deadline = self._feed_at if deadline is None else min(deadline, self._feed_at)
        return HEARTBEAT_S if deadline is None else min(HEARTBEAT_S, max(0.0, deadline - now))

    def handle(self, msg, t: float) -> None:
        """One queued input message (or a reload request)."""
        if self.speculation.pending:
            self._settle_speculation(msg)
        if msg is _RELOAD:
            self._abort_response()
            self._install(*t)
            log.info("reloaded the config and the model")
            return
        if msg is TRANSPORT_STOP or self.controls.take(msg):  # a control is no note to hear
            return self.panic() if msg is TRANSPORT_STOP else None
        self.queue.report_drops(self.clock())
        self.input_lag_s = max(self.input_lag_s, self.clock() - t)
        event = msg if isinstance(msg, Event) else self._to_event(msg, t)
        if event is None or (self.channels and event.channel not in self.channels):
            return
        if self.config.midi.thru:
            self.scheduler.push(self.clock(), event, THRU)
        self.analyzer.update(event)
        decision = self.policy.on_event(event)
        if self.analyzer.resumed is not None:  # a pause, not an end: the call goes on
            self.policy.resume_call(self.analyzer.resumed)
            self.analyzer.resumed = None
        if isinstance(decision, Stop):
            released = self.scheduler.cancel_pending_and_release(ANSWER, self.out_channel)
            self.context.end_response()
            self.response = self.steering = None
            log.info("barge-in - stopped (%d notes released)", released)
        # Input faster than a player's (a backlog waits, a chord's notes, a flood): the model
        # hears it once it pauses (context.py), the input does not wait behind model steps.
        # Otherwise every token is fed now (with what came before it, if any waited).
        dense = event.time - self._heard_at < DENSE_INPUT_S
        self._heard_at = max(self._heard_at, event.time)
        self.context.deferring = dense or not self.queue.empty()
        self.context.hear(event)
        if self.context.deferring:
            self._report_thinned(self.context.thin())
        self.metrics.heard(event.time, self.clock(), self.queue.qsize())
        if isinstance(decision, Respond):
            self._start_response(decision, self.clock())

    def _settle_speculation(self, msg) -> None:
        """Input came while an answer computed ahead waits for its deadline. A note (the player
        went on), or anything before the answer's first note can have left, drops it: it is
        computed again with what came. Anything else once it may be sounding (a control, a
        DAW's stop) finds the answer begun: it is kept, and the message is handled as during any
        answer; cutting the note and playing it again would be heard."""
        if _is_note(msg) or not self.speculation.begun(self.clock()):
            self.speculation.abandon()
        else:
            self.speculation.commit()

    def _input_waits(self) -> bool:
        return not self.queue.empty()

    @property
    def _feed_at(self) -> float:
        """When tokens held back from the model while input was dense (context.py) are fed,
        if nothing is queued then: the last event heard is DENSE_INPUT_S old."""
        return self._heard_at + DENSE_INPUT_S

    def _input_paused(self, now: float) -> bool:
        return self.queue.empty() and now >= self._feed_at

    def _report_thinned(self, skipped: int) -> None:
        """Log the tokens a flood kept from the model, at most once a second."""
        now = self.clock()
        if skipped and now - self._thinned_at >= 1.0:
            log.warning("input flood: the model hears the newest notes of the backlog "
                        "(%d tokens left out so far)", self.context.tokens_skipped)
            self._thinned_at = now

    def tick(self, now: float) -> None:
        """Time has passed: maybe end the call, generate the answer up to now + lookahead."""
        # With input still queued the silence is not real yet: a backlog (a flood, a slow machine)
        # would otherwise turn each old note into a call of its own.
        if self.context.unheard and self._input_paused(now):  # a chord's or a flood's tail
            self.context.catch_up(self._input_waits)
        if self.speculation.pending:  # committed at its deadline if no input came first
            if now < self.speculation.deadline or not self.queue.empty():
                return
            self.speculation.commit()
        if self.response is None and self.queue.empty():
            decision = self.policy.poll(now)
            if isinstance(decision, Respond):
                self._start_response(decision, now)
            else:
                self.speculation.try_start(now, Respond)
        if self.response is not None:
            self._generate(now)

    # --- the answer --------------------------------------------------------------------------
    def _start_response(self, d: Respond, now: float) -> None:
        analysis = self.sync.steer(self.analyzer.end_call(), now)  # a running clock is the pulse
        self.answers += 1
        self.last_analysis = analysis
        over = now  # the instant the call was over (the metrics' "call over")
        self.context.follow_tempo(analysis.pulse if analysis is not None else None)
        # The answer may reach the listener at the instant the call is over, when it is computed
        # ahead of it (speculation.py: its first note then leaves early_s before); otherwise as
        # soon as a note sent now gets there. Analysing (a few ms) and hearing the call took
        # time: plan from after them, or the next beat may already be too close.
        now = max(now, self.clock() + self.early_s)
        plan = plan_answer(analysis, self.config.policy, now, d.response_seconds)
        self.sync.planned(plan.start, plan.end)
        log.info("call ended (%.1f s, %d notes; %s) - %s", d.call_seconds, d.notes,
                 analysis.describe() if analysis else "no notes", plan.describe(now))
        self.metrics.call_over(over)
        self.response = _Response(started=plan.start, end=plan.end,
                                  call_ended=over if d.ended_at is None else d.ended_at)
        if self.context.time_shifts:
            self.steering = Steering(self.config.steering, analysis, self.tok, plan.start,
                                     plan.end, self.sampler.rng, on_pulse=plan.on != "now",
                                     step_s=self.context.step_s)
        log.debug("call detected %.1f ms after it ended; input reached the engine within "
                  "%.1f ms (worst since the last answer)", 1000 * (over - self.response.call_ended),
                  1000 * self.input_lag_s)
        self.input_lag_s = 0.0
        self.context.start_response(plan.start)
        self.scheduler.reset_stats()

    def _generate(self, now: float) -> None:
        r, ctx = self.response, self.context
        step_s = ctx.step_s
        self.sync.follow(r, self.steering, now)
        self.accompanist.follow(now)
        horizon = min(now + self.config.sampling.lookahead_ms / 1000 + self.early_s, r.end)
        initial_steps = self.config.sampling.max_initial_wait_ms // round(step_s * 1000)
        budget = MAX_TOKENS_PER_TICK
        while not r.closed and ctx.response_time < horizon and budget > 0:
            if self.speculation.computing and self._input_waits():
                break  # the player went on: this answer computed ahead is dropped
            budget -= 1
            to_end = max(1, math.ceil((r.end - ctx.response_time) / step_s - 1e-9))
            # Before the first note only a short wait is allowed, so the answer starts promptly.
            # Later any shift may be drawn: masking long ones near the end would push the model's
            # "hold" probability onto notes, and the answer would end in a flurry.
            longest = None if r.first_note_due is not None else initial_steps - r.waited_steps
            steer = self.steering
            if steer is not None and steer.locked and r.first_note_due is None:
                longest = 0  # the answer comes in on the beat it starts on
            if not ctx.time_shifts:  # each token is one step: no waits to bound
                mask = ctx.legal_mask(self.constraints)
            else:
                mask = legal_mask(self.tok, ctx.response_sounding, self.constraints,
                                  max_shift_steps=longest, tokens_at_instant=r.tokens_at_instant,
                                  out=self._mask)
            logits = ctx.logits
            if steer is not None:
                logits = logits + steer.bias(ctx.response_time, ctx.response_sounding)
            token = self.sampler.sample(logits, mask)
            kind, value = self.tok.describe(token)
            wait = steer.steps_to_grid(ctx.response_time) if kind == "note_on" and steer else 0
            if wait and ctx.response_time + wait * step_s > r.end - step_s / 2:
                # No grid point left before the end: the phrase is over, hold to the end.
                token, kind, value = self.tok.time_shift(to_end), "time_shift", to_end
            elif wait:  # pulse lock: the onset waits for the next grid point; the model hears so
                self._schedule(ctx.play(self.tok.time_shift(wait)))
                r.tokens_at_instant = 0
            if kind == "time_shift":
                if value > to_end:  # a hold past the end: cut it there, and tell the model so
                    token, value = self.tok.time_shift(to_end), to_end
                r.tokens_at_instant = 0
                if r.first_note_due is None:
                    r.waited_steps += value
            else:
                r.tokens_at_instant += 1
            self._schedule(ctx.play(token))
        if not r.closed and ctx.response_time >= r.end - step_s / 2:
            self._schedule(ctx.end_response())
            self.scheduler.all_notes_off_after(r.end, self.out_channel)
            r.closed = True
        if r.closed and now >= r.end:
            self._finish_response()

    def _schedule(self, events: list[Event]) -> None:
        r = self.response
        scale = self.config.midi.velocity_scale
        for e in events:
            if self.steering is not None:
                e = self.steering.shape(e)
            velocity = e.velocity
            if e.is_note_on:
                velocity = max(1, min(127, round(e.velocity * scale)))
                r.notes += 1
                self.metrics.note_due(e.pitch, e.time)
                if r.first_note_due is None:
                    r.first_note_due = e.time
                    self.last_reaction_s = e.time - r.call_ended
                    log.debug("reaction: first note due %.1f ms after the call ended",
                              self.last_reaction_s * 1000)
            # One new Event per sent message (scaled velocity, the output channel), no copies.
            self.scheduler.push(e.time - self.early_s, Event(e.time, e.kind, e.pitch, velocity,
                                                             self.out_channel), ANSWER)

    def _finish_response(self) -> None:
        r = self.response
        steps = self.context.step_seconds
        log.info("response done (%.1f s, %d notes)", r.end - r.started, r.notes)
        if steps:
            log.debug("engine step %.3f ms mean, %.3f ms worst; sends at worst %.1f ms late",
                      1000 * sum(steps) / len(steps), 1000 * max(steps),
                      1000 * self.scheduler.max_late_s)
            self.metrics.answer_done(sum(steps) / len(steps), max(steps),
                                     self.scheduler.max_late_s)
        self.response = None
        self.steering = None
        self.answers_done += 1
        self.policy.response_done()
        self.analyzer.answered()  # played out: the next note starts a new call

    def panic(self) -> None:
        """Every note off now (the panic control, a DAW's Stop): the answer is dropped, and so
        is the call being listened to: a player who panics in the silence after a phrase wants
        no answer to it."""
        self._abort_response()
        self.policy.drop_call()
        self.analyzer.drop_call()
        self.scheduler.panic()

    def _abort_response(self) -> None:
        """Stop the answer now (error, reload, shutdown): release its notes, tell the model."""
        if self.speculation.pending:  # nothing of it was sent
            self.speculation.abandon()
        if self.response is None:
            return
        self.scheduler.cancel_pending_and_release(ANSWER, self.out_channel)
        try:
            self.context.end_response()
        except Exception:
            log.exception("could not close the answer in the model's context")
        self.response = None
        self.answers_done += 1
        self.policy.response_done()
