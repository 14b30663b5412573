"""The CC map and Program Change through real ports: `improvd run` on JACK, played by a peer."""

from __future__ import annotations

import re
import shutil
import time

import mido
import pytest

from improvd.testsupport.random_model import make_random_recurrent_model

from .jack_helpers import sounding

pytestmark = pytest.mark.e2e

PHRASE = [60, 62, 64, 65, 67, 65, 64, 62]


def cc(peer, number, value):
    peer.send(mido.Message("control_change", control=number, value=value))


def wait_log(daemon, text, timeout=5.0) -> bool:
    deadline = time.monotonic() + timeout
    while text not in daemon.log():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def answer_sounding(peer, since, timeout=4.0) -> bool:
    return peer.wait_for(lambda: sounding(peer.messages(since=since)), timeout)


def test_each_cc_does_what_the_map_says(peer, start_daemon, config_file):
    config = config_file({"policy": {"silence_ms": 400, "response": 8.0},
                          "midi": {"thru": True}, "sampling": {"seed": 4}})
    daemon = start_daemon(peer, ["--config", str(config)])
    for number, value, line in [(16, 96, "temperature 2.00 (CC16 = 96): more adventurous"),
                                (17, 127, "scale lock 100% (CC17 = 127)"),
                                (18, 0, "pulse lock 0% (CC18 = 0): answers no longer lock to"),
                                (19, 16, "answer length (CC19 = 16): 1 bar")]:
        cc(peer, number, value)
        assert wait_log(daemon, line), f"CC{number} = {value}: no {line!r}\n{daemon.log()}"
    # An unmapped CC passes through untouched (thru is on); the mapped ones were consumed. (The
    # start-up reset of the listeners, CC123 and CC120 on every channel, is not the player's.)
    cc(peer, 7, 99)
    assert peer.wait_for(lambda: any(m.type == "control_change" and m.control == 7
                                     for _, m in peer.messages()), 2)
    forwarded = [(m.control, m.value) for _, m in peer.messages()
                 if m.type == "control_change" and m.control not in (120, 123)]
    assert forwarded == [(7, 99)]
    # Panic mid-answer: every note off at once, CC123 too, and the 8 s answer goes no further.
    # (Thru is on: the call's own notes come back too. The answer's sound after the call.)
    start = time.monotonic()
    ended = peer.play(PHRASE[:4])
    assert answer_sounding(peer, ended), daemon.log()[-3000:]
    pressed = time.monotonic()
    cc(peer, 81, 127)
    assert peer.wait_for(lambda: not sounding(peer.messages(since=start)), 0.5), \
        f"still sounding after panic: {sounding(peer.messages(since=start))}"
    assert peer.wait_for(lambda: any(m.type == "control_change" and m.control == 123
                                     for _, m in peer.messages(since=pressed)), 1), \
        f"no CC123 after the panic: {peer.messages(since=start)}\n{daemon.log()[-3000:]}"
    assert wait_log(daemon, "panic (CC81): all notes off"), daemon.log()[-3000:]
    time.sleep(1.0)
    assert not peer.note_ons(since=pressed + 0.05), "notes after the panic"
    # Pressed in the silence after a phrase (200 ms of the 400 that end the call), the panic
    # leaves that phrase unanswered.
    ended = peer.play(PHRASE[:4])
    time.sleep(0.2)
    cc(peer, 81, 127)
    time.sleep(1.5)
    assert not peer.note_ons(since=ended), f"answered after the panic:\n{daemon.log()[-3000:]}"


def test_program_change_swaps_the_model_mid_answer_without_a_stuck_note(
        peer, start_daemon, config_file, model_path, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(model_path, folder / "a-first.onnx")
    make_random_recurrent_model(folder / "b-second.onnx", seed=9)
    config = config_file({"policy": {"silence_ms": 400, "response": 8.0},
                          "model": {"path": str(folder / "a-first.onnx")},
                          "sampling": {"seed": 4}})
    daemon = start_daemon(peer, ["--config", str(config), "--model",
                                 str(folder / "a-first.onnx")])
    start = time.monotonic()
    peer.play(PHRASE)
    assert answer_sounding(peer, start), daemon.log()[-3000:]
    peer.send(mido.Message("program_change", program=1))
    assert wait_log(daemon, "program 1: now playing model b-second.onnx"), daemon.log()[-3000:]
    assert peer.wait_for(lambda: not sounding(peer.messages(since=start)), 1.0), \
        f"left sounding by the switch: {sounding(peer.messages(since=start))}"
    # The new model answers the next call, and leaves nothing sounding either.
    again = time.monotonic()
    peer.play(PHRASE)
    assert peer.wait_for(lambda: peer.note_ons(since=again + 0.3), 4), daemon.log()[-3000:]
    assert peer.wait_quiet(1.0, timeout=15, since=again)
    assert not sounding(peer.messages(since=start))
    # A program past the folder's models is refused in words, and changes nothing.
    peer.send(mido.Message("program_change", program=5))
    assert wait_log(daemon, "program 5: ")
    assert re.search(r"holds 2 models \(programs 0..1\); keeping b-second.onnx", daemon.log())
    assert daemon.process.poll() is None and "Traceback" not in daemon.log()
