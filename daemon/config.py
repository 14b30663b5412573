"""The daemon's settings: frozen dataclasses loaded from a TOML file (config.toml documents them).

Every key is checked on load: an unknown key names `section.key` and suggests the closest known
one (a typo should never be silently ignored), a wrong type or an out-of-range value names the key
and what it accepts. Relative model paths in a file are relative to that file's folder.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .typed_config import ConfigError, as_dict, build_section, read_toml, suggest
from .typed_config import setting as _field

log = logging.getLogger(__name__)

__all__ = ["Config", "ConfigError", "load"]


@dataclass(frozen=True)
class MidiConfig:
    backend: str = _field("auto", choices=("auto", "alsa", "jack", "coremidi", "winmm"))
    client_name: str = _field("improvd")
    input_name: str = _field("in")
    output_name: str = _field("out")
    virtual: bool = _field(True)
    connect_input: tuple[str, ...] = _field((), kind="str_list")
    connect_output: tuple[str, ...] = _field((), kind="str_list")
    # A port named above (or the JACK server) that is not there at start: "error" (exit 2) or
    # "wait" for it (a service started before the keyboard); on JACK it is connected when it
    # appears, and again whenever it is replugged.
    missing_ports: str = _field("error", choices=("error", "wait"))
    input_channels: tuple[int, ...] = _field((), kind="channel_list")
    output_channel: int = _field(1, lo=1, hi=16)
    thru: bool = _field(False)
    velocity_scale: float = _field(1.0, lo=0.0, hi=4.0)
    # A synth's known output latency: the answer is sent this much early so it sounds on time.
    output_latency_ms: float = _field(0.0, lo=0.0, hi=1000.0)


@dataclass(frozen=True)
class ModelConfig:
    path: str = _field("models/default.onnx")
    provider: str = _field("cpu", choices=("cpu", "cuda"))
    threads: int = _field(1, lo=1, hi=64)


@dataclass(frozen=True)
class PolicyConfig:
    silence_ms: int = _field(500, lo=50, hi=10_000)
    min_call_ms: int = _field(150, lo=0, hi=60_000)
    end_call_cc: int = _field(-1, lo=-1, hi=127)
    response: str | float = _field("call", kind="response")
    max_response_s: float = _field(16.0, lo=0.5, hi=600.0)
    barge_in: str = _field("stop", choices=("stop", "continue"))
    # Where the answer starts: on the call's next beat, its next bar line, or at once (no pulse).
    answer_start: str = _field("beat", choices=("beat", "bar", "now"))
    # End the call when the pulse says a note was due and none came (all keys up); silence_ms
    # stays the upper bound.
    end_on_pulse: bool = _field(True)
    # A key held this long counts as released once the call is otherwise over: a lost note-off
    # must not keep the call open forever.
    stuck_key_s: float = _field(60.0, lo=0.5, hi=3600.0)
    # Answer length in bars (the answer then ends on a bar line); 0 = as `response` says.
    answer_bars: int = _field(0, lo=0, hi=64)
    # "call": answer each phrase; "accompany": play along while the player plays (accompany.py).
    mode: str = _field("call", choices=("call", "accompany"))


@dataclass(frozen=True)
class SamplingConfig:
    temperature: float = _field(1.0, lo=0.05, hi=5.0)
    top_p: float = _field(0.95, lo=0.01, hi=1.0)
    seed: int = _field(-1, lo=-1, hi=2**32 - 1)
    pitch_min: int = _field(21, lo=0, hi=127)
    pitch_max: int = _field(108, lo=0, hi=127)
    max_polyphony: int = _field(8, lo=1, hi=32)
    lookahead_ms: int = _field(50, lo=5, hi=2000)
    max_initial_wait_ms: int = _field(30, lo=0, hi=2000)


@dataclass(frozen=True)
class SteeringConfig:
    """How strongly the answer follows what the call established: 0 = off, 1 = fully.
    Steering only reshapes the model's distribution (and the answer's velocities and timing);
    the model still chooses the notes."""
    scale: float = _field(0.8, lo=0.0, hi=1.0)  # toward the call's key and mode
    pulse: float = _field(1.0, lo=0.0, hi=1.0)  # onsets on the call's grid subdivisions
    register: float = _field(0.8, lo=0.0, hi=1.0)  # within the call's range of notes
    texture: float = _field(1.0, lo=0.0, hi=1.0)  # as many notes at once as the call
    articulation: float = _field(1.0, lo=0.0, hi=1.0)  # notes no longer than the call's
    dynamics: float = _field(1.0, lo=0.0, hi=1.0)  # the call's level, accents and swell
    groove: float = _field(1.0, lo=0.0, hi=1.0)  # the call's micro-timing (swing, push, lay back)
    phrase_end: float = _field(1.0, lo=0.0, hi=1.0)  # end on the grid, notes released, stable tone


@dataclass(frozen=True)
class SynthConfig:
    """fluidsynth started with the daemon (synth.py); programs are General MIDI's, 1..128."""
    enabled: bool = _field(False)
    soundfont: str = _field("")  # "" = a General MIDI soundfont found on the system
    answer_program: int = _field(12, lo=1, hi=128)  # 12 = vibraphone: the answer stands out
    player_program: int = _field(1, lo=1, hi=128)  # 1 = acoustic grand piano (midi.thru)
    gain: float = _field(0.6, lo=0.0, hi=5.0)


