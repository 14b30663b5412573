"""The CC map and Program Change on the engine (fake clock, fake port): each control does what
the map says, a mapped CC is consumed, an unmapped one passes through with thru, bad maps are
errors that name the controls."""

from __future__ import annotations

import logging

import mido
import pytest
from engine_support import Rig, sounding

from improvd.daemon import speculation
from improvd.daemon.config import Config, ConfigError, load
from improvd.daemon.events import Event
from improvd.daemon.live_controls import bars, temperature


def cc(rig, number, value):
    rig.send("control_change", number, value)


def test_each_cc_of_the_default_map_changes_its_setting(model_path, caplog):
    rig = Rig(model_path, silence_ms=300)
    caplog.set_level(logging.INFO, logger="improvd.daemon.live_controls")
    cc(rig, 16, 127)  # temperature, all the way up
    assert rig.engine.sampler.temperature == pytest.approx(temperature(127))
    assert temperature(127) > 3.5 and temperature(0) == 0.25
    assert rig.engine.config.sampling.temperature == rig.engine.sampler.temperature
    cc(rig, 16, 64)
    assert rig.engine.sampler.temperature == 1.0
    cc(rig, 17, 127)
    assert rig.engine.config.steering.scale == 1.0
    cc(rig, 18, 0)
    assert rig.engine.config.steering.pulse == 0.0
    cc(rig, 19, 64)
    assert rig.engine.config.policy.answer_bars == bars(64) == 4
    assert rig.engine.policy.config.answer_bars == 4  # the policy reads the new length too
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("temperature 3.9") and "more adventurous" in line
               for line in lines), lines
    assert any("scale lock 100%" in line for line in lines)
    assert any("no longer lock to the grid" in line for line in lines)
    assert any("answer length (CC19 = 64): 4 bars" in line for line in lines)


def test_panic_releases_the_answer_at_once(model_path):
    rig = Rig(model_path, silence_ms=300, response=6.0)
    rig.phrase()
    deadline = rig.now + 3
    while not sounding(rig.out.events()) and rig.now < deadline:
        rig.advance(0.01)
    assert sounding(rig.out.events()), "the answer never had a note sounding"
    cc(rig, 81, 127)
    assert not sounding(rig.out.events())
    assert rig.engine.response is None
    assert any(e.kind == "control_change" and e.pitch == 123 for e in rig.out.events())
    rig.advance(1.0)
    assert not [e for e in rig.out.events() if e.is_note_on and e.time > rig.now - 1.0]


def test_mapped_ccs_are_consumed_and_others_pass_through(model_path):
    rig = Rig(model_path, silence_ms=300, thru=True)
    cc(rig, 16, 100)  # temperature: an instruction to improvd, not a sound
    cc(rig, 7, 90)  # volume: unknown to the map, forwarded untouched
    ccs = [(e.pitch, e.velocity) for e in rig.out.events() if e.kind == "control_change"]
    assert ccs == [(7, 90)]


def test_program_change_asks_for_the_model_and_a_remap_moves_a_control(model_path):
    rig = Rig(model_path, **{"controls.temperature_cc": 1, "controls.panic_cc": -1})
    asked = []
    rig.engine.controls.on_program = asked.append
    rig.engine.handle(mido.Message("program_change", program=2), rig.now)
    assert asked == [2]
    cc(rig, 16, 127)  # no longer the temperature
    assert rig.engine.sampler.temperature == 1.0
    cc(rig, 1, 0)  # the mod wheel now is
    assert rig.engine.sampler.temperature == pytest.approx(0.25)


