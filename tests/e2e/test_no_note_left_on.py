"""No note left sounding at a listener: after a message lost on the way, after SIGKILL and a
restart, after the listener was disconnected mid-answer (the output safety net, scheduler.py)."""

from __future__ import annotations

import subprocess
import time

import pytest

from .jack_helpers import left_sounding, sounding

pytestmark = pytest.mark.e2e

SILENCE_S = 0.4
PHRASE = [60, 62, 64, 65, 67, 65, 64, 62]


def answering(peer, seconds=6.0):
    """Play a phrase; returns when the answer has a note sounding (and the phrase's start)."""
    start = time.monotonic()
    peer.play(PHRASE)
    assert peer.wait_for(lambda: sounding(peer.messages(since=start)), timeout=SILENCE_S + 4), \
        "the answer never had a note sounding"
    return start


def args(seconds=6.0, seed=3):
    return ["--silence-ms", str(int(SILENCE_S * 1000)), "--response", str(seconds),
            "--seed", str(seed)]


def test_a_note_off_lost_on_the_way_is_made_good_by_all_notes_off_after_the_answer(
        peer, start_daemon):
    daemon = start_daemon(peer, args(seconds=2.0))
    start = answering(peer)
    assert peer.wait_for(lambda: any(m.type == "control_change" and m.control == 123
                                     for _, m in peer.messages(since=start)), timeout=8), \
        daemon.log()
    heard = peer.messages(since=start)
    offs = [i for i, (_, m) in enumerate(heard) if m.type == "note_off"
            or (m.type == "note_on" and m.velocity == 0)]
    assert offs, "the answer had no note-off"
    for lost in offs:  # whichever note-off JACK loses (an xrun), the listener ends silent
        survived = heard[:lost] + heard[lost + 1:]
        assert sounding(survived), "the loss is real: without the safety net a note stays on"
        assert not left_sounding(survived), f"note-off #{lost} lost: {left_sounding(survived)}"
    last_off = heard[offs[-1]][0]
    all_off = [t for t, m in heard if m.type == "control_change" and m.control == 123]
    assert all_off[-1] > last_off, "All Notes Off must come after the answer's last note-off"


def test_sigkill_mid_answer_then_a_restart_leaves_nothing_sounding(jack_server, peer,
                                                                   start_daemon):
    first = start_daemon(peer, args())
    start = answering(peer)
    first.process.kill()
    first.process.wait()
    time.sleep(0.2)
    assert sounding(peer.messages(since=start)), "the killed daemon left nothing on: no test"
    assert peer.wait_for(lambda: first.in_name not in jack_server.ports(), timeout=5)
    restarted = time.monotonic()
    second = start_daemon(peer, args(), client_name=first.client_name)
    assert peer.wait_for(lambda: not left_sounding(peer.messages(since=start)), timeout=3), \
        f"still sounding after the restart: {left_sounding(peer.messages(since=start))}" \
        f"\n{second.log()}"
    resets = {m.control for t, m in peer.messages(since=restarted)
              if m.type == "control_change" and m.channel == 0}
    assert resets >= {120, 123}


def jack(tool, server, source, destination):
    subprocess.run([tool, source, destination], env=server.env, check=True, timeout=10,
                   capture_output=True)


def test_a_listener_that_reconnects_mid_answer_is_left_with_nothing_sounding(jack_server, peer,
                                                                             start_daemon):
    # No --connect-output: the listener connects itself, as a synth or a DAW does.
    daemon = start_daemon(None, ["--connect-input", peer.out_name, *args(seconds=8.0)])
    jack("jack_connect", jack_server, daemon.out_name, peer.in_name)
    for away_s in (0.3, 1.0):
        start = answering(peer)
        jack("jack_disconnect", jack_server, daemon.out_name, peer.in_name)
        time.sleep(away_s)  # the answer's note-offs in this time never reach the listener
        jack("jack_connect", jack_server, daemon.out_name, peer.in_name)
        assert peer.wait_for(lambda: not left_sounding(peer.messages(since=start)), timeout=2), \
            f"away {away_s} s: {left_sounding(peer.messages(since=start))}\n{daemon.log()}"
        assert "gained a listener" in daemon.log()
        peer.wait_quiet(0.5, timeout=12, since=start)
