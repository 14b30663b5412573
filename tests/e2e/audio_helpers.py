"""Recording a JACK synth's audio (jack_rec) and measuring it: silence, or sound."""

from __future__ import annotations

import array
import subprocess
import time
import wave


def start_recording(jack_server, ports: list[str], wav, seconds: float) -> subprocess.Popen:
    """jack_rec of `ports` into `wav` for `seconds`, returned once it is connected."""
    recorder = subprocess.Popen(["jack_rec", "-f", str(wav), "-d", str(seconds), *ports],
                                env=jack_server.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while "jackrec:input1" not in jack_server.connections():
        assert recorder.poll() is None and time.monotonic() < deadline, "jack_rec did not start"
        time.sleep(0.02)
    return recorder


def peak_and_rms(path, start_s, end_s):
    with wave.open(str(path)) as w:
        rate, channels = w.getframerate(), w.getnchannels()
        assert w.getsampwidth() == 2
        w.setpos(int(start_s * rate))
        frames = w.readframes(int((end_s - start_s) * rate))
    samples = array.array("h", frames)[::channels]
    if not samples:
        return 0, 0.0
    return max(abs(s) for s in samples), (sum(s * s for s in samples) / len(samples)) ** 0.5
