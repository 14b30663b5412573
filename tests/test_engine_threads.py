"""The engine's own threads on the real clock: answering, stopping, reloading, failing."""

from __future__ import annotations

import logging
import time

from engine_support import FakeOutput, Rig, play_until_answered, sounding

from improvd.daemon.config import Config
from improvd.daemon.engine import Engine
from improvd.daemon.runner import load_runner


def test_threads_answer_on_the_real_clock_and_stop_releases_everything(model_path):
    out = FakeOutput(time.monotonic)
    config = Config().with_overrides(silence_ms=200, response=8.0, seed=2)
    engine = Engine(config, load_runner(model_path), out)
    engine.start()
    try:
        play_until_answered(engine, out, (60, 64, 67))
    finally:
        engine.stop()
    events = out.events()
    assert not sounding(events)
    assert any(e.kind == "control_change" and e.pitch == 123 for e in events)
    assert not engine._thread


def test_reload_swaps_settings_between_events(model_path):
    rig = Rig(model_path, silence_ms=300)
    new = Config().with_overrides(silence_ms=1200, seed=1)
    rig.engine.reload(new, load_runner(model_path))
    rig.engine.handle(*rig.engine.queue.get_nowait())
    assert rig.engine.config.policy.silence_ms == 1200
    ended = rig.phrase([60, 62])
    rig.advance(ended + 1.19 - rig.now)
    assert rig.out.sent == []
    rig.advance(0.1)
    assert rig.out.sent


def test_a_model_failure_mid_answer_releases_its_notes_and_the_engine_goes_on(model_path, caplog):
    class Failing:
        """Wraps a runner; raises while `broken` is set."""

        def __init__(self, runner):
            self.runner, self.broken = runner, False

        def __getattr__(self, name):
            return getattr(self.runner, name)

        def advance(self, token):
            if self.broken:
                raise RuntimeError("onnxruntime failed")
            return self.runner.advance(token)

    failing = Failing(load_runner(model_path))
    out = FakeOutput(time.monotonic)
    engine = Engine(Config().with_overrides(silence_ms=200, response=8.0, seed=3), failing, out)
    engine.start()
    try:
        for round_ in range(2):
            play_until_answered(engine, out, (60, 64), f"no answer in round {round_}")
            if round_ == 0:
                with caplog.at_level(logging.ERROR):
                    failing.broken = True
                    deadline = time.monotonic() + 5
                    while sounding(out.events()) and time.monotonic() < deadline:
                        time.sleep(0.005)
                    failing.broken = False
                assert not sounding(out.events()), "notes left sounding after the error"
                assert "engine error" in caplog.text
    finally:
        engine.stop()
    assert not sounding(out.events())
