"""The rolling context: everything heard and played, in a bounded history and in the model's state.

Each event is tokenized as it arrives (the tokenizer's streaming encoder) and every token goes
through runner.advance once: one small ONNX step per token, the window is never re-run. Generated
tokens go through the same runner, so the model hears its own answer as part of the music.

The model only has to have heard the music when something reads it (the answer's first token,
an accompaniment), and a step costs ~0.1-0.3 ms. So the engine sets `deferring` when input comes
faster than anyone plays: while more input waits in its queue (a backlog), or when an event
follows the one before it by less than DENSE_INPUT_S (the notes of a chord, a flood). A heard
event's tokens then wait in `_unheard`, the engine takes events in (keys, call analysis, history)
without a step each, and thin() keeps only the newest FLOOD_TAIL_TOKENS for the model. They are
fed once the input has paused DENSE_INPUT_S with nothing queued (the engine's tick), and anything
that reads the model (its logits, a played token) catches up first. Feeding stops between two
tokens as soon as input waits (`input_waits`): input never waits behind more than one step. Under
a 10,000 events/s flood the model hears the flood's end, not all of it; a player's single notes
are fed as they are heard.

Two clocks meet here. Real time is time.monotonic() seconds; model time is what the time-shift
tokens have told the model. An anchor (a real and a model time that meet) and a rate (model
seconds per real second) map one onto the other. The anchor moves in two cases: a long pause is
clamped to max_gap_s of time shifts (minutes of silence must not flood the state), and an answer
is glued on right after the call (the silence that ended the call is a detection delay, not
music). The rate is 1 for absolute time shifts; a beat-relative model (beat_context.py) sets it
from the tracked tempo.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .events import Event

log = logging.getLogger(__name__)

# Under a backlog the model hears at most the newest this many heard tokens: a ten-note chord
# with its velocity and time tokens twice over, enough to know where the music is when a flood
# ends (~5-10 ms of steps to catch up, stopped whenever input waits).
FLOOD_TAIL_TOKENS = 48
# Input closer than this to the event before it is no single note a player placed: a chord's
# other notes (fed a moment later, all at once) or a flood (not fed until it pauses).
DENSE_INPUT_S = 0.005


@dataclass(frozen=True, slots=True)
class HistoryItem:
    source: str  # "heard" (the player) or "played" (the answer)
    event: Event  # times on the real (monotonic) clock


class ModelContext:
    """What every context shares: the runner, the bounded history of heard and played events,
    the tokens fed, the step timings, and the streaming encoder and decoder. Engine thread."""

    time_shifts: bool

    def __init__(self, runner, history: int = 2048):
        self.runner = runner
        self.tok = runner.tokenizer
        self.history: deque[HistoryItem] = deque(maxlen=history)
        self.tokens: deque[int] = deque(maxlen=history)
        self.step_seconds: deque[float] = deque(maxlen=512)  # runner.advance durations
        self._unheard: deque[int] = deque()  # heard tokens not yet fed to the model
        self.deferring = False  # set by the engine while a backlog of input waits
        # Asked between heard tokens fed to the model: True (input waits) stops the feeding, the
        # engine takes that input in first and feeds the rest when the queue is empty (tick).
        self.input_waits: Callable[[], bool] | None = None
        self.tokens_skipped = 0  # heard tokens thin() left out (a flood)
        self._encoder = self.tok.encoder()
        self._decoder = None

    @property
    def responding(self) -> bool:
        return self._decoder is not None

    @property
    def response_time(self) -> float:
        """Real time the answer has been generated up to."""
        return self._decoder.time

    @property
    def logits(self):
        if self._unheard:  # the model must have heard everything before it is asked
            self.catch_up()
        return self.runner.logits

    @property
    def unheard(self) -> int:
        """Heard tokens not yet fed to the model."""
        return len(self._unheard)

    def catch_up(self, interrupt: Callable[[], bool] | None = None) -> int:
        """Feed the heard tokens the model has not had yet; returns how many. interrupt: asked
        between tokens, True stops early (input waits: it is taken in first)."""
        fed = 0
        while self._unheard:
            self._feed(self._unheard.popleft())
            fed += 1
            if interrupt is not None and interrupt():
                break
        return fed

    def thin(self, keep: int = FLOOD_TAIL_TOKENS) -> int:
        """A backlog of input waits: leave only the newest `keep` unheard tokens for the model.
        Returns how many were left out."""
        skipped = max(0, len(self._unheard) - keep)
        for _ in range(skipped):
            self._unheard.popleft()
        self.tokens_skipped += skipped
        return skipped

    @property
    def step_s(self) -> float:
        """Real seconds per time step of the model's tokens."""
        return self.tok.step_s

    def follow_tempo(self, pulse) -> int:
        """The call is over and its pulse known (or None): contexts whose model time is counted in
        beats take it on here. Returns how many tokens that fed (0: nothing to do)."""
        return 0

    def _heard(self, event: Event, ids: list[int]) -> int:
        self._unheard.extend(ids)
        if not self.deferring:
            self.catch_up(self.input_waits)
        if event.kind != "control_change":
            self.history.append(HistoryItem("heard", event))
        return len(ids)

    def _played(self, events: list[Event]) -> list[Event]:
        self.history.extend(HistoryItem("played", e) for e in events)
        return events

    def _advance(self, token: int) -> None:
        """A token of the answer (or of the handover): what was heard before it goes first."""
        if self._unheard:
            self.catch_up()
        self._feed(token)

    def _feed(self, token: int) -> None:
        started = time.perf_counter()
        self.runner.advance(token)
        self.step_seconds.append(time.perf_counter() - started)
        self.tokens.append(token)


