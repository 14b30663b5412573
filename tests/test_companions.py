"""What `improvd run` starts beside the engine, wired as serve() wires it (no ports here)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import mido

from improvd.daemon.commands import _reload
from improvd.daemon.companions import Companions
from improvd.daemon.config import Config
from improvd.daemon.events import Event
from improvd.daemon.midi_events import read_midi_tracks
from improvd.daemon.scheduler import ANSWER


def fake_engine():
    fed = []
    return SimpleNamespace(feed=lambda msg, t: fed.append((msg, t)), fed=fed,
                           scheduler=SimpleNamespace(on_sent=None), answers_done=0, answers=0,
                           last_analysis=None, response=None, last_reaction_s=None, dropped=0)


def test_without_record_dir_the_engine_gets_the_input_callback_itself():
    engine = fake_engine()
    extras = Companions(Config())
    assert extras.attach(engine) == engine.feed
    assert engine.scheduler.on_sent is None and extras.connect_output == []
    extras.close()


def test_with_record_dir_the_input_and_the_answer_reach_the_engine_and_the_file(tmp_path):
    config = Config().with_overrides(**{"record.dir": str(tmp_path / "rec")})
    engine = fake_engine()
    extras = Companions(config)
    feed = extras.attach(engine)
    msg = mido.Message("note_on", note=60, velocity=90)
    feed(msg, 5.0)
    feed(mido.Message("note_off", note=60), 5.5)
    engine.scheduler.on_sent(6.0, Event(6.0, "note_on", 64, 80), ANSWER)
    engine.scheduler.on_sent(6.25, Event(6.25, "note_off", 64, 0), ANSWER)
    assert engine.fed[0] == (msg, 5.0) and len(engine.fed) == 2
    extras.close()
    (path,) = (tmp_path / "rec").glob("*.mid")
    tracks = read_midi_tracks(path)
    assert [(e.pitch, round(e.time, 3)) for e in tracks["call"]] == [(60, 0.0), (60, 0.5)]
    assert [(e.pitch, round(e.time, 3)) for e in tracks["answer"]] == [(64, 1.0), (64, 1.25)]


def test_a_reload_says_that_synth_and_record_settings_wait_for_the_next_start(tmp_path, caplog,
                                                                              monkeypatch):
    from improvd.daemon import commands
    from improvd.daemon.__main__ import build_parser

    path = tmp_path / "config.toml"
    path.write_text('[record]\ndir = "sessions"\n[synth]\nenabled = true\n')
    monkeypatch.setattr(commands, "load_model", lambda config: object())
    engine = SimpleNamespace(reload=lambda config, runner: None)
    args = build_parser().parse_args(["run", "--config", str(path)])
    with caplog.at_level(logging.WARNING):
        new = _reload(args, Config(), engine)
    assert new.record.dir == "sessions" and new.synth.enabled
    assert "[synth] changed: it applies at the next start" in caplog.text
    assert "[record] changed: it applies at the next start" in caplog.text
