"""What runs beside the engine in `improvd run`: the synth, the session recorder, the status line.

serve() (commands.py) uses it in this order:

    extras = Companions.start_synth(config, backend)   # before the output opens: it connects
    connect = [*midi.connect_output, *extras.connect_output]
    feed = extras.attach(engine, status_stream)        # recorder + status line; the input callback
    ...
    extras.close()                                     # after the output closed: last note-offs in

None of them is on the hot path: the recorder gets each message through a queue, the status
line reads the engine's own attributes from a thread of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .errors import CommandError
from .recorder import RecordError, SessionRecorder
from .status_line import StatusLine
from .synth import Synth, SynthError

log = logging.getLogger(__name__)


class Companions:
    def __init__(self, config, synth: Synth | None = None):
        self.config = config
        self.synth = synth
        self.recorder: SessionRecorder | None = None
        self.status: StatusLine | None = None

    @classmethod
    def start_synth(cls, config, backend: str) -> Companions:
        """With synth.enabled, fluidsynth is started here (CommandError if it cannot be)."""
        synth = None
        if config.synth.enabled:
            try:
                synth = Synth.start(config.synth, config.midi, backend)
            except SynthError as exc:
                raise CommandError(str(exc)) from None
        return cls(config, synth)

    @property
    def connect_output(self) -> list[str]:
        """Ports the daemon's output connects to besides midi.connect_output."""
        return [self.synth.port] if self.synth else []

    def attach(self, engine, status_stream=None) -> Callable:
        """Start the recorder (record.dir) and the status line; returns the input callback."""
        record = self.config.record
        if record.dir:
            try:
                self.recorder = SessionRecorder(record.dir, engine, record.rotate)
            except RecordError as exc:
                raise CommandError(str(exc)) from None
            engine.scheduler.on_sent = self.recorder.sent
        self.status = StatusLine(engine, status_stream)
        if self.recorder is None:
            return engine.feed
        feed, heard = engine.feed, self.recorder.heard

        def feed_and_record(msg, t: float) -> None:  # the MIDI input thread: two queue puts
            feed(msg, t)  # the engine takes a MIDI clock aside (clock_sync.py), never as a step
            heard(msg, t)

        return feed_and_record

    @property
    def wants_clock(self) -> bool:
        """Whether the input should pass MIDI clock on (to the recorder; call after attach)."""
        return self.recorder is not None

    def start(self) -> None:
        if self.status is not None:
            self.status.start()

    def close(self) -> None:
        """Status line off, recording written, synth stopped; each even if another failed."""
        for part, stop in ((self.status, "stop"), (self.recorder, "close"),
                           (self.synth, "stop")):
            if part is None:
                continue
            try:
                getattr(part, stop)()
            except Exception:
                log.exception("could not stop %s", type(part).__name__)
