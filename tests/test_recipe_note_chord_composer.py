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
    # A recurrent step graph: each LSTM layer's h and c (two layers in tiny) carried by the runner.
    assert runner.info.kind == "recurrent" and runner.info.context_length == 100
    assert [s.shape for s in runner.info.states] == [(1, 16)] * 4
    metrics = runner.info.metrics
    # Held-out NLL with the state carried over whole pieces, past the 100 tokens of training.
    assert metrics["model"]["tokens"] > 100 and metrics["parity"]["tokens_checked"] >= 1
    assert ("LSTM(16) -> Dropout(0.3) -> LSTM(16) -> Dense(16) -> relu -> Dropout(0.3) -> Dense("
            in made["card_text"])
    assert made["report"]["prompt_tokens"] == 5  # the spread chord is one token
    heard, answer, _ = answer_live(made["onnx"])
    assert heard and sum(e.is_note_on for e in answer) >= 8


@pytest.mark.slow
def test_a_prompt_the_recipe_cannot_read_is_a_clear_error(made, tmp_path):
    from improvd.training.generate import GenerateError
    from improvd.training.generate import generate_model as generate
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


def test_a_typo_in_export_kind_is_a_clear_error(tmp_path, capsys):
    from improvd.daemon.__main__ import main

    config = tmp_path / "typo.toml"
    config.write_text('[tiny]\nexport_kind = "recurent"\n')
    assert main(["train", "--recipe", NAME, "--size", "tiny", "--config", str(config),
                 "--out", str(tmp_path / "run")]) == 2
    assert "export_kind must be one of recurrent, window, not 'recurent'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
