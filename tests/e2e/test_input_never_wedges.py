"""Through real JACK ports: a lost or garbled note-off of the player, or 200,000 random messages,
never stop the daemon answering (policy.py: stale held keys)."""

from __future__ import annotations

import time

import mido
import pytest

from improvd.testsupport.midi_fuzz import send_random

from .jack_helpers import left_sounding

pytestmark = pytest.mark.e2e

SILENCE_S = 0.4
STUCK_KEY_S = 1.5


def settings(config_file, **policy):
    return ["--config", str(config_file({
        "policy": {"silence_ms": int(SILENCE_S * 1000), "stuck_key_s": STUCK_KEY_S,
                   "max_response_s": 2.0, **policy},
        "sampling": {"seed": 8}}))]


def answered(peer, pitches=(60, 64, 67, 72), timeout=6.0, daemon=None) -> bool:
    start = time.monotonic()
    peer.play(pitches)
    ok = peer.wait_for(lambda: peer.note_ons(since=start), timeout=timeout)
    peer.wait_quiet(0.5, timeout=8, since=start)
    assert not left_sounding(peer.messages(since=start)), daemon.log() if daemon else ""
    return ok


def back_to_call_and_response(peer, daemon, timeout=5.0) -> None:
    """Random CCs also work the live controls: CC80 may have left the daemon in accompany mode,
    where it plays along with a phrase instead of answering it. The player switches back, and
    again if the flood's backlog dropped the message (past the queue's bound a flood's CCs go
    like its notes), until the daemon says it answers phrases again."""
    deadline = time.monotonic() + timeout
    while "accompany" in (daemon.log().split("mode (CC80")[-1].split("\n")[0]
                          if "mode (CC80" in daemon.log() else ""):
        assert time.monotonic() < deadline, daemon.log()[-2000:]
        peer.send(mido.Message("control_change", control=80, value=0))
        time.sleep(0.3)


def test_a_lost_note_off_delays_the_answer_by_stuck_key_s_at_most(peer, start_daemon,
                                                                 config_file):
    daemon = start_daemon(peer, settings(config_file))
    start = time.monotonic()
    for pitch in (60, 62, 64, 65):
        peer.send(mido.Message("note_on", note=pitch, velocity=90))
        time.sleep(0.12)
        if pitch != 62:  # 62's note-off is lost on the way
            peer.send(mido.Message("note_off", note=pitch, velocity=0))
    assert peer.wait_for(lambda: peer.note_ons(since=start), timeout=STUCK_KEY_S + 4), \
        f"no answer after a lost note-off:\n{daemon.log()}"
    first = peer.note_ons(since=start)[0][0]
    assert first - start >= STUCK_KEY_S, "answered while a key still counted as held"
    assert "counted as released" in daemon.log()
    peer.wait_quiet(0.5, timeout=8, since=start)
    assert answered(peer, daemon=daemon), "no answer to the next call"


def test_a_note_off_that_arrives_as_a_copy_of_its_note_on_is_harmless(peer, start_daemon,
                                                                     config_file):
    # python-rtmidi's JACK input can queue the event before again in place of a lost one.
    daemon = start_daemon(peer, settings(config_file))
    for pitch in (60, 62, 65):  # 65 is not in the next call: that call cannot release it
        on = mido.Message("note_on", note=pitch, velocity=90)
        peer.send(on)
        time.sleep(0.12)
        peer.send(on if pitch == 65 else mido.Message("note_off", note=pitch, velocity=0))
    time.sleep(STUCK_KEY_S + 3)  # the stale key is released and that call answered
    assert answered(peer, daemon=daemon), f"no answer after a garbled note-off:\n{daemon.log()}"


def test_the_player_all_notes_off_releases_held_keys_at_once(peer, start_daemon, config_file):
    daemon = start_daemon(peer, settings(config_file, stuck_key_s=600.0))
    start = time.monotonic()
    peer.send(mido.Message("note_on", note=48, velocity=90))  # its note-off never comes
    peer.play([60, 62, 64])
    time.sleep(SILENCE_S + 0.5)
    assert not peer.note_ons(since=start), "answered with a key held"
    peer.send(mido.Message("control_change", control=123, value=0))
    assert peer.wait_for(lambda: peer.note_ons(since=start), timeout=SILENCE_S + 3), daemon.log()


def test_the_daemon_answers_again_after_200000_random_messages(peer, start_daemon, config_file):
    daemon = start_daemon(peer, settings(config_file))
    send_random(peer, 200_000, seed=13)
    assert daemon.process.poll() is None, daemon.log()
    # The random notes held keys: stale after STUCK_KEY_S; the "call" they made is answered.
    time.sleep(STUCK_KEY_S + SILENCE_S + 2.5)
    peer.wait_quiet(0.5, timeout=10)
    back_to_call_and_response(peer, daemon)
    assert answered(peer, timeout=STUCK_KEY_S + 5, daemon=daemon), \
        f"no answer after the random messages:\n{daemon.log()[-3000:]}"
