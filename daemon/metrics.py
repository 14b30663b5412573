"""The engine's measurement points, as an explicit hook instead of log lines to parse.

The engine is given an EngineMetrics and calls it at each point below, on the engine thread, with
times on the engine's (monotonic) clock. The default does nothing. `improvd run --metrics FILE`
gives it a MetricsFile, which appends one JSON line per call; benchmarks read the file back with
read_metrics. JSON lines, one object each:
  {"heard": [stamp, in_state, queued]}   an input event stamped by the MIDI reader is taken in
                                         by the engine at in_state (keys, call analysis, history;
                                         its tokens in the model's state unless `queued` > 0:
                                         then a backlog waits and the model hears only its
                                         newest tokens, context.py); `queued` are still waiting
  {"call_over": t}                       the policy declared the call over at t
  {"note_due": [pitch, t]}               an answer note-on is scheduled for t
  {"answer_done": [step_mean_s, step_worst_s, worst_late_s]}   per answer: model step times and
                                         the scheduler's worst lateness sending it
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


class EngineMetrics:
    """Does nothing: the engine's default observer. Subclasses override what they record."""

    def heard(self, stamp: float, in_state: float, queued: int) -> None:
        pass

    def call_over(self, t: float) -> None:
        pass

    def note_due(self, pitch: int, due: float) -> None:
        pass

    def answer_done(self, step_mean_s: float, step_worst_s: float, worst_late_s: float) -> None:
        pass

    def close(self) -> None:
        pass


class MetricsFile(EngineMetrics):
    """Appends each measurement to a JSON-lines file. Called on the engine thread; close() on the
    main thread after the engine has stopped."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self._lock = threading.Lock()

    def _write(self, record: dict, flush: bool = False) -> None:
        self._write_line(json.dumps(record, separators=(",", ":")), flush)

    def _write_line(self, line: str, flush: bool = False) -> None:
        with self._lock:
            if self._file.closed:
                return
            self._file.write(line + "\n")
            if flush:  # rare records: a reader polling the file sees each call end promptly
                self._file.flush()

    def heard(self, stamp: float, in_state: float, queued: int) -> None:
        # One per input event, thousands a second in a flood: formatted by hand (a float's repr
        # is valid JSON for the finite times here) at a third of json.dumps' cost.
        self._write_line(f'{{"heard":[{stamp!r},{in_state!r},{queued:d}]}}')

    def call_over(self, t: float) -> None:
        self._write({"call_over": t}, flush=True)

    def note_due(self, pitch: int, due: float) -> None:
        self._write({"note_due": [pitch, due]})

    def answer_done(self, step_mean_s: float, step_worst_s: float, worst_late_s: float) -> None:
        self._write({"answer_done": [step_mean_s, step_worst_s, worst_late_s]}, flush=True)

    def close(self) -> None:
        with self._lock:
            self._file.close()


@dataclass
class Metrics:
    """A metrics file read back, in file order."""

    heard: list[tuple[float, float, int]] = field(default_factory=list)  # stamp, in state, queue
    calls: list[float] = field(default_factory=list)  # call-over instants
    dues: list[list[tuple[int, float]]] = field(default_factory=list)  # per call: (pitch, due)
    answers: list[tuple[float, float, float]] = field(default_factory=list)  # answer_done values


def read_metrics(path: str | Path) -> Metrics:
    """A MetricsFile -> its records; a last line cut short by a running writer is skipped."""
    m = Metrics()
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "heard" in record:
                stamp, in_state, queued = record["heard"]
                m.heard.append((stamp, in_state, int(queued)))
            elif "call_over" in record:
                m.calls.append(record["call_over"])
                m.dues.append([])
            elif "note_due" in record and m.dues:
                pitch, due = record["note_due"]
                m.dues[-1].append((int(pitch), due))
            elif "answer_done" in record:
                m.answers.append(tuple(record["answer_done"]))
    return m
