"""render.trim_silent_tail: a rendered WAV ends half a second after its last audible sample."""

from __future__ import annotations

import wave

import numpy as np

from improvd.training.render import TAIL_S, trim_silent_tail

RATE = 8000


def write(path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.repeat(samples, 2).astype("<i2").tobytes())


def frames(path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getframerate()) == (2, RATE)
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)


def test_a_long_near_silent_tail_is_cut_and_the_music_kept(tmp_path):
    tone = (3000 * np.sin(np.arange(RATE) * 0.3)).astype(np.int16)  # 1 s
    hiss = np.where(np.arange(20 * RATE) % 2, 5, -5).astype(np.int16)  # 20 s of -76 dBFS
    wav = tmp_path / "a.wav"
    write(wav, np.concatenate([tone, hiss]))
    trim_silent_tail(wav)
    kept = frames(wav)
    last_audible = np.flatnonzero(np.abs(tone) > 32)[-1]
    assert len(kept) == last_audible + 1 + int(TAIL_S * RATE)
    assert np.array_equal(kept[:RATE, 0], tone)


def test_a_wav_without_a_silent_tail_is_left_as_it_is(tmp_path):
    tone = (3000 * np.sin(np.arange(RATE) * 0.3)).astype(np.int16)
    wav = tmp_path / "b.wav"
    write(wav, tone)
    before = wav.read_bytes()
    trim_silent_tail(wav)
    assert wav.read_bytes() == before