@dataclass(frozen=True)
class RecordConfig:
    """Every call and answer of a session to a MIDI file (recorder.py)."""
    dir: str = _field("")  # "" = no recording
    rotate: str = _field("session", choices=("session", "hour"))


@dataclass(frozen=True)
class ClockConfig:
    """An incoming MIDI clock (a DAW): while it runs it is the pulse answers follow."""
    source: str = _field("input", choices=("input", "port", "off"))  # where it comes in
    connect: tuple[str, ...] = _field((), kind="str_list")  # ports the clock port connects to
    beats_per_bar: int = _field(4, lo=1, hi=16)  # the DAW's meter (MIDI clock does not say)


@dataclass(frozen=True)
class AccompanyConfig:
    register: str = _field("below", choices=("below", "above"))  # an octave from the player's
    silence_beats: int = _field(2, lo=1, hi=64)  # the player's rest that makes improvd stop
    start_notes: int = _field(6, lo=1, hi=64)  # notes the player plays before it comes in


@dataclass(frozen=True)
class ControlsConfig:
    """Live controls: the CC number of each (-1 = not mapped); live_controls.py maps values."""
    temperature_cc: int = _field(16, lo=-1, hi=127)
    scale_lock_cc: int = _field(17, lo=-1, hi=127)
    pulse_lock_cc: int = _field(18, lo=-1, hi=127)
    answer_bars_cc: int = _field(19, lo=-1, hi=127)
    panic_cc: int = _field(81, lo=-1, hi=127)
    mode_cc: int = _field(80, lo=-1, hi=127)  # < 64 call and response, >= 64 accompany


@dataclass(frozen=True)
class RealtimeConfig:
    """Real-time scheduling of the scheduler and MIDI input threads, where permitted
    (realtime.py)."""
    # SCHED_FIFO priority of the sender and input threads (the engine's one less); 0 = normal.
    # Below JACK's threads (jackd's default is 10, its clients run at 5).
    priority: int = _field(4, lo=0, hi=99)
    lock_memory: bool = _field(True)  # mlockall, only where the memlock limit is unlimited


@dataclass(frozen=True)
class LogConfig:
    level: str = _field("info", choices=("debug", "info", "warning", "error"))


