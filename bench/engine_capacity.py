"""How many input events per second the engine thread itself handles, with no MIDI port around it.

The flood of figure 3 goes through JACK into the daemon process; this measures the other side of
that race in this process: the same Engine, the same model, the same kind of note-on/note-off
stream, queued up front, and the time the engine thread takes to bring each event into the model
state. Run without and with the metrics file the flood figure reads (`improvd run --metrics`), so
the cost of observing is measured too.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)


class _NoOutput:
    def send_event(self, event, channel) -> None:  # the scheduler thread
        pass


def flood_messages(count: int) -> list:
    """Note-on/note-off pairs over 16 channels with changing velocities (as the flood sends)."""
    import mido

    out = []
    for i in range(count // 2):
        pitch, channel = 36 + (i * 7) % 60, i % 16
        out += [mido.Message("note_on", note=pitch, velocity=1 + i % 127, channel=channel),
                mido.Message("note_off", note=pitch, channel=channel)]
    return out


def events_per_second(model_path, count: int, metrics: bool) -> dict:
    """-> {"events_per_s", "model_steps_per_event"} for `count` events queued at once."""
    from improvd.daemon.config import load
    from improvd.daemon.engine import Engine
    from improvd.daemon.metrics import EngineMetrics, MetricsFile
    from improvd.daemon.runner import load_runner

    engine_log = logging.getLogger("improvd.daemon.engine")
    before = engine_log.level, engine_log.propagate
    # Formatted and written to a file as the daemon's log is (its format, a file on disk).
    folder = Path(tempfile.mkdtemp(prefix="improvd-bench-"))
    sink = logging.FileHandler(folder / "engine.log")
    recorder = MetricsFile(folder / "metrics.jsonl") if metrics else EngineMetrics()
    sink.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                        "%H:%M:%S"))
    engine_log.setLevel(logging.INFO)
    engine_log.addHandler(sink)
    engine_log.propagate = False
    try:
        runner = load_runner(model_path, "cpu", threads=1)
        engine = Engine(load(None), runner, _NoOutput(), queue_limit=10 * count,
                        metrics=recorder)
        messages = flood_messages(count)
        stamp = time.monotonic()
        for k, msg in enumerate(messages):
            engine.feed(msg, stamp + k * 1e-4)  # 10,000 events/s of music time
        started = time.perf_counter()
        engine.start()
        while not engine.queue.empty():
            time.sleep(0.005)
        elapsed = time.perf_counter() - started
        engine.stop()
    finally:
        engine_log.setLevel(before[0])
        engine_log.propagate = before[1]
        engine_log.removeHandler(sink)
        sink.close()
        recorder.close()
        shutil.rmtree(folder, ignore_errors=True)
    return {"events_per_s": len(messages) / elapsed,
            "model_steps_per_event": runner.steps / len(messages), "metrics_file": metrics}
