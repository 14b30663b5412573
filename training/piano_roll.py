"""Piano rolls of a call and its answers: look at these before believing a number.

One row per system (the model, each baseline): the call's notes in blue, the answer's in orange
(darker = louder), thin grey lines on the beats of the call's pulse carried through the answer
(darker on bar lines when the meter is known), a dashed line where the answer was due to end.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from improvd.daemon.atomic import atomic_path
from improvd.daemon.events import Note

log = logging.getLogger(__name__)

CALL_COLOUR = "#2b6cb0"
ANSWER_COLOUR = "#dd6b20"
NAMES = {0: "C", 2: "D", 4: "E", 5: "F", 7: "G", 9: "A", 11: "B"}


def _draw_notes(ax, notes: Sequence[Note], colour: str) -> None:
    from matplotlib.patches import Rectangle

    for n in notes:
        alpha = 0.35 + 0.65 * min(127, max(1, n.velocity)) / 127
        ax.add_patch(Rectangle((n.start, n.pitch - 0.4), max(n.end - n.start, 0.01), 0.8,
                               facecolor=colour, edgecolor="black", linewidth=0.3, alpha=alpha))


def _draw_beats(ax, pulse, start: float, end: float) -> None:
    if pulse is None:
        return
    first = pulse.next_beat(start)
    bar = pulse.beats_per_bar if pulse.downbeat is not None else None
    for k in range(int((end - first) / pulse.beat_s) + 1):
        t = first + k * pulse.beat_s
        on_bar = bar and abs(((t - pulse.downbeat) / pulse.beat_s) % bar) < 1e-3
        ax.axvline(t, color="0.35" if on_bar else "0.75", linewidth=1.0 if on_bar else 0.6,
                   zorder=0)


def plot_call_and_answers(path: Path, call: Sequence[Note],
                          answers: Mapping[str, tuple[Sequence[Note], float | None]],
                          pulse=None, title: str = "") -> Path:
    """answers: system name -> (answer notes, time the answer was due to end). Writes a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    every = list(call) + [n for notes, _ in answers.values() for n in notes]
    start = min(n.start for n in every)
    end = max([n.end for n in every] + [e for _, e in answers.values() if e is not None])
    low = min(n.pitch for n in every) - 2
    high = max(n.pitch for n in every) + 2
    rows = max(1, len(answers))
    height = min(3.2, max(1.6, (high - low) * 0.12))
    fig, axes = plt.subplots(rows, 1, figsize=(11, 0.6 + height * rows), sharex=True,
                             squeeze=False)
    for ax, (system, (notes, due_end)) in zip(axes[:, 0], answers.items()):
        _draw_beats(ax, pulse, start, end)
        _draw_notes(ax, call, CALL_COLOUR)
        _draw_notes(ax, notes, ANSWER_COLOUR)
        if due_end is not None:
            ax.axvline(due_end, color="black", linestyle="--", linewidth=0.8)
        ax.set_ylim(low, high)
        ax.set_ylabel(f"{system}\npitch")
        # Every white key in a narrow range, C-E-G in a middling one, else C and G.
        span = high - low
        marks = (0, 2, 4, 5, 7, 9, 11) if span <= 14 else (0, 4, 7) if span <= 30 else (0, 7)
        ticks = [t for t in range(low, high + 1) if t % 12 in marks]
        ax.set_yticks(ticks, [f"{NAMES[t % 12]}{t // 12 - 1}" for t in ticks])
        for t in ticks:
            ax.axhline(t, color="0.92", linewidth=0.5, zorder=0)
    axes[-1, 0].set_xlim(start - 0.1, end + 0.1)
    axes[-1, 0].set_xlabel("seconds (blue: call, orange: answer, grey: the call's beats)")
    if title:
        axes[0, 0].set_title(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return path
