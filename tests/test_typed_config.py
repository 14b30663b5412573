"""The one TOML -> typed dataclass loader, on a recipe-like table (the daemon's own config.toml is
tested through daemon/config.py in test_config.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from improvd.daemon.typed_config import ConfigError, build_section, read_toml, setting


@dataclass(frozen=True)
class Sized:
    name: str  # no default: taken as it comes
    units: int = setting(64, lo=1, hi=4096)
    dropout: float = setting(0.1, lo=0.0, hi=1.0)
    layers: tuple[int, ...] = setting((64, 64))
    kind: str = setting("recurrent", choices=("recurrent", "window"))
    augment: bool = setting(True)


def test_a_table_becomes_a_typed_frozen_dataclass(tmp_path):
    path = tmp_path / "recipe.toml"
    path.write_text('[tiny]\nname = "t"\nunits = 8\ndropout = 0\nlayers = [8, 8, 8]\n'
                    'kind = "window"\n')
    config = build_section(Sized, read_toml(path)["tiny"], f"{path} [tiny]")
    assert config == Sized("t", 8, 0.0, (8, 8, 8), "window", True)
    assert isinstance(config.dropout, float) and isinstance(config.layers, tuple)
    assert build_section(Sized, {"units": 2}, "x", base=config) == Sized("t", 2, 0.0, (8, 8, 8),
                                                                         "window", True)


@pytest.mark.parametrize("values, message", [
    ({"unit": 3}, r"r.toml \[tiny\]: unknown setting unit \(did you mean 'units'\?\)"),
    ({"units": 0}, r"units must be in 1..4096, not 0"),
    ({"units": 2.5}, r"units must be a int, not 2.5"),
    ({"augment": 1}, r"augment must be a bool, not 1"),
    ({"layers": "64"}, r"layers must be a tuple"),
    ({"kind": "recurent"}, (r"kind must be one of recurrent, window, not 'recurent' "
                            r"\(did you mean 'recurrent'\?\)")),
])
def test_each_bad_value_names_its_key_and_what_it_accepts(values, message):
    with pytest.raises(ConfigError, match=message):
        build_section(Sized, {"name": "t", **values}, "r.toml [tiny]")


def test_missing_and_malformed_files_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        read_toml(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[tiny\n")
    with pytest.raises(ConfigError, match=r"bad.toml: not valid TOML"):
        read_toml(bad)