class ContextWindow(ModelContext):
    """Feeds heard and played music to the runner and keeps a bounded history of it.

    time_shifts: its tokens carry time (the engine bounds waits and steers time for it).
    Runs on the engine thread only. Needs the performance tokenizer: its streaming encoder and
    decoder are kept in step with the generated tokens here.
    """

    time_shifts = True

    def __init__(self, runner, history: int = 2048, max_gap_s: float = 2.0):
        if not runner.tokenizer.time_shifts:
            raise ValueError(f"ContextWindow plays time-shift tokens; tokenizer "
                             f"{runner.tokenizer.name!r} has none (step_context.py plays it)")
        super().__init__(runner, history)
        self.max_gap_s = max_gap_s
        self._encoder.origin = 0.0  # model time starts at 0; the anchor maps it to real time
        self._anchor: tuple[float, float] | None = None  # (real, model) times that meet
        self.rate = 1.0  # model seconds per real second

    # --- time --------------------------------------------------------------------------------
    @property
    def model_time(self) -> float:
        """Model seconds covered by the time shifts so far."""
        return self._encoder.step * self.tok.step_s

    @property
    def step_s(self) -> float:
        return self.tok.step_s / self.rate

    def set_rate(self, rate: float) -> None:
        """From now on a real second is `rate` model seconds (what was heard keeps its times)."""
        if self._anchor is not None:
            real, model = self._anchor
            self._anchor = (real + (self.model_time - model) / self.rate, self.model_time)
        self.rate = rate

    # --- the player --------------------------------------------------------------------------
    def hear(self, event: Event) -> int:
        """Feed one input event (real time); returns how many tokens it became."""
        if self._anchor is None:
            self._anchor = (event.time, self.model_time)
        real, model = self._anchor
        t = model + (event.time - real) * self.rate
        if t - self.model_time > self.max_gap_s:
            t = self.model_time + self.max_gap_s
            self._anchor = (event.time, t)
        # The encoder reads the model time from the event: a new Event, not a dataclass copy.
        moved = Event(t, event.kind, event.pitch, event.velocity, event.channel)
        return self._heard(event, self._encoder.push(moved))

    # --- the answer --------------------------------------------------------------------------
    def start_response(self, real_time: float) -> None:
        """The answer starts at real_time: the model's "now" is mapped there."""
        self._anchor = (real_time, self.model_time)
        self._decoder = self.tok.decoder(real_time, self.step_s)
        # The model was last told the player's loudness and only sends a velocity token when it
        # changes: the answer starts at that loudness, not at the decoder's default.
        if self._encoder.velocity_bin is not None:
            self._decoder.velocity = self.tok.bin_velocity(self._encoder.velocity_bin)

    @property
    def response_sounding(self) -> set[int]:
        """Pitches of the answer that sound at response_time."""
        return self._decoder.sounding

    def play(self, token: int) -> list[Event]:
        """Feed one generated token; returns the timed events it decodes to (real time)."""
        self._advance(token)
        kind, value = self.tok.describe(token)
        # Keep the input encoder's picture of the music in step with what the model was told.
        enc = self._encoder
        if kind == "time_shift":
            enc.step += value
        elif kind == "velocity":
            enc.velocity_bin = value
        elif kind == "note_on":
            enc.sounding.add(value)
        else:
            enc.sounding.discard(value)
        return self._played(self._decoder.push(token))

    def end_response(self) -> list[Event]:
        """Close the answer: note-offs for its sounding notes, told to the model as well."""
        events: list[Event] = []
        if self._decoder is not None:
            for pitch in sorted(self._decoder.sounding):
                events += self.play(self.tok.note_off(pitch))
        self._decoder = None
        return events
