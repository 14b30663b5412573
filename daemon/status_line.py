"""What the daemon is doing, for the musician in front of it.

On a terminal: one line, redrawn a few times a second in place,

    ● answering  |  call: 120 bpm, C major  |  reaction 14 ms  |  answers 3  |  dropped 12

On anything else (systemd's journal, a file): one plain log line per answer with the same figures,
and nothing in between.

It reads what the engine keeps anyway (engine.response, last_analysis, last_reaction_s, answers,
dropped) from a thread of its own: the engine does no extra work for it. Log records on the same
terminal first clear the status line (a logging filter), so a log line never runs into it; the
next redraw puts the status line back under it.
"""

from __future__ import annotations

import logging
import sys
import threading

log = logging.getLogger(__name__)

REDRAW_S = 0.25
CLEAR = "\r\x1b[K"


def describe(engine) -> str:
    """The status as one line of text (no terminal codes)."""
    state = "answering" if engine.response is not None else "listening"
    parts = [state]
    analysis = engine.last_analysis
    if analysis is not None:
        tempo = f"{analysis.pulse.bpm:.0f} bpm" if analysis.pulse else "no steady pulse"
        key = analysis.key.name if analysis.key else "no clear key"
        parts.append(f"call: {tempo}, {key}")
    if engine.last_reaction_s is not None:
        parts.append(f"reaction {engine.last_reaction_s * 1000:.0f} ms")
    parts.append(f"answers {engine.answers}")
    if engine.dropped:
        parts.append(f"dropped {engine.dropped}")
    return "  |  ".join(parts)


class StatusLine:
    """status = StatusLine(engine); status.start(); ...; status.stop()"""

    def __init__(self, engine, stream=None, redraw_s: float = REDRAW_S):
        self.engine = engine
        self.stream = stream or sys.stderr
        self.redraw_s = redraw_s
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # the stream: the status thread vs. log records
        self._shown = ""
        self._thread: threading.Thread | None = None
        self._logged_answers = engine.answers_done
        self._filter = _ClearBeforeRecord(self)

    def start(self) -> None:
        if self.tty:
            for handler in logging.getLogger().handlers:
                handler.addFilter(self._filter)
        self._thread = threading.Thread(target=self._loop, name="improvd-status", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.tty:
            for handler in logging.getLogger().handlers:
                handler.removeFilter(self._filter)
            self.clear()

    def _loop(self) -> None:
        while not self._stopping.wait(self.redraw_s):
            try:
                self.update()
            except Exception:  # the status line must never take the daemon down
                log.exception("status line failed")
                return

    def update(self) -> None:
        if self.tty:
            self._draw(describe(self.engine))
        elif self.engine.answers_done != self._logged_answers:
            self._logged_answers = self.engine.answers_done
            log.info("status: %s", describe(self.engine))

    def _draw(self, text: str) -> None:
        with self._lock:
            if text != self._shown:
                self.stream.write(CLEAR + "\u25cf " + text)
                self.stream.flush()
                self._shown = text

    def clear(self) -> None:
        with self._lock:
            if self._shown:
                self.stream.write(CLEAR)
                self.stream.flush()
                self._shown = ""


class _ClearBeforeRecord(logging.Filter):
    """Clears the status line before a log record is written to the terminal."""

    def __init__(self, status: StatusLine):
        super().__init__()
        self.status = status

    def filter(self, record: logging.LogRecord) -> bool:
        self.status.clear()
        return True
