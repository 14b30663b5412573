"""Settings: the shipped config.toml, errors naming the key, CLI overrides, `improvd run` errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from improvd.daemon import config
from improvd.daemon.__main__ import main
from improvd.daemon.config import Config, ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_shipped_config_documents_exactly_the_defaults():
    shipped = config.load(PROJECT_ROOT / "config.toml")
    defaults = Config()
    for section in ("midi", "policy", "sampling", "log"):
        assert getattr(shipped, section) == getattr(defaults, section)
    assert Path(shipped.model.path) == PROJECT_ROOT / "models" / "default.onnx"


def test_unknown_key_names_section_key_and_suggests_the_close_one(tmp_path):
    path = write(tmp_path, "[policy]\nsilense_ms = 300\n")
    with pytest.raises(ConfigError) as err:
        config.load(path)
    message = str(err.value)
    assert "policy.silense_ms" in message and "'silence_ms'" in message and str(path) in message


def test_unknown_section_is_an_error_with_a_suggestion(tmp_path):
    with pytest.raises(ConfigError, match=r"\[sampeling\].*'sampling'"):
        config.load(write(tmp_path, "[sampeling]\ntemperature = 0.5\n"))


@pytest.mark.parametrize("text, pattern", [
    ("[sampling]\ntop_p = 2.0\n", r"sampling\.top_p must be in 0\.01\.\.1\.0, not 2\.0"),
    ("[policy]\nsilence_ms = 10\n", r"policy\.silence_ms must be in 50\.\.10000"),
    ("[policy]\nsilence_ms = \"500\"\n", r"policy\.silence_ms must be a int"),
    ("[midi]\noutput_channel = 17\n", r"midi\.output_channel must be in 1\.\.16"),
    ("[midi]\ninput_channels = [0, 3]\n", r"midi\.input_channels must list MIDI channels in 1"),
    ("[midi]\nthru = 1\n", r"midi\.thru must be a bool"),
    ("[policy]\nbarge_in = \"stp\"\n", r"policy\.barge_in must be one of stop, continue.*'stop'"),
    ("[policy]\nresponse = \"cal\"\n", r"policy\.response must be \"call\" or a number"),
    ("[model]\nprovider = \"gpu\"\n", r"model\.provider must be one of cpu, cuda"),
    ("[sampling]\npitch_min = 90\npitch_max = 60\n", r"pitch_min \(90\) is above"),
    ("[policy\n", r"not valid TOML"),
])
def test_bad_values_name_the_key_and_what_is_allowed(tmp_path, text, pattern):
    with pytest.raises(ConfigError, match=pattern):
        config.load(write(tmp_path, text))


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        config.load(tmp_path / "nope.toml")


def test_values_are_normalised_and_frozen(tmp_path):
    cfg = config.load(write(tmp_path, "[midi]\nconnect_input = \"Keystation\"\n"
                                      "input_channels = [1, 10]\nvelocity_scale = 1\n"
                                      "[policy]\nresponse = 4\n[model]\npath = \"m/x.onnx\"\n"))
    assert cfg.midi.connect_input == ("Keystation",)
    assert cfg.midi.input_channels == (1, 10)
    assert cfg.midi.velocity_scale == 1.0 and isinstance(cfg.midi.velocity_scale, float)
    assert cfg.policy.response == 4.0
    assert Path(cfg.model.path) == tmp_path / "m" / "x.onnx"  # relative to the file's folder
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.policy.silence_ms = 1


def test_overrides_by_unique_key_or_dotted_key_are_validated():
    cfg = Config().with_overrides(silence_ms=300, temperature=0.7, seed=None,
                                  **{"model.path": "x.onnx", "midi.connect_input": ["kbd"]})
    assert cfg.policy.silence_ms == 300 and cfg.sampling.temperature == 0.7
    assert cfg.sampling.seed == -1  # None = flag not given
    assert cfg.model.path == "x.onnx" and cfg.midi.connect_input == ("kbd",)
    with pytest.raises(ConfigError, match=r"sampling\.temperature must be in"):
        Config().with_overrides(temperature=0.0)
    with pytest.raises(ConfigError, match="unknown setting 'temprature'"):
        Config().with_overrides(temprature=1.0)


def test_improvd_run_reports_a_bad_config_in_one_line_with_exit_2(tmp_path, capsys):
    path = write(tmp_path, "[sampling]\ntemprature = 0.5\n")
    assert main(["run", "--config", str(path), "--check"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "sampling.temprature" in err and "'temperature'" in err


def test_improvd_run_reports_a_broken_model_file_with_exit_2(tmp_path, capsys):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not an ONNX file")
    assert main(["run", "--model", str(broken), "--check"]) == 2
    err = capsys.readouterr().err
    assert str(broken) in err and "not a loadable ONNX model" in err and "Traceback" not in err
    assert main(["run", "--model", str(tmp_path / "missing.onnx"), "--check"]) == 2
    assert "no such model file" in capsys.readouterr().err


def test_a_bad_config_on_reload_keeps_the_running_one(tmp_path, caplog):
    from improvd.daemon.__main__ import build_parser
    from improvd.daemon.commands import _reload

    class Engine:
        reloaded = None

        def reload(self, config, runner):
            self.reloaded = config

    path = write(tmp_path, "[policy]\nsilence_ms = 300\n")
    args = build_parser().parse_args(["run", "--config", str(path), "--model", "missing.onnx"])
    running, engine = Config(), Engine()
    path.write_text("[policy]\nsilence_ms = oops\n")
    assert _reload(args, running, engine) is running and engine.reloaded is None
    assert "reload failed" in caplog.text and str(path) in caplog.text
    path.write_text("[policy]\nsilence_ms = 300\n")  # good settings, but the model is missing
    assert _reload(args, running, engine) is running and engine.reloaded is None
    assert "missing.onnx" in caplog.text
    from model_fixtures import make_random_recurrent_model

    model = make_random_recurrent_model(tmp_path / "random.onnx")
    args = build_parser().parse_args(["run", "--config", str(path), "--model", str(model)])
    new = _reload(args, running, engine)
    assert new.policy.silence_ms == 300 and engine.reloaded is new
