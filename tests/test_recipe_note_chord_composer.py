"""note-chord-composer (seed 004) through the real parts."""

import json

import pytest
from note_chord_support import answer_live, train_export_generate

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
    assert made["report"]["prompt_tokens"] == 5  # the spread chord is one token
    heard, answer, _ = answer_live(made["onnx"])
    assert heard and sum(e.is_note_on for e in answer) >= 8


@pytest.mark.slow
def test_a_prompt_the_recipe_cannot_read_is_a_clear_error(made, tmp_path):
    from improvd.training.generate import GenerateError
    from improvd.training.recipes import get_recipe

    generate = get_recipe(NAME).generate
    out = tmp_path / "out.mid"
    text = tmp_path / "phrase.txt"
    text.write_text("C E G")
    with pytest.raises(GenerateError, match="phrase.txt: format .txt is not one this model reads"):
        generate(made["onnx"], text, out)
    silent = tmp_path / "silent.mid"
    silent.write_bytes(made["phrase"].read_bytes()[:14])  # a MIDI header and no track
    with pytest.raises(GenerateError, match="silent.mid"):
        generate(made["onnx"], silent, out)
    assert not out.exists()
