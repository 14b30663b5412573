"""The shipped model's answers follow the player's dynamics: a soft phrase gets a soft answer, a
loud one a loud answer. Uses models/default.onnx through the daemon's runner and engine (no ports).

The model only sends a velocity token when the loudness changes, so the answer has to start at
the loudness the model was last told (the player's); before the context did that, every answer
played at the decoder's default (median 66 for phrases at 40 and at 110 alike).

Also a script: `python tests/test_dynamics.py [MODEL.onnx]` prints the measured figures, and the
loudness the model itself would name next (the expected velocity of its velocity tokens), which
for the models trained so far is the same whatever the phrase's loudness.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import numpy as np

from improvd.daemon.config import Config
from improvd.daemon.engine import Engine
from improvd.daemon.events import Event
from improvd.daemon.runner import load_runner
from improvd.daemon.tokenizers.performance import PerformanceTokenizer

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "default.onnx"
# The opening of the chorale melody "Jesu, meine Freude" (G minor), as (pitch, beats).
PHRASE = [(67, 1), (67, 1), (65, 1), (63, 1), (62, 2), (60, 1), (62, 1),
          (63, 1), (62, 1), (60, 1), (60, 1), (58, 2)]
BEAT_S = 0.4
SOFT, LOUD = 40, 110
ANSWERS = 20  # seeded answers per loudness


class _Output:
    def __init__(self):
        self.sent: list[Event] = []

    def send_event(self, event, channel):
        self.sent.append(event)


def answer_velocities(model_path: Path, velocity: int, seed: int) -> list[int]:
    """Plays PHRASE at `velocity` into a fresh engine; the note-on velocities of its answer."""
    now = [100.0]
    out = _Output()
    config = Config().with_overrides(**{"sampling.seed": seed})
    engine = Engine(config, load_runner(model_path), out, clock=lambda: now[0])

    def advance(seconds: float, step: float = 0.01) -> None:
        end = now[0] + seconds
        while now[0] < end - 1e-9:
            now[0] = min(end, now[0] + step)
            engine.tick(now[0])
            engine.scheduler.run_due(now[0])

    def send(kind: str, pitch: int, vel: int) -> None:
        engine.handle(Event(now[0], kind, pitch, vel, 0), now[0])
        engine.tick(now[0])
        engine.scheduler.run_due(now[0])

    for pitch, beats in PHRASE:
        send("note_on", pitch, velocity)
        advance(beats * BEAT_S * 0.9)
        send("note_off", pitch, 0)
        advance(beats * BEAT_S * 0.1)
    heard = len(out.sent)  # thru echoes of the phrase, if any, come before the answer
    advance(sum(b for _, b in PHRASE) * BEAT_S + 2.0)
    return [e.velocity for e in out.sent[heard:] if e.is_note_on]


def median_answer_velocity(model_path: Path, velocity: int, answers: int = ANSWERS) -> float:
    """The median over `answers` seeded answers of each answer's median note-on velocity."""
    medians = []
    for seed in range(answers):
        velocities = answer_velocities(model_path, velocity, seed)
        if velocities:
            medians.append(statistics.median(velocities))
    assert len(medians) >= answers // 2, f"only {len(medians)} of {answers} answers had notes"
    return statistics.median(medians)


def chosen_velocity(model_path: Path, velocity: int) -> float:
    """After PHRASE at `velocity` and the pause that ends it, the expected velocity of the
    model's next velocity token (its distribution over velocity tokens alone): the loudness the
    model would name if it changed it."""
    tok = PerformanceTokenizer()
    encoder, t, ids = tok.encoder(), 0.0, []
    for pitch, beats in PHRASE:
        ids += encoder.push(Event(t, "note_on", pitch, velocity))
        t += beats * BEAT_S * 0.9
        ids += encoder.push(Event(t, "note_off", pitch, 0))
        t += beats * BEAT_S * 0.1
    ids.append(tok.time_shift(round(0.5 / tok.step_s)))  # the silence that ends the call
    runner = load_runner(model_path)
    for token in ids:
        logits = runner.advance(token)
    v = np.asarray(logits[tok.velocity_offset:tok.velocity_offset + tok.velocity_bins], float)
    p = np.exp(v - v.max())
    return float(p @ [tok.bin_velocity(b) for b in range(tok.velocity_bins)] / p.sum())


def test_the_answer_follows_the_players_dynamics():
    soft = median_answer_velocity(DEFAULT_MODEL, SOFT)
    loud = median_answer_velocity(DEFAULT_MODEL, LOUD)
    # A phrase played at 40 gets an answer well below the middle, one at 110 well above it.
    assert soft < 60 < 75 < loud, f"median answer velocity {soft} (played {SOFT}), " \
                                  f"{loud} (played {LOUD})"


if __name__ == "__main__":
    model = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_MODEL
    for played in (SOFT, LOUD):
        print(f"{model}: played at {played} -> median answer velocity "
              f"{median_answer_velocity(model, played)}, expected velocity of its velocity "
              f"tokens {chosen_velocity(model, played):.1f}")
