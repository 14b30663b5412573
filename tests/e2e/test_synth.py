"""`improvd run --synth` on JACK: the daemon starts fluidsynth itself, plays the answer (and with
--thru the call) through it, and stops it on exit. The synth's audio is recorded with jack_rec."""

from __future__ import annotations

import re
import time

import pytest

from improvd.daemon.synth import sound_card

from .audio_helpers import peak_and_rms, start_recording
from .jack_helpers import sounding

pytestmark = [pytest.mark.e2e, pytest.mark.kept_time]  # judged where JACK kept time

PHRASE = [60, 64, 67, 72, 67, 64]
AUDIBLE_PEAK, AUDIBLE_RMS = 300, 10


def synth_of(daemon) -> str:
    found = re.search(r"fluidsynth (\S+) playing through jack", daemon.log())
    assert found, daemon.log()
    return found.group(1)


def connected(jack_server, port: str) -> list[str]:
    """The ports `port` is connected to (jack_lsp -c: a port, then its connections indented)."""
    found, inside = [], False
    for line in jack_server.connections().splitlines():
        if not line.startswith((" ", "\t")):
            inside = line == port
        elif inside:
            found.append(line.strip())
    return found


def test_synth_plays_the_answer_and_is_stopped_with_the_daemon(jack_server, peer, start_daemon,
                                                               tmp_path):
    daemon = start_daemon(peer, ["--synth", "--silence-ms", "300", "--seed", "8"])
    synth = synth_of(daemon)
    assert f"{synth}:midi_00" in connected(jack_server, daemon.out_name)
    if not sound_card():  # JACK's dummy driver: the daemon says that nothing is heard
        assert "no sound card here" in daemon.log()
    wav, seconds = tmp_path / "synth.wav", 6
    recorder = start_recording(jack_server, [f"{synth}:left", f"{synth}:right"], wav, seconds)
    recording_from = time.monotonic()
    time.sleep(0.5)  # the synth before anything is played: silence
    start = time.monotonic()
    ended = peer.play(PHRASE)
    assert peer.wait_for(lambda: peer.note_ons(since=start), timeout=4), daemon.log()
    peer.wait_quiet(1.0, timeout=10)
    recorder.wait(timeout=seconds + 10)
    answer = peer.note_ons(since=start)
    assert not sounding(peer.messages(since=start))
    first = answer[0][0] - recording_from
    assert ended < answer[0][0]
    # Without --thru the player's notes never reach the synth: silent until the answer...
    before_peak, _ = peak_and_rms(wav, 0.05, first - 0.01)
    assert before_peak == 0, f"sound before the answer (peak {before_peak})"
    # ...and audible during it.
    peak, rms = peak_and_rms(wav, first, min(first + 1.5, seconds))
    assert peak > AUDIBLE_PEAK and rms > AUDIBLE_RMS, f"answer audio peak {peak}, rms {rms:.1f}"

    assert daemon.terminate() == 0
    assert f"{synth}:" not in "\n".join(jack_server.ports()), "the synth outlived the daemon"


def test_synth_with_thru_plays_the_players_notes_too(jack_server, peer, start_daemon, tmp_path):
    # The answer on channel 2, so that the peer (and the synth's programs) tell it from the call.
    daemon = start_daemon(peer, ["--synth", "--thru", "--output-channel", "2",
                                 "--silence-ms", "400", "--seed", "8"])
    synth = synth_of(daemon)
    wav, seconds = tmp_path / "thru.wav", 3
    recorder = start_recording(jack_server, [f"{synth}:left", f"{synth}:right"], wav, seconds)
    recording_from = time.monotonic()
    time.sleep(0.3)
    start = time.monotonic()
    peer.play(PHRASE[:3])
    recorder.wait(timeout=seconds + 10)
    answer = [t for t, m in peer.note_ons(since=start) if m.channel == 1]
    assert [m.note for _, m in peer.note_ons(since=start) if m.channel == 0] == PHRASE[:3]
    heard_until = (answer[0] if answer else start + seconds) - recording_from
    # The call itself sounds, before any answer note was sent.
    peak, rms = peak_and_rms(wav, start - recording_from, heard_until)
    assert peak > AUDIBLE_PEAK and rms > AUDIBLE_RMS, f"call audio peak {peak}, rms {rms:.1f}"
    peer.wait_quiet(1.0, timeout=10)
