"""note-chord-wavenet (seed 003) through the real parts."""

import json

import pytest
from note_chord_support import answer_live, train_export_generate

from improvd.daemon.__main__ import main
from improvd.daemon.runner import load_runner
from improvd.training.note_chord_data import NoteChordDataError, load_note_chord_pieces

NAME = "note-chord-wavenet"


@pytest.mark.slow
def test_tiny_wavenet_trains_exports_generates_and_answers_live(tmp_path, midi_writer):
    made = train_export_generate(NAME, tmp_path, midi_writer)
    run = json.loads((made["run"] / "run.json").read_text())
    # The frequent-token filter: every token kept occurs min_count times in the training pieces.
    assert run["config"]["min_count"] == 2
    assert run["data"]["vocab_size"] < run["data"]["distinct_tokens"]
    runner = load_runner(made["onnx"])
    assert runner.info.kind == "window" and runner.info.context_length == 32
    assert "Conv1D(" in made["card_text"] and "GlobalMaxPooling1D" in made["card_text"]
    assert runner.tokenizer.seconds_per_token == 0.5  # one token per quarter at 120 bpm
    assert made["report"]["prompt_tokens"] == 5  # the spread chord is one token
    _, answer, runner = answer_live(made["onnx"], n=40)
    assert len(runner.window) == 32  # the context is capped at the model's window
    assert sum(e.is_note_on for e in answer) >= 40


def test_a_midi_folder_without_notes_is_a_clear_error(tmp_path, midi_writer, capsys):
    folder = tmp_path / "silent"
    midi_writer(folder / "a.mid", [])
    midi_writer(folder / "b.mid", [])
    with pytest.raises(NoteChordDataError, match="no notes or chords in 2 file"):
        load_note_chord_pieces(str(folder), workers=1)
    out = tmp_path / "run"
    assert main(["train", "--recipe", NAME, "--size", "tiny", "--source", str(folder),
                 "--out", str(out)]) == 2
    assert "silent: no notes or chords" in capsys.readouterr().err and not out.exists()


def test_malformed_midi_and_empty_folders_are_named(tmp_path):
    bad = tmp_path / "bad" / "broken.mid"
    bad.parent.mkdir()
    bad.write_bytes(b"MThd\x00\x00garbage")
    with pytest.raises(NoteChordDataError, match="broken.mid: music21 cannot read it"):
        load_note_chord_pieces(str(bad.parent), workers=1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(NoteChordDataError, match="empty holds no music files"):
        load_note_chord_pieces(str(tmp_path / "empty"))
