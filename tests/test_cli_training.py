"""`improvd train | evaluate` on bad input: one clear line, exit 2, nothing written.
Plus the pieces of the training loop that need no training (config loading, help, registry)."""

from __future__ import annotations

import pytest

from improvd.daemon.__main__ import main
from improvd.training.recipes import (ConfigError, UnknownRecipeError, get_recipe, known,
                                      load_config)


def improvd(*argv) -> int:
    return main([str(a) for a in argv])


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err, "expected an error message"
    return err[-1]


def test_unknown_recipe_lists_the_known_ones(tmp_path, capsys):
    out = tmp_path / "run"
    assert improvd("train", "--recipe", "performance-lsmt", "--out", out) == 2
    line = error_line(capsys)
    assert "unknown recipe 'performance-lsmt'" in line and "performance-lstm" in line
    assert not out.exists()
    with pytest.raises(UnknownRecipeError):
        get_recipe("nope")
    assert "performance-lstm" in known()


def test_empty_folder_source(tmp_path, capsys):
    empty, out = tmp_path / "empty", tmp_path / "run"
    empty.mkdir()
    assert improvd("train", "--size", "tiny", "--source", empty, "--out", out) == 2
    line = error_line(capsys)
    assert str(empty) in line and "no MIDI" in line
    assert not out.exists()


def test_corrupt_midi_folder(tmp_path, capsys):
    folder, out = tmp_path / "midi", tmp_path / "run"
    folder.mkdir()
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage, not a track")
    (folder / "empty.mid").write_bytes(b"")
    assert improvd("train", "--size", "tiny", "--source", folder, "--out", out) == 2
    line = error_line(capsys)
    assert str(folder) in line and "no pieces" in line
    assert not out.exists()


def test_missing_source(tmp_path, capsys):
    out = tmp_path / "run"
    assert improvd("train", "--size", "tiny", "--source", tmp_path / "nowhere", "--out", out) == 2
    assert "no such file or folder" in error_line(capsys)
    assert not out.exists()


def test_unknown_size_and_config_typo(tmp_path, capsys):
    out = tmp_path / "run"
    assert improvd("train", "--size", "huge", "--out", out) == 2
    line = error_line(capsys)
    assert "no size [huge]" in line and "tiny" in line and "default" in line

    config = tmp_path / "mine.toml"
    config.write_text("[tiny]\nlayers = 1\nunit = 32\n")
    assert improvd("train", "--size", "tiny", "--config", config, "--out", out) == 2
    line = error_line(capsys)
    assert "unknown setting unit (did you mean 'units'?)" in line and str(config) in line
    config.write_text("[tiny]\nlayers = 'two'\n")
    assert improvd("train", "--size", "tiny", "--config", config, "--out", out) == 2
    assert "layers must be a int, not 'two'" in error_line(capsys)
    assert not out.exists()


def test_resume_without_a_run(tmp_path, capsys):
    assert improvd("train", "--size", "tiny", "--out", tmp_path / "run", "--resume") == 2
    assert "nothing to resume" in error_line(capsys)


def test_evaluate_needs_a_run(tmp_path, capsys):
    assert improvd("evaluate", tmp_path / "m.onnx", "--run", tmp_path) == 2
    assert "m.onnx: no such model file" in error_line(capsys)


def test_shipped_config_sizes_load():
    from improvd.training.recipes.performance_lstm import Config, NAME

    tiny, default = load_config(NAME, "tiny", Config), load_config(NAME, "default", Config)
    assert tiny.units < default.units
    assert default.source.startswith("music21")
    with pytest.raises(ConfigError, match="no size"):
        load_config(NAME, "xl", Config)


@pytest.mark.parametrize("command", ["train", "evaluate", "export", "verify", "quantize"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        improvd(command, "--help")
    assert exit_.value.code == 0
    assert command in capsys.readouterr().out