@dataclass(frozen=True)
class Config:
    midi: MidiConfig = field(default_factory=MidiConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    steering: SteeringConfig = field(default_factory=SteeringConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    record: RecordConfig = field(default_factory=RecordConfig)
    clock: ClockConfig = field(default_factory=ClockConfig)
    controls: ControlsConfig = field(default_factory=ControlsConfig)
    accompany: AccompanyConfig = field(default_factory=AccompanyConfig)
    realtime: RealtimeConfig = field(default_factory=RealtimeConfig)
    log: LogConfig = field(default_factory=LogConfig)

    def with_overrides(self, **flags: Any) -> Config:
        """CLI flags -> a new Config. Keys are `key` (unique across sections) or `section.key`
        (pass as **{"model.path": ...}); None means "flag not given" and changes nothing."""
        changes: dict[str, dict[str, Any]] = {}
        for key, value in flags.items():
            if value is None:
                continue
            section, name = _locate(key)
            changes.setdefault(section, {})[name] = value
        return _build({s: {**as_dict(getattr(self, s)), **kv} for s, kv in changes.items()},
                      base=self, source="command line")


_SECTIONS = {f.name: f.default_factory for f in dataclasses.fields(Config)}


def _keys(section: str) -> list[str]:
    return [f.name for f in dataclasses.fields(_SECTIONS[section])]


def _locate(key: str) -> tuple[str, str]:
    if "." in key:
        section, name = key.split(".", 1)
        if section in _SECTIONS and name in _keys(section):
            return section, name
    else:
        owners = [s for s in _SECTIONS if key in _keys(s)]
        if len(owners) == 1:
            return owners[0], key
    raise ConfigError(f"unknown setting {key!r}")


def _response(where: str, value: Any) -> str | float:
    if value == "call":
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0.5 <= value <= 600:
        return float(value)
    raise ConfigError(f"{where} must be \"call\" or a number of seconds in 0.5..600, "
                      f"not {value!r}")


def _list_of(item_type: type, label: str, channels: bool = False):
    def check(where: str, value: Any) -> tuple:
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            value = [value]  # one name where a list is expected is what the user meant
        if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, item_type) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"{where} must be a list of {label}, not {value!r}")
        if channels and not all(1 <= v <= 16 for v in value):
            raise ConfigError(f"{where} must list MIDI channels in 1..16, not {list(value)}")
        return tuple(value)
    return check


# The field kinds of this file that a type and a range cannot say.
_KINDS = {"response": _response, "str_list": _list_of(str, "names"),
          "channel_list": _list_of(int, "channels 1..16", channels=True)}


def _build(data: dict[str, Any], base: Config, source: str) -> Config:
    sections = {}
    for section, values in data.items():
        if section not in _SECTIONS:
            raise ConfigError(f"{source}: unknown section [{section}]"
                              f"{suggest(section, list(_SECTIONS))}")
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: {section} must be a [{section}] table")
        sections[section] = build_section(_SECTIONS[section], values, source,
                                          base=getattr(base, section), kinds=_KINDS,
                                          key_prefix=f"{section}.")
    config = dataclasses.replace(base, **sections)
    s = config.sampling
    if s.pitch_min > s.pitch_max:
        raise ConfigError(f"{source}: sampling.pitch_min ({s.pitch_min}) is above "
                          f"sampling.pitch_max ({s.pitch_max})")
    _check_cc_map(config, source)
    return config


def _check_cc_map(config: Config, source: str) -> None:
    """Two controls on one CC (or one on the end-of-call pedal) would fire together."""
    users: dict[int, str] = {}
    if config.policy.end_call_cc >= 0:
        users[config.policy.end_call_cc] = "policy.end_call_cc"
    for name, number in as_dict(config.controls).items():
        if number < 0:
            continue
        if number in users:
            raise ConfigError(f"{source}: controls.{name} and {users[number]} both use CC "
                              f"{number}; give each its own controller (-1 turns one off)")
        users[number] = f"controls.{name}"


def load(path: str | Path | None = None) -> Config:
    """Read a TOML file (None -> the built-in defaults). Raises ConfigError naming what is wrong."""
    if path is None:
        return Config()
    path = Path(path)
    data = read_toml(path)
    config = _build(data, Config(), str(path))
    model_path = Path(config.model.path).expanduser()
    if "path" in data.get("model", {}) and not model_path.is_absolute():
        model_path = path.parent / model_path
        config = dataclasses.replace(
            config, model=dataclasses.replace(config.model, path=str(model_path)))
    return config
