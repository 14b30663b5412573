"""Random MIDI for the fuzz test and the fuzz benchmark: any channel message, now and then stray
bytes (a data byte alone, a status byte without its data), as a broken cable or program sends."""

from __future__ import annotations

import random

_STATUSES = (0x80, 0x90, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0)  # note-ons twice: keys get held


def random_message(rng: random.Random) -> list[int]:
    if rng.random() < 0.02:
        return [rng.randrange(256) for _ in range(rng.randrange(1, 4))]
    status = rng.choice(_STATUSES) | rng.randrange(16)
    size = 2 if status >> 4 in (0xC, 0xD) else 3
    return [status] + [rng.randrange(128) for _ in range(size - 1)]


def send_random(peer, count: int, seed: int, per_burst: int = 200, pause_s: float = 0.002) -> None:
    """Send `count` random messages from a MidiPeer, `per_burst` at a time: JACK carries one
    cycle's worth at a time, and a producer that outruns it only loses its own messages."""
    import time

    rng = random.Random(seed)
    for i in range(count):
        peer.send_raw(random_message(rng))
        if i % per_burst == per_burst - 1:
            time.sleep(pause_s)
