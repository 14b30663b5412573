"""How early the answer is sent: a synth's known latency plus half a backend cycle.

A synth that takes output_latency_ms to sound a note sounds it on the beat when the note is
sent that much early. JACK passes on what a client writes at its next cycle: sent half a period
early, a note lands in the cycle nearest its time rather than always in the one after.
"""

from __future__ import annotations


def send_ahead_s(midi_config, output) -> float:
    """midi_config: the [midi] settings; output: the port (its period_s, where it has one)."""
    return midi_config.output_latency_ms / 1000 + getattr(output, "period_s", 0.0) / 2
