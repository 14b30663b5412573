"""`improvd run --record DIR`: every call and every answer of a session in a Standard MIDI File.

Threads: the MIDI input thread (heard) and the scheduler thread (sent) only put what they have on
a queue and return. The "improvd-recorder" thread converts it, keeps the session's events and
rewrites the file, atomically (midi_events.write_midi_file), after each answer and at the end.
A SIGTERM ends `improvd run` through serve()'s cleanup, which closes the recorder: the file is
complete. Even a SIGKILL leaves it as it was after the last answer, never half written.

Files: DIR/improvd-YYYYmmdd-HHMMSS.mid with two tracks, "call" (what the player played, stamped
as it arrived) and "answer" (what improvd sent, stamped when it was sent), in seconds from the
file's first event. The tempo is the MIDI clock's when the player's side sends one (a DAW, a
drum machine), else the first steady pulse found in a call (analysis.py), so a DAW's beats line
up with the player's; with neither the file says 120 bpm. Real time is kept whatever the
tempo: 960 ticks per beat are finer than 2 ms down to 32 bpm. With rotate = "hour", the first
event after an answer that ended in a new hour (of the wall clock) starts a new file.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from .events import Event
from .midi_events import to_event, write_midi_file
from .scheduler import AHEAD, ANSWER

log = logging.getLogger(__name__)

TICKS_PER_BEAT = 960
DEFAULT_BPM = 120.0
POLL_S = 0.1  # how soon after an answer ends its file is written
CLOCKS_PER_BEAT = 24  # MIDI clock
CLOCK_WINDOW = 4 * CLOCKS_PER_BEAT  # the tempo of the clock's last four beats
_STOP = object()


class RecordError(RuntimeError):
    """The recording folder cannot be used; the message names it."""


@dataclass
class _File:
    path: Path
    origin: float  # the monotonic time of its first event: time 0 in the file
    started_wall: float
    tracks: dict[str, list[Event]] = field(default_factory=lambda: {"call": [], "answer": []})
    bpm: float | None = None


class SessionRecorder:
    """engine: what the daemon's Engine offers other threads (answers_done, last_analysis)."""

    def __init__(self, folder: str | Path, engine, rotate: str = "session", *,
                 wall=time.time, poll_s: float = POLL_S):
        self.folder = Path(folder).expanduser()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecordError(f"record.dir {self.folder}: cannot create it ({exc.strerror})") \
                from None
        if not self.folder.is_dir():
            raise RecordError(f"record.dir {self.folder}: not a folder")
        if rotate not in ("session", "hour"):
            raise RecordError(f"record.rotate must be \"session\" or \"hour\", not {rotate!r}")
        self.rotate = rotate
        self.files: list[Path] = []  # every file written so far, oldest first
        self._engine = engine
        self._wall = wall
        self._poll_s = poll_s
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._file: _File | None = None
        self._sounding: dict[str, set[tuple[int, int]]] = {"call": set(), "answer": set()}
        self._saved_answers = engine.answers_done
        self._clock: deque[float] = deque(maxlen=CLOCK_WINDOW + 1)  # arrival times of MIDI clock
        self._thread = threading.Thread(target=self._loop, name="improvd-recorder", daemon=True)
        self._thread.start()

    # --- the MIDI input thread and the scheduler thread ---------------------------------------
    def heard(self, msg, t: float) -> None:
        """A message from the player (mido), stamped on arrival; MIDI clock gives the tempo."""
        self._queue.put(("call", msg, t))

    def sent(self, t: float, event: Event, source: str) -> None:
        """Scheduler.on_sent: an event left the output at t. The player's own notes forwarded
        by midi.thru are already in the call track. A note of an answer computed ahead (AHEAD)
        that went out before the engine kept it was heard all the same: it is the answer's."""
        if source in (ANSWER, AHEAD):
            self._queue.put(("answer", event, t))

    # --- the owner's thread -------------------------------------------------------------------
    def close(self) -> list[Path]:
        """Write what is left and stop; returns the files of the session."""
        self._queue.put(_STOP)
        self._thread.join()
        return self.files

    # --- the recorder thread ------------------------------------------------------------------
    def _loop(self) -> None:
        stopping = False
        while not stopping:
            for item in self._take():
                if item is _STOP:
                    stopping = True
                    continue
                try:
                    self._add(*item)
                except Exception:
                    log.exception("recording: could not keep %s", item)
            # Everything queued so far is in: an answer's last note-off is too, if it was sent.
            if not stopping and self._engine.answers_done != self._saved_answers \
                    and not self._sounding["answer"]:
                self._saved_answers = self._engine.answers_done
                self._write("the answer's")
                self._maybe_rotate()
        self._write("the last")
        if self.files:
            log.info("session recorded in %s", ", ".join(str(p) for p in self.files))

    def _take(self) -> list:
        """What is queued: waits up to poll_s for the first item, then takes every other."""
        try:
            items = [self._queue.get(timeout=self._poll_s)]
        except queue.Empty:
            return []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return items

    def _write(self, what: str) -> None:
        try:
            self._save()
        except OSError:  # a full disk must not stop the daemon
            log.exception("could not save %s recording", what)

    def _add(self, track: str, item, t: float) -> None:
        if getattr(item, "type", None) == "clock":
            self._clock.append(t)
            return
        event = item if isinstance(item, Event) else to_event(item, t)
        if event is None:  # what the daemon ignores (pitch bend, program change...)
            return
        if self._file is None:
            self._file = self._new_file(t)
        key = (event.channel, event.pitch)
        if event.is_note_on:
            self._sounding[track].add(key)
        elif event.is_note_off:
            self._sounding[track].discard(key)
        f = self._file
        f.tracks[track].append(Event(t - f.origin, event.kind, event.pitch, event.velocity,
                                     event.channel))

    def _new_file(self, t: float) -> _File:
        wall = self._wall()
        stem = "improvd-" + time.strftime("%Y%m%d-%H%M%S", time.localtime(wall))
        path, n = self.folder / f"{stem}.mid", 1
        while path.exists() or path in self.files:
            n += 1
            path = self.folder / f"{stem}-{n}.mid"
        log.info("recording the session to %s", path)
        return _File(path, t, wall)

    def _save(self) -> None:
        f = self._file
        if f is None or not any(f.tracks.values()):
            return
        if f.bpm is None:
            analysis = self._engine.last_analysis
            f.bpm = self._clock_bpm() or (float(analysis.pulse.bpm) if analysis is not None
                                          and analysis.pulse is not None else None)
        write_midi_file((), f.path, ticks_per_beat=TICKS_PER_BEAT, bpm=f.bpm or DEFAULT_BPM,
                        tracks=f.tracks)
        if f.path not in self.files:
            self.files.append(f.path)
        log.debug("recording saved: %s (%d call, %d answer events)", f.path,
                  len(f.tracks["call"]), len(f.tracks["answer"]))

    def _clock_bpm(self) -> float | None:
        """The MIDI clock's tempo, once a beat of it has arrived: the median tick, which a late
        message or two does not move."""
        if len(self._clock) <= CLOCKS_PER_BEAT:
            return None
        ticks = sorted(b - a for a, b in zip(self._clock, list(self._clock)[1:]))
        tick = ticks[len(ticks) // 2]
        return 60.0 / (CLOCKS_PER_BEAT * tick) if tick > 0 else None

    def _maybe_rotate(self) -> None:
        f = self._file
        if self.rotate == "hour" and f is not None \
                and _hour(self._wall()) != _hour(f.started_wall):
            self._file = None  # the next event opens the next hour's file


def _hour(wall: float) -> tuple[int, ...]:
    return tuple(time.localtime(wall)[:4])  # year, month, day, hour
