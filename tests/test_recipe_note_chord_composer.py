"""note-chord-composer (seed 004) through the real parts."""

import json

import pytest
from note_chord_support import answer_live, midi_notes, train_export_generate

from improvd.daemon.__main__ import main
from improvd.daemon.runner import load_runner

NAME = "note-chord-composer"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    from conftest import write_midi

    return train_export_generate(NAME, tmp_path_factory.mktemp("composer"), write_midi)


@pytest.mark.slow
def test_tiny_composer_trains_exports_generates_and_answers_live(made):
    run = json.loads((made["run"] / "run.json").read_text())
    assert run["config"]["seq_len"] == 100 and run["config"]["batch_size"] == 16
    runner = load_runner(made["onnx"])
    assert runner.info.kind == "window" and runner.info.context_length == 100
    assert len(midi_notes(made["out"])) > len(midi_notes(made["phrase"])) - 3
    heard, answer, _ = answer_live(made["onnx"])
    assert heard and sum(e.is_note_on for e in answer) >= 8


@pytest.mark.slow
def test_a_prompt_in_a_format_the_recipe_cannot_read_is_a_clear_error(made, tmp_path, capsys):
    text = tmp_path / "phrase.txt"
    text.write_text("C E G")
    out = tmp_path / "out.mid"
    assert main(["generate", "--model", str(made["onnx"]), "--prompt", str(text),
                 "--out", str(out)]) == 2
    assert "phrase.txt: format .txt is not one this model reads" in capsys.readouterr().err
    assert not out.exists()
    silent = tmp_path / "silent.mid"
    silent.write_bytes(made["phrase"].read_bytes()[:14])  # a header and no track
    assert main(["generate", "--model", str(made["onnx"]), "--prompt", str(silent),
                 "--out", str(out)]) == 2
    assert "silent.mid" in capsys.readouterr().err and not out.exists()
