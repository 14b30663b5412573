"""The engine's metrics hook: what `improvd run --metrics FILE` records, read back as benchmarks
read it."""

from __future__ import annotations

import json

import pytest
from model_fixtures import make_random_recurrent_model

from improvd.daemon.config import Config
from improvd.daemon.engine import Engine
from improvd.daemon.events import Event
from improvd.daemon.metrics import EngineMetrics, MetricsFile, read_metrics
from improvd.daemon.runner import load_runner


class _Silent:
    def send_event(self, event, channel) -> None:  # the scheduler (run_due on the test's thread)
        pass


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    return load_runner(make_random_recurrent_model(tmp_path_factory.mktemp("m") / "r.onnx"))


def _call_and_answer(engine: Engine, clock: list[float]) -> None:
    """Three notes, then silence until the answer is over, on a fake clock."""
    for pitch in (60, 64, 67):
        for kind, velocity in (("note_on", 90), ("note_off", 0)):
            engine.handle(Event(clock[0], kind, pitch, velocity), clock[0])
            clock[0] += 0.1
    for _ in range(600):  # 3 s in 5 ms ticks: silence_ms, then an answer as long as the call
        clock[0] += 0.005
        engine.tick(clock[0])
        engine.scheduler.run_due(clock[0])


def test_the_engine_reports_each_measurement_point_to_its_metrics_file(runner, tmp_path):
    clock = [50.0]
    path = tmp_path / "metrics.jsonl"
    metrics = MetricsFile(path)
    engine = Engine(Config().with_overrides(**{"sampling.seed": 1}), runner, _Silent(),
                    clock=lambda: clock[0], metrics=metrics)
    _call_and_answer(engine, clock)
    metrics.close()
    got = read_metrics(path)
    assert [stamp for stamp, _, _ in got.heard] == pytest.approx([50.0 + 0.1 * i for i in range(6)])
    assert all(in_state >= stamp and queued == 0 for stamp, in_state, queued in got.heard)
    assert len(got.calls) == 1 and got.calls[0] >= 50.5 + 0.5  # after silence_ms of silence
    assert got.dues[0] and all(due >= got.calls[0] for _, due in got.dues[0])
    (step_mean, step_worst, late), = got.answers
    assert 0 < step_mean <= step_worst and late >= 0


def test_a_line_cut_short_by_a_running_writer_is_skipped(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps({"call_over": 1.5}) + "\n" + '{"note_due": [60, 1.')
    got = read_metrics(path)
    assert got.calls == [1.5] and got.dues == [[]]


def test_the_default_records_nothing_and_costs_no_file(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    clock = [0.0]
    engine = Engine(Config(), runner, _Silent(), clock=lambda: clock[0])
    assert type(engine.metrics) is EngineMetrics
    _call_and_answer(engine, clock)
    assert list(tmp_path.iterdir()) == []