def test_a_cc_used_twice_is_an_error_naming_both(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[controls]\ntemperature_cc = 17\n")
    with pytest.raises(ConfigError, match="controls.scale_lock_cc and controls.temperature_cc "
                                          "both use CC 17"):
        load(path)
    path.write_text("[policy]\nend_call_cc = 19\n")
    with pytest.raises(ConfigError, match="policy.end_call_cc.*CC 19"):
        load(path)
    path.write_text("[controls]\ntempo_cc = 20\n")
    with pytest.raises(ConfigError, match="unknown setting controls.tempo_cc"):
        load(path)
    path.write_text("[controls]\npanic_cc = 128\n")
    with pytest.raises(ConfigError, match="controls.panic_cc must be in -1..127"):
        load(path)
    assert Config().controls.temperature_cc == 16


def test_an_event_cc_is_read_as_well_as_a_mido_one(model_path):
    rig = Rig(model_path)
    rig.engine.handle(Event(rig.now, "control_change", 17, 0), rig.now)
    rig.engine.handle(mido.Message("control_change", control=18, value=127), rig.now)
    assert rig.engine.config.steering.scale == 0.0
    assert rig.engine.config.steering.pulse == 1.0


def test_the_mode_cc_switches_to_accompany_and_back(model_path, caplog):
    from improvd.daemon.accompany import AccompanyPolicy
    from improvd.daemon.policy import CallResponsePolicy

    rig = Rig(model_path)
    caplog.set_level(logging.INFO, logger="improvd.daemon.live_controls")
    cc(rig, 80, 127)
    assert isinstance(rig.engine.policy, AccompanyPolicy)
    assert rig.engine.config.policy.mode == "accompany"
    cc(rig, 80, 0)
    assert isinstance(rig.engine.policy, CallResponsePolicy)
    lines = [r.getMessage() for r in caplog.records]
    assert any("accompany: playing along" in line for line in lines)
    assert any("call and response: answering each phrase" in line for line in lines)


def test_controls_on_a_channel_not_listened_to_are_left_alone(model_path):
    rig = Rig(model_path, input_channels=[2])
    rig.send("control_change", 16, 127, channel=5)  # channel 6: not improvd's
    assert rig.engine.sampler.temperature == 1.0
    rig.send("control_change", 16, 127, channel=1)  # channel 2
    assert rig.engine.sampler.temperature == pytest.approx(temperature(127))


@pytest.mark.parametrize("ahead", [False, True], ids=["plain", "computed ahead"])
def test_a_panic_in_the_silence_after_a_phrase_leaves_it_unanswered(model_path, monkeypatch,
                                                                    ahead):
    # Pressed before the answer came (computed ahead or not), the panic dropped only what had
    # been computed: the call still ended and was answered, its notes after the panic.
    if not ahead:
        monkeypatch.setattr(speculation, "LEAD_S", 0.0)
    rig = Rig(model_path, silence_ms=300, response=4.0)
    ended = rig.phrase()
    rig.advance(ended + 0.3 - 0.01 - rig.now, step=0.001)  # 10 ms before the call's end
    assert rig.engine.speculation.pending == ahead
    pressed = rig.now
    cc(rig, 81, 127)
    rig.advance(2.0)
    assert not [e for e in rig.out.events(since=pressed) if e.is_note_on], "answered anyway"
    assert rig.engine.response is None and not rig.engine.speculation.pending
    again = rig.now
    rig.phrase()  # the next phrase is a call of its own, and answered
    rig.advance(2.0)
    assert [e for e in rig.out.events(since=again) if e.is_note_on]


def test_a_panic_after_the_first_note_computed_ahead_left_stops_that_answer(model_path):
    # The sending thread sends the answer's first note at its due time, before the engine
    # thread has looked at the deadline: a panic then still stops everything.
    rig = Rig(model_path, silence_ms=300, response=4.0)
    ended = rig.phrase()
    rig.advance(ended + 0.3 - 0.01 - rig.now, step=0.001)
    spec = rig.engine.speculation
    assert spec.pending
    rig.now = spec.deadline + 0.02
    rig.engine.scheduler.run_due(rig.now)  # the sending thread's wake-ups only
    assert sounding(rig.out.events()), "the first note computed ahead did not leave"
    before = len(rig.out.sent)  # (the fake port stamps sends with the fake clock: no `since`)
    rig.engine.handle(mido.Message("control_change", control=81, value=127), rig.now)
    after = [e for _, e in rig.out.sent[before:]]
    assert any(e.kind == "control_change" and e.pitch == 123 for e in after)
    assert not sounding(rig.out.events())
    rig.advance(2.0)
    assert not [e for _, e in rig.out.sent[before:] if e.is_note_on], "answered again"
