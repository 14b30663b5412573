"""`improvd evaluate-answers` on two hand-written calls with a tiny model and two baselines; the
hand-written calls themselves; cutting a piece's opening into a call."""

from __future__ import annotations

import dataclasses
import importlib.util
import json

import pytest
from model_fixtures import make_random_recurrent_model

from improvd.daemon.__main__ import main
from improvd.daemon.config import Config
from improvd.daemon.events import Event, Note, events_to_notes, notes_to_events
from improvd.training.answer_calls import HAND_CALLS, hand_calls, opening
from improvd.training.evaluate_answers import steering_off


def test_the_hand_written_calls_are_what_their_script_writes(tmp_path):
    spec = importlib.util.spec_from_file_location("make_calls", HAND_CALLS / "make_calls.py")
    make_calls = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_calls)
    written = make_calls.build(tmp_path)
    assert len(written) == len(make_calls.CALLS) == 10
    for path in written:
        assert path.read_bytes() == (HAND_CALLS / path.name).read_bytes(), path.name
    calls = {c.name: c for c in hand_calls()}
    # block_triads: four three-note chords, 90 bpm, each 1.9 beats long.
    triads = calls["block_triads"].notes
    assert len(triads) == 12 and len({n.start for n in triads}) == 4
    assert triads[0].start == 0.0 and triads[0].end == pytest.approx(1.9 * 60 / 90)


def test_an_opening_ends_where_the_next_note_would_start():
    notes = [Note(60 + i, 80, 10.0 + 0.5 * i, 10.0 + 0.5 * i + 0.7) for i in range(20)]
    call = events_to_notes(opening(notes_to_events(notes), seconds=2.2))
    # Onsets at 0, 0.5, ... 2.0 are kept; 2.5 is the first at or after 2.2: the cut.
    assert [n.pitch for n in call] == [60, 61, 62, 63, 64]
    assert call[0].start == 0.0 and call[-1].end == pytest.approx(2.5)
    assert all(n.end <= 2.5 + 1e-9 for n in call)
    assert opening([Event(0.0, "control_change", 64, 127)], 2.0) == ()


def test_steering_off_zeroes_every_strength():
    off = steering_off(Config()).steering
    assert off != Config().steering
    assert all(getattr(off, f.name) == 0.0 for f in dataclasses.fields(off))


def test_evaluate_answers_writes_json_table_and_piano_rolls(tmp_path, capsys):
    model = make_random_recurrent_model(tmp_path / "tiny.onnx")
    out = tmp_path / "answers"
    assert main(["evaluate-answers", "--model", str(model), "--baselines", "random,echo",
                 "--seeds", "2", "--calls", "2", "--styles", "hand", "--out", str(out)]) == 0
    result = json.loads((out / "answers.json").read_text())
    assert [c["name"] for c in result["calls"]] == ["accented_phrase", "block_triads"]
    rows = result["results"]
    assert len(rows) == 2 * 3 * 2  # calls x systems x seeds
    assert {r["system"] for r in rows} == {"model", "random", "echo"}
    assert all(r["left_sounding"] == 0 and r["answer_notes"] > 0 for r in rows)
    echo = [r for r in rows if r["system"] == "echo" and r["call"] == "accented_phrase"]
    model_rows = [r for r in rows if r["system"] == "model"]
    # The echo replays the call: its pitch 4-grams are the call's, its register the same.
    assert all(r["copy_rate"] >= 0.8 and r["pitch_distance"] <= 1 for r in echo)
    assert any(r["copy_rate"] is None or r["copy_rate"] < 0.5 for r in model_rows)
    table = (out / "summary.md").read_text()
    assert all(f"| {s} |" in table for s in ("model", "random", "echo", "target"))
    assert "![block_triads](rolls/block_triads.png)" in table
    for name in ("accented_phrase", "block_triads"):
        assert (out / "rolls" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in capsys.readouterr().out


def test_evaluate_answers_refuses_an_unknown_baseline_or_an_empty_calls_folder(tmp_path, capsys):
    model = make_random_recurrent_model(tmp_path / "tiny.onnx")
    assert main(["evaluate-answers", "--model", str(model), "--baselines", "parrot",
                 "--styles", "hand", "--calls", "1", "--out", str(tmp_path / "x")]) == 2
    assert "parrot" in capsys.readouterr().err
    empty = tmp_path / "no_calls"
    empty.mkdir()
    assert main(["evaluate-answers", "--model", str(model), "--baselines", "", "--styles",
                 "hand", "--hand-calls", str(empty), "--out", str(tmp_path / "y")]) == 2
    assert "no_calls" in capsys.readouterr().err
