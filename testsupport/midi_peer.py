"""A MIDI peer on JACK that plays phrases with real timing and records what it hears."""

from __future__ import annotations

import logging
import threading
import time

import mido
import rtmidi

from improvd.daemon.events import Event, Note, events_to_notes
from improvd.daemon.jackd import unique

log = logging.getLogger(__name__)


class MidiPeer:
    """A keyboard and a listener on JACK: plays phrases with real timing, records what it hears.

    Ports: `<name>:keys` (we play into it) and `<name>-ears:in` (the daemon's answers land here).
    python-rtmidi for the ports (the output can send raw, malformed bytes), mido for messages. The
    input is read from rtmidi's queue by a thread, not by an rtmidi callback: a callback runs in
    JACK's realtime cycle and waits there for the GIL, and an overrun cycle garbles what it reads.
    """

    def __init__(self, name: str | None = None, hear_clock: bool = False):
        """hear_clock: also record MIDI clock ticks (a DAW's clock), and stamp what arrives with
        JACK's cycle times (rtmidi's deltas) rather than with when this process's reader thread
        got to it: a timing check must not measure its own thread's wake-ups."""
        self.name = name or unique("peer")
        self._cycle_stamps = hear_clock
        self._jack_s = 0.0  # rtmidi's deltas summed: JACK time since the first message
        self._anchor = float("inf")  # monotonic - JACK time, the least seen (no reader delay)
        self._rt = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=self.name)
        self._rt.open_virtual_port("keys")
        self.out_name = f"{self.name}:keys"
        self.received: list[tuple[float, mido.Message]] = []
        self.sent: list[float] = []  # when each message left, by this process's clock
        self._lock = threading.Lock()
        self._in = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name=f"{self.name}-ears",
                                 queue_size_limit=16384)
        self._in.ignore_types(sysex=False, timing=not hear_clock, active_sense=True)
        self._in.open_virtual_port("in")
        self.in_name = f"{self.name}-ears:in"
        self._closing = threading.Event()
        self._reader = threading.Thread(target=self._listen, daemon=True)
        self._reader.start()

    def _listen(self) -> None:  # the reader thread
        parser = mido.Parser()
        while not self._closing.is_set():
            item = self._in.get_message()
            if item is None:
                self._closing.wait(0.0005)
                continue
            parser.feed(item[0])
            now = time.monotonic()
            with self._lock:
                if self._cycle_stamps:  # kept as JACK time; messages() adds the anchor
                    self._jack_s += item[1]
                    self._anchor = min(self._anchor, now - self._jack_s)
                    now = self._jack_s
                self.received.extend((now, msg) for msg in parser)

    def send(self, msg: mido.Message) -> None:
        self.send_raw(msg.bytes())

    def send_raw(self, data: list[int]) -> None:
        self._rt.send_message(data)
        self.sent.append(time.monotonic())

    def last_sent_before(self, t: float) -> float:
        return max((s for s in self.sent if s < t), default=float("-inf"))

    def play(self, pitches, note_s: float = 0.12, gap_s: float = 0.03, velocity: int = 90,
             channel: int = 0) -> float:
        """Play a monophonic phrase in real time; returns the time of the last note-off."""
        for pitch in pitches:
            self.send(mido.Message("note_on", note=pitch, velocity=velocity, channel=channel))
            time.sleep(note_s)
            self.send(mido.Message("note_off", note=pitch, velocity=0, channel=channel))
            ended = time.monotonic()
            time.sleep(gap_s)
        return ended

    def play_notes(self, notes, channel: int = 0) -> list[Note]:
        """Play Notes (times in seconds from now) at their times, sleeping to each absolute
        deadline so that timing errors do not add up; returns the notes as they really left
        this process (monotonic clock)."""
        events = sorted([(n.start, 1, n.pitch, n.velocity) for n in notes]
                        + [(n.end, 0, n.pitch, 0) for n in notes])
        origin = time.monotonic() + 0.05
        played: list[Event] = []
        for t, is_on, pitch, velocity in events:
            delay = origin + t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            kind = "note_on" if is_on else "note_off"
            self.send(mido.Message(kind, note=pitch, velocity=velocity, channel=channel))
            played.append(Event(self.sent[-1], kind, pitch, velocity, channel))
        return events_to_notes(played)

    def messages(self, since: float = 0.0, until: float = float("inf")):
        with self._lock:
            anchor = self._anchor if self._cycle_stamps else 0.0
            return [(t + anchor, m) for t, m in self.received if since <= t + anchor < until]

    def note_ons(self, since: float = 0.0, until: float = float("inf")):
        return [(t, m) for t, m in self.messages(since, until)
                if m.type == "note_on" and m.velocity > 0]

    def wait_for(self, predicate, timeout: float, poll_s: float = 0.01) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(poll_s)
        return predicate()

    def wait_quiet(self, quiet_s: float, timeout: float, since: float = 0.0,
                   all_off_ends_notes: bool = False) -> bool:
        """Wait until no note sounds and nothing arrived for quiet_s seconds (an answer may hold
        a note longer than quiet_s: that is not its end). all_off_ends_notes: the daemon's All
        Notes Off ends notes too, as a synth hears it (a benchmark that only waits for the end)."""
        def quiet():
            msgs = self.messages(since)
            return not msgs or (time.monotonic() - msgs[-1][0] >= quiet_s
                                and not sounding(msgs, all_off_ends_notes))
        return self.wait_for(quiet, timeout)

    def close(self) -> None:
        self._closing.set()
        self._reader.join()
        self._in.close_port()
        self._in.delete()
        self._rt.close_port()
        self._rt.delete()


def sounding(messages, all_off_ends_notes: bool = False) -> dict[tuple[int, int], int]:
    """(channel, pitch) -> note-ons not yet matched by a note-off, from explicit note messages.
    all_off_ends_notes: All Notes Off (CC123) and All Sound Off (CC120) end every note of their
    channel too, as they do on a synth (left_sounding)."""
    open_notes: dict[tuple[int, int], int] = {}
    for _, m in messages:
        if all_off_ends_notes and m.type == "control_change" and m.control in (120, 123):
            for key in [k for k in open_notes if k[0] == m.channel]:
                del open_notes[key]
        if m.type not in ("note_on", "note_off"):
            continue
        key = (m.channel, m.note)
        if m.type == "note_on" and m.velocity > 0:
            open_notes[key] = open_notes.get(key, 0) + 1
        elif open_notes.get(key):
            open_notes[key] -= 1
    return {k: n for k, n in open_notes.items() if n}


def left_sounding(messages) -> dict[tuple[int, int], int]:
    """What a synth listening to `messages` is left playing: sounding() with All Notes Off and
    All Sound Off honoured."""
    return sounding(messages, all_off_ends_notes=True)
