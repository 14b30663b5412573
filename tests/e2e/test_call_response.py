"""`improvd run` on a real JACK server, played by a MIDI client with real timing."""

from __future__ import annotations

import time

import pytest

from .jack_helpers import sounding

pytestmark = pytest.mark.e2e

SILENCE_S = 0.4
# The answer may start a little before silence_ms by the clock of this process: JACK delivers MIDI
# on cycle boundaries (1.3 ms here) and both processes stamp on arrival.
JITTER_S = 0.02
PHRASE = [60, 62, 64, 65, 67, 65, 64, 62]


def call_and_answer(peer, pitches=PHRASE, quiet_s=1.0, daemon=None):
    """Play a phrase, wait for the answer to start and then to end; returns (sent, first answer)."""
    start = time.monotonic()
    ended = peer.play(pitches)
    log = f"; daemon log:\n{daemon.log()[-3000:]}" if daemon else ""
    assert peer.wait_for(lambda: peer.note_ons(since=start), timeout=SILENCE_S + 3), \
        "no answer within silence_ms + 3 s" + log
    first = peer.note_ons(since=start)[0][0]
    # The answer lasts about as long as the call; its notes must all end well within that.
    assert peer.wait_quiet(quiet_s, timeout=ended - start + 5, since=start), \
        f"notes left sounding: {sounding(peer.messages(since=start))}{log}"
    return start, ended, first


def test_answer_starts_after_the_silence_lasts_as_long_as_the_call_and_closes_its_notes(
        peer, start_daemon):
    daemon = start_daemon(peer, ["--silence-ms", str(int(SILENCE_S * 1000)), "--seed", "1"])
    start, ended, first = call_and_answer(peer, daemon=daemon)
    # A busy machine may stretch a gap of the phrase past silence_ms: then the daemon rightly
    # answers there. Either way an answer starts only once silence_ms has passed since the player's
    # last message, and the end of the phrase gets one promptly.
    for t, _ in peer.note_ons():
        assert t - peer.last_sent_before(t) >= SILENCE_S - JITTER_S, \
            f"a note-on {t - peer.last_sent_before(t):.3f} s after the player's last message"
    final = peer.note_ons(since=ended)
    # "Promptly" leaves room for a machine busy with other work (CI, training jobs).
    assert final and final[0][0] - ended < SILENCE_S + 1.5, \
        f"no prompt answer to the phrase's end; daemon log:\n{daemon.log()[-3000:]}"
    answer = peer.messages(since=start)
    last = answer[-1][0]
    call_s = ended - start
    # (0.6 s of slack: a busy machine delays both the call's notes and the answer's last sends.)
    assert last - first <= call_s + 0.6, \
        f"answer lasted {last - first:.2f} s for a {call_s:.2f} s call (response = \"call\")"
    assert not sounding(answer), f"notes left sounding: {sounding(answer)}"
    assert all(m.channel == 0 for _, m in answer)  # output_channel = 1
    assert daemon.process.poll() is None


def test_barge_in_cuts_the_answer(peer, start_daemon, config_file):
    config = config_file({"policy": {"silence_ms": int(SILENCE_S * 1000), "response": 8.0,
                                     "barge_in": "stop"},
                          "sampling": {"seed": 3}})
    start_daemon(peer, ["--config", str(config)])
    start = time.monotonic()
    ended = peer.play(PHRASE[:4])
    assert peer.wait_for(lambda: sounding(peer.messages(since=start)), timeout=SILENCE_S + 3), \
        "the answer never had a note sounding"
    barge = time.monotonic()
    held_at_barge = sounding(peer.messages(since=start))
    release = peer.play([72], note_s=0.3, gap_s=0.0)
    # Everything sounding at the barge-in is released promptly...
    closed = peer.wait_for(lambda: not sounding(peer.messages(since=start)), timeout=1.0)
    assert held_at_barge and closed, \
        f"still sounding after barge-in: {sounding(peer.messages(since=start))}"
    heard = peer.messages(since=start)
    cut = next(t for i, (t, _) in enumerate(heard)
               if t >= barge and not sounding(heard[:i + 1]))
    # (0.3 s leaves room for a busy machine; on an idle one this takes a few milliseconds.)
    assert cut - barge < 0.3, f"notes released {cut - barge:.3f} s after the barge-in"
    # ...and the 8-second answer plays no new note until the barge-in phrase is answered.
    late = peer.note_ons(since=cut + 0.005, until=release + SILENCE_S - JITTER_S)
    assert late == [], f"note-ons after the barge-in cut the answer: {late}"
    assert ended < barge


def test_hostile_input_neither_crashes_nor_sticks_a_note(peer, start_daemon):
    import mido
    daemon = start_daemon(peer, ["--silence-ms", str(int(SILENCE_S * 1000)), "--seed", "2"])
    junk = [[0x3C, 0x40], [0x40], [0x80], [0x00, 0x00], [0x90, 0x40], [0xB0], [0xF4, 0x10],
            [0xF5], [0xF9], [0xFD], [0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7], [0xF0, 0x01, 0x02],
            [0xF7], [0xF8], [0xFE], [0xFF], [0xE0, 0x00, 0x40], [0xC0, 0x05], [0xD0, 0x7F]]
    for data in junk:
        peer.send_raw(data)
    # Note-offs for keys never pressed, and velocity-0 note-ons (note-offs by the standard).
    for pitch in (0, 60, 127):
        peer.send(mido.Message("note_off", note=pitch, velocity=64, channel=5))
        peer.send(mido.Message("note_on", note=pitch, velocity=0))
    # 10,000 events as fast as JACK takes them: notes, pedal, controllers on all channels.
    burst = []
    for i in range(5000):
        pitch, channel = (i * 7) % 128, i % 16
        if i % 50 == 0:
            burst.append(mido.Message("control_change", control=64, value=127 * (i // 50 % 2),
                                      channel=channel))
        else:
            burst.append(mido.Message("note_on", note=pitch, velocity=1 + i % 127,
                                      channel=channel))
        burst.append(mido.Message("note_off", note=pitch, channel=channel))
    sent = 0
    for i in range(0, len(burst), 40):  # 40 per JACK cycle fit in its MIDI buffers
        for msg in burst[i:i + 40]:
            peer.send(msg)
            sent += 1
        time.sleep(0.0015)
    assert sent == 10_000
    for channel in range(16):  # pedal up everywhere, as a player would end
        peer.send(mido.Message("control_change", control=64, value=0, channel=channel))
    # The burst is a call too: the daemon may need a while to work through it and answer. Whatever
    # it answers, that ends, and then a normal phrase gets a normal answer.
    peer.wait_for(lambda: peer.note_ons(), timeout=10)
    assert peer.wait_quiet(1.5, timeout=40), "the daemon never went quiet after the burst"
    assert daemon.process.poll() is None, daemon.log()
    _, _, first = call_and_answer(peer, daemon=daemon)
    assert first - peer.last_sent_before(first) >= SILENCE_S - JITTER_S, daemon.log()[-3000:]
    assert not sounding(peer.messages()), f"stuck notes: {sounding(peer.messages())}"
    assert daemon.process.poll() is None, daemon.log()
    assert "Traceback" not in daemon.log(), daemon.log()[-4000:]
