"""When the answer starts and ends: on the call's pulse, not at a fixed delay after it.

The answer comes in on the call's next beat (or bar line, `answer_start = "bar"`, when the call
showed a meter) and lasts a whole number of beats (bars), so its phrase ends on the grid too.
A call without a steady pulse, or `answer_start = "now"`, is answered at once, as before. With
`answer_bars` (and a meter: a DAW's clock, or a call that showed one) the answer lasts that many
bars and ends on a bar line.
"""

from __future__ import annotations

from dataclasses import dataclass

from .analysis import CallAnalysis
from .config import PolicyConfig

MARGIN_S = 0.005  # the first note must be computed before it is due: a beat closer is skipped


@dataclass(frozen=True)
class Handover:
    start: float  # real time the answer starts
    end: float  # real time it ends
    on: str  # "beat", "bar" or "now": what the start is aligned to

    def describe(self, now: float) -> str:
        wait = 1000 * (self.start - now)
        where = "at once" if self.on == "now" else f"on the next {self.on}, in {wait:.0f} ms"
        return f"answering {where} for {self.end - self.start:.1f} s"


def plan_answer(analysis: CallAnalysis | None, cfg: PolicyConfig, now: float,
                length_s: float) -> Handover:
    pulse = analysis.pulse if analysis is not None else None
    if pulse is None or cfg.answer_start == "now":
        return Handover(now, now + length_s, "now")
    by_bar = cfg.answer_start == "bar" and pulse.beats_per_bar is not None
    earliest = now + MARGIN_S
    start = pulse.next_bar(earliest) if by_bar else pulse.next_beat(earliest)
    unit = pulse.beats_per_bar if by_bar else 1
    if cfg.answer_bars and pulse.beats_per_bar is not None:
        return Handover(start, _bar_end(pulse, start, cfg), "bar" if by_bar else "beat")
    units = max(1, round(length_s / (pulse.beat_s * unit)))
    while units > 1 and units * unit * pulse.beat_s > cfg.max_response_s:
        units -= 1
    return Handover(start, start + units * unit * pulse.beat_s, "bar" if by_bar else "beat")


def _bar_end(pulse, start: float, cfg: PolicyConfig) -> float:
    """answer_bars bar lines after the start (one that falls within half a beat of the start
    does not count), fewer when that would pass max_response_s."""
    bar_s = pulse.beat_s * pulse.beats_per_bar
    first = pulse.next_bar(start + pulse.beat_s / 2)
    bars = cfg.answer_bars
    while bars > 1 and first + (bars - 1) * bar_s - start > cfg.max_response_s:
        bars -= 1
    return first + (bars - 1) * bar_s
