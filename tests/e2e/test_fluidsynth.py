"""A real synth on the daemon's output: fluidsynth plays the answer, and its audio is recorded."""

from __future__ import annotations

import re
import subprocess
import tempfile
import time

import pytest

from .audio_helpers import peak_and_rms, start_recording
from .jack_helpers import die_with_parent, sounding, unique

pytestmark = [pytest.mark.e2e, pytest.mark.kept_time]  # judged where JACK kept time

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


@pytest.fixture
def fluidsynth(jack_server):
    """fluidsynth with JACK MIDI in and JACK audio out (the dummy driver clocks it)."""
    name = unique("fluid")
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - lives as long as fluidsynth
    # -v prints every MIDI event it plays; the shell stays open on a pipe we close at the end.
    proc = subprocess.Popen(
        ["fluidsynth", "-a", "jack", "-m", "jack", "-v", "-r", "48000",
         "-o", f"audio.jack.id={name}", "-o", f"midi.jack.id={name}",
         "-o", "audio.jack.autoconnect=0", SOUNDFONT],
        stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=jack_server.env,
        process_group=0, preexec_fn=die_with_parent)  # noqa: PLW1509
    deadline = time.monotonic() + 30
    while f"{name}:midi_00" not in jack_server.ports():
        assert proc.poll() is None and time.monotonic() < deadline, "fluidsynth did not start"
        time.sleep(0.1)

    def output() -> str:
        log.seek(0)
        return log.read()

    yield name, output
    proc.stdin.close()  # end of its shell: it quits
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_fluidsynth_plays_the_answer(jack_server, peer, fluidsynth, start_daemon, tmp_path):
    synth, synth_output = fluidsynth
    daemon = start_daemon(None, ["--connect-input", peer.out_name,
                                 "--connect-output", f"{synth}:midi", "--silence-ms", "300",
                                 "--seed", "8"])
    subprocess.run(["jack_connect", daemon.out_name, peer.in_name], env=jack_server.env,
                   check=True, timeout=10)
    wav = tmp_path / "synth.wav"
    seconds = 6
    recorder = start_recording(jack_server, [f"{synth}:left", f"{synth}:right"], wav, seconds)
    recording_from = time.monotonic()
    time.sleep(0.5)  # half a second of the synth before anything is played: silence
    start = time.monotonic()
    ended = peer.play([60, 64, 67, 72, 67, 64])
    assert peer.wait_for(lambda: peer.note_ons(since=start), timeout=4), daemon.log()
    peer.wait_quiet(1.0, timeout=10)
    recorder.wait(timeout=seconds + 10)
    answer = peer.note_ons(since=start)
    assert not sounding(peer.messages(since=start))

    # The synth received the very notes the peer heard, on the answer's channel (0)...
    played = [(int(ch), int(p), int(v)) for ch, p, v in
              re.findall(r"noteon\s+(\d+)\s+(\d+)\s+(\d+)", synth_output())]
    for _, msg in answer:
        assert (msg.channel, msg.note, msg.velocity) in played, synth_output()[-2000:]
    # ...and made sound with them: silent before the answer, audible during it.
    first = answer[0][0] - recording_from
    before_peak, _ = peak_and_rms(wav, 0.05, 0.45)
    peak, rms = peak_and_rms(wav, max(0.0, first - 0.05), min(first + 1.5, seconds))
    assert before_peak == 0
    assert peak > 300 and rms > 10, f"answer audio peak {peak}, rms {rms:.1f}"
    assert ended < answer[0][0]
