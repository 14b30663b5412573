"""Live controls over MIDI: a player turns improvd up, down, off or over from a controller.

The [controls] map of config.toml names a CC number per control, `<control>_cc` (-1 = not
mapped):

  temperature   0..127 -> 0.25..4 on a doubling scale (64 = 1.0): safer .. more adventurous
  scale_lock    0..127 -> steering.scale 0..1: how strongly answers keep to the call's key
  pulse_lock    0..127 -> steering.pulse 0..1: how strongly onsets keep to the grid
  answer_bars   0..127 -> 0..8 bars (0 = as long as the call)
  panic         >= 64: every note off at once, the answer dropped (or, pressed in the
                silence after a phrase, that phrase left unanswered)
  mode          < 64 call and response, >= 64 accompany (what sounds is released first)
  Program Change n: the n-th model (by name) of the folder of model.path, swapped in without
                closing the ports (the reload path SIGHUP takes), when a loader is attached.

A mapped CC is the player's instruction to improvd: it is consumed (never heard by the model,
never forwarded). Every other CC is left alone, and forwarded when midi.thru is on. Each change
is logged in a line a musician reads. Runs on the engine thread; a change applies from the next
token (temperature) or the next answer (steering, length).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from .accompany import make_policy

log = logging.getLogger(__name__)

PRESSED = 64  # a switch-like control acts on values at or above this


def temperature(value: int) -> float:
    return 2.0 ** ((value - 64) / 32)


def strength(value: int) -> float:
    return round(value / 127, 2)


def bars(value: int) -> int:
    return round(value / 127 * 8)


class LiveControls:
    def __init__(self, engine):
        self.engine = engine
        self.cc: dict[int, str] = {}  # CC number -> control name
        # Program Change n -> swap in model n; set by the daemon (it loads models off this
        # thread). None: Program Change is ignored.
        self.on_program: Callable[[int], None] | None = None

    def configure(self, controls) -> None:
        self.cc = {number: name.removesuffix("_cc")
                   for name, number in dataclasses.asdict(controls).items() if number >= 0}

    def take(self, msg) -> bool:
        """True when msg was a control of the map (or a Program Change) and was acted on."""
        kind = getattr(msg, "type", None) or getattr(msg, "kind", None)
        if self.engine.channels and getattr(msg, "channel", 0) not in self.engine.channels:
            return False  # a channel improvd does not listen to (midi.input_channels)
        if kind == "program_change":
            if self.on_program is not None:
                log.info("program %d: switching model", msg.program)
                self.on_program(msg.program)
            return True
        if kind != "control_change":
            return False
        number = msg.control if hasattr(msg, "control") else msg.pitch
        value = msg.value if hasattr(msg, "value") else msg.velocity
        name = self.cc.get(number)
        if name is None:
            return False
        getattr(self, f"_{name}")(value, number)
        return True

    # --- one method per control ------------------------------------------------------------
    def _temperature(self, value: int, cc: int) -> None:
        t = temperature(value)
        self._set("sampling", temperature=t)
        self.engine.sampler.temperature = t
        word = "more adventurous" if t > 1.05 else "safer" if t < 0.95 else "as trained"
        log.info("temperature %.2f (CC%d = %d): %s", t, cc, value, word)

    def _scale_lock(self, value: int, cc: int) -> None:
        self._set("steering", scale=strength(value))
        log.info("scale lock %.0f%% (CC%d = %d): answers keep %s to the call's key",
                 100 * strength(value), cc, value, "closely" if value >= 96 else
                 "loosely" if value >= 32 else "no longer")

    def _pulse_lock(self, value: int, cc: int) -> None:
        self._set("steering", pulse=strength(value))
        log.info("pulse lock %.0f%% (CC%d = %d): answers %s the grid", 100 * strength(value),
                 cc, value, "lock to" if value > 0 else "no longer lock to")

    def _answer_bars(self, value: int, cc: int) -> None:
        n = bars(value)
        self._set("policy", answer_bars=n)
        self.engine.policy.config = self.engine.config.policy
        log.info("answer length (CC%d = %d): %s", cc, value,
                 f"{n} bar{'s' if n > 1 else ''}" if n else "as long as the call")

    def _panic(self, value: int, cc: int) -> None:
        if value < PRESSED:
            return
        self.engine.panic()
        log.info("panic (CC%d): all notes off", cc)

    def _mode(self, value: int, cc: int) -> None:
        mode = "accompany" if value >= PRESSED else "call"
        if mode == self.engine.config.policy.mode:
            return
        self._set("policy", mode=mode)
        self.engine.panic()
        self.engine.policy = make_policy(self.engine.config, self.engine.analyzer,
                                         self.engine.sync)
        log.info("mode (CC%d = %d): %s", cc, value, "accompany: playing along with the player"
                 if mode == "accompany" else "call and response: answering each phrase")

    def _set(self, section: str, **values) -> None:
        config = self.engine.config
        part = dataclasses.replace(getattr(config, section), **values)
        self.engine.config = dataclasses.replace(config, **{section: part})
