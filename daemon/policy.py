"""Call and response: when does the player's phrase end, how long is the answer, when to stop.

A pure state machine over (events, times): no threads, no clock of its own, no MIDI. The engine
hands it each input event and asks `poll(now)` when time has passed; it answers with a decision.

  a call ends when every key is up and silence has lasted silence_ms, or earlier when the
              call's pulse made an onset due and none came (end_on_pulse, from the analyzer),
              or at once when the end_call_cc controller is pressed (value >= 64);
  calls shorter than min_call_ms are ignored (a stray touch is not a phrase);
  the answer lasts as long as the call (response="call") or a fixed number of seconds,
              never more than max_response_s;
  barge-in: a note-on during the answer stops it ("stop") or lets it finish ("continue").

A held key must never wedge it: MIDI can lose a note-off (a JACK xrun, a replugged cable) and the
call would then never end. A key held for stuck_key_s counts as released once the call is
otherwise over (one log line), and All Notes Off / All Sound Off (CC123/CC120) from the player
releases every key at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .config import PolicyConfig
from .events import Event

log = logging.getLogger(__name__)

LISTENING = "listening"
RESPONDING = "responding"
ALL_SOUND_OFF, ALL_NOTES_OFF = 120, 123
KEYS_UP_CCS = (ALL_SOUND_OFF, ALL_NOTES_OFF)  # from the player: every key counts as up


@dataclass(frozen=True)
class Respond:
    call_seconds: float
    notes: int
    response_seconds: float
    # When the call counted as over (silence deadline or pedal press): reaction times start here.
    ended_at: float | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Stop:
    """The player came back during the answer: stop it now."""


class CallResponsePolicy:
    def __init__(self, config: PolicyConfig, analyzer=None):
        """analyzer: the engine's CallAnalyzer, asked when the call's pulse says it is over."""
        self.config = config
        self.analyzer = analyzer if config.end_on_pulse else None
        self.state = LISTENING
        self._keys = analyzer  # told when held keys are counted as released
        # (channel, pitch) of the player's keys down -> when each was pressed
        self.held: dict[tuple[int, int], float] = {}
        self._reset_call()

    def _reset_call(self) -> None:
        self.call_start: float | None = None
        self.last_activity: float | None = None
        self.notes = 0

    def on_event(self, e: Event) -> Respond | Stop | None:
        decision = None
        if e.is_note_on and self.state == RESPONDING and self.config.barge_in == "stop":
            self.state = LISTENING
            self._reset_call()
            decision = Stop()
        if e.is_note_on:
            self.held[(e.channel, e.pitch)] = e.time
            if self.call_start is None:
                self.call_start = e.time
            self.notes += 1
            self.last_activity = e.time
        elif e.is_note_off:
            if self.held.pop((e.channel, e.pitch), None) is not None:  # else: noise
                self.last_activity = e.time
        elif e.kind == "control_change" and e.pitch in KEYS_UP_CCS and self.held:
            self._release_held(e.time, f"CC{e.pitch} from the player")
        elif (e.kind == "control_change" and e.pitch == self.config.end_call_cc
              and e.velocity >= 64 and self.state == LISTENING and self.call_start is not None):
            return self._end_call(e.time, e.time)
        return decision

    def resume_call(self, start: float) -> None:
        """The player went on right after what was taken for the end of the call: it is one
        call from `start` (its length sets the answer's)."""
        if self.call_start is not None:
            self.call_start = min(self.call_start, start)

    def next_deadline(self, now: float | None = None) -> float | None:
        """When poll() may next decide something (None: only a new event can change things).
        now: the analyzer may work out the call's pulse now if it has not yet."""
        if self.state == LISTENING and self.call_start is not None and not self.held:
            deadline = self.last_activity + self.config.silence_ms / 1000
            due = self.analyzer.call_end_due(now) if self.analyzer is not None else None
            if due is not None:  # silence_ms stays the upper bound
                deadline = max(self.last_activity, min(deadline, due))
            return deadline
        return None

    def poll(self, now: float) -> Respond | None:
        """Called whenever time has passed (the engine wakes at least once a second)."""
        if self.held and self.state == LISTENING and now >= self._stale_at():
            self._release_held(self.last_activity, f"held over {self.config.stuck_key_s:g} s")
        deadline = self.next_deadline(now)
        if deadline is not None and now >= deadline:
            return self._end_call(self.last_activity, deadline)
        return None

    def _stale_at(self) -> float:
        """When every held key has been down stuck_key_s, and the call is otherwise over."""
        silent_from = (self.last_activity or 0.0) + self.config.silence_ms / 1000
        return max(max(self.held.values()) + self.config.stuck_key_s, silent_from)

    def _release_held(self, t: float, why: str) -> None:
        shown = sorted(self.held)[:8]
        keys = ", ".join(f"{pitch}/ch{channel + 1}" for channel, pitch in shown)
        more = f" and {len(self.held) - len(shown)} more" if len(self.held) > len(shown) else ""
        log.warning("%d held keys counted as released (%s%s): %s; a lost note-off?",
                    len(self.held), keys, more, why)
        self.held.clear()
        if self._keys is not None:
            self._keys.release_all(t)

    def response_done(self) -> None:
        self.state = LISTENING

    def drop_call(self) -> None:
        """The call listened to is not to be answered (a panic): the next note-on starts a new
        one. Keys still down stay held."""
        self._reset_call()

    def _end_call(self, end: float, ended_at: float) -> Respond | None:
        seconds, notes = max(0.0, end - self.call_start), self.notes
        self._reset_call()
        if seconds * 1000 < self.config.min_call_ms:
            log.info("call too short (%.0f ms, %d notes) - ignored", seconds * 1000, notes)
            return None
        length = seconds if self.config.response == "call" else float(self.config.response)
        self.state = RESPONDING
        return Respond(seconds, notes, min(length, self.config.max_response_s), ended_at)
