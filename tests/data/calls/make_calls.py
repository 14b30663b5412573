"""Writes the hand-written calls in this folder: short phrases a player might offer, as MIDI.

    python tests/data/calls/make_calls.py        # rewrites the .mid files beside this script

Each call states its tempo, key and meter (also written into the file as MIDI meta messages, so a
DAW shows them) and is two bars or about 4-8 s long, with no rest long enough to end the call.
Notes are written in beats from the start of the phrase; `swing(b)` moves an off-beat eighth to
two thirds of the beat. A tuple of pitches is a chord.

| call               | tempo | meter | key      | what it tests                                  |
|--------------------|-------|-------|----------|------------------------------------------------|
| swing_blues_riff   | 120   | 4/4   | C major  | swung eighths, blue notes (Eb, Bb)             |
| block_triads       | 90    | 4/4   | C major  | three-note chords, I-IV-V-I in half notes      |
| waltz              | 150   | 3/4   | G major  | oom-pah-pah, accent on one                     |
| odd_meter_5_4      | 140   | 5/4   | D minor  | 3+2 grouping, accents on beats 1 and 4         |
| fast_16th_run      | 100   | 4/4   | A minor  | sixteenths up and down the scale               |
| legato_melody      | 72    | 4/4   | F major  | long overlapping notes                         |
| staccato_riff      | 128   | 4/4   | E minor  | short detached eighths                         |
| accented_phrase    | 110   | 4/4   | Bb major | loud beats, soft off-beats                     |
| slow_crescendo     | 66    | 4/4   | Eb major | quarter notes from pp to ff                    |
| triplets           | 96    | 4/4   | D major  | eighth-note triplet arpeggios                  |
"""

from __future__ import annotations

from pathlib import Path

import mido

from improvd.daemon.midi_events import with_delta_times

TICKS_PER_BEAT = 480
NAMES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def p(name: str) -> int:
    """'C4' -> 60, 'F#3' -> 54, 'Bb4' -> 70."""
    letter, rest = name[0], name[1:]
    shift = rest.count("#") - rest.count("b")
    return 12 * (int(rest.lstrip("#b")) + 1) + NAMES[letter] + shift


def swing(beat: float) -> float:
    """An off-beat eighth (x.5) played two thirds into the beat."""
    whole = int(beat)
    return whole + 2 / 3 if beat - whole == 0.5 else beat


def notes(*items):
    """(beat, length in beats, pitch name or tuple of names, velocity) -> note tuples."""
    out = []
    for beat, length, pitches, velocity in items:
        for name in (pitches if isinstance(pitches, tuple) else (pitches,)):
            out.append((beat, length, p(name), velocity))
    return out


def swing_blues_riff():
    melody = [(0, "C4"), (0.5, "Eb4"), (1, "E4"), (1.5, "G4"), (2, "A4"), (2.5, "G4"),
              (3, "Bb4"), (3.5, "A4"), (4, "G4"), (4.5, "E4"), (5, "Eb4"), (5.5, "C4"),
              (6, "G3"), (7, "C4")]
    return notes(*[(swing(b), 0.3 if b % 1 else 0.55, n, 96 if b % 1 == 0 else 72)
                   for b, n in melody[:-1]], (7, 0.9, "C4", 100))


def block_triads():
    return notes((0, 1.9, ("C4", "E4", "G4"), 80), (2, 1.9, ("C4", "F4", "A4"), 80),
                 (4, 1.9, ("B3", "D4", "G4"), 84), (6, 1.9, ("C4", "E4", "G4"), 78))


def waltz():
    bars = [("G2", ("B3", "D4")), ("D3", ("C4", "D4", "F#4")), ("G2", ("B3", "D4", "G4")),
            ("D3", ("A3", "C4", "F#4"))]
    out = []
    for i, (bass, chord) in enumerate(bars):
        out += notes((3 * i, 0.9, bass, 100), (3 * i + 1, 0.6, chord, 62),
                     (3 * i + 2, 0.6, chord, 62))
    return out


def odd_meter_5_4():
    line = ["D4", "F4", "A4", "F4", "E4", "G4", "A4", "C5", "Bb4", "A4",
            "D5", "C5", "A4", "F4", "G4", "E4", "F4", "E4", "D4", "D4"]
    # 3 + 2: the group starts (beats 1 and 4 of each bar) are loud.
    return notes(*[(i * 0.5, 0.45, n, 104 if (i % 10) in (0, 6) else 70)
                   for i, n in enumerate(line)])


def fast_16th_run():
    scale = ["A3", "B3", "C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5", "D5", "E5", "F5", "G5",
             "A5", "G5"]
    run = scale + scale[::-1][1:] + ["A3"]
    return notes(*[(i * 0.25, 0.22, n, 84 if i % 4 == 0 else 72) for i, n in enumerate(run)])


def legato_melody():
    # Each note lasts a little past the next one's start, as a pianist's legato does.
    line = [(0, 1.5, "C4"), (1.5, 0.5, "F4"), (2, 1, "A4"), (3, 1, "G4"), (4, 2, "F4"),
            (6, 1, "E4"), (7, 1, "F4")]
    return notes(*[(b, length + 0.08, n, 70) for b, length, n in line])


def staccato_riff():
    line = ["E4", "E4", "G4", "E4", "A4", "E4", "B4", "A4",
            "E4", "E4", "G4", "E4", "D5", "B4", "A4", "G4"]
    return notes(*[(i * 0.5, 0.15, n, 92) for i, n in enumerate(line)])


def accented_phrase():
    line = ["Bb3", "D4", "F4", "D4", "Eb4", "G4", "Bb4", "G4",
            "F4", "A4", "C5", "A4", "Bb4", "F4", "D4", "Bb3"]
    return notes(*[(i * 0.5, 0.4, n, 118 if i % 2 == 0 else 52) for i, n in enumerate(line)])


def slow_crescendo():
    line = ["Eb4", "F4", "G4", "Ab4", "Bb4", "C5", "D5", "Eb5"]
    return notes(*[(i, 0.9, n, 35 + round(75 * i / 7)) for i, n in enumerate(line)])


def triplets():
    arps = [("D4", "F#4", "A4"), ("G4", "B4", "D5"), ("A4", "C#5", "E5"), ("D5", "A4", "F#4")]
    out = []
    for beat in range(8):
        for k, n in enumerate(arps[beat // 2]):
            out += notes((beat + k / 3, 0.3, n, 90 if k == 0 else 70))
    return out


# name -> (phrase, bpm, beats per bar, key as MIDI names it)
CALLS = {
    "swing_blues_riff": (swing_blues_riff, 120, 4, "C"),
    "block_triads": (block_triads, 90, 4, "C"),
    "waltz": (waltz, 150, 3, "G"),
    "odd_meter_5_4": (odd_meter_5_4, 140, 5, "Dm"),
    "fast_16th_run": (fast_16th_run, 100, 4, "Am"),
    "legato_melody": (legato_melody, 72, 4, "F"),
    "staccato_riff": (staccato_riff, 128, 4, "Em"),
    "accented_phrase": (accented_phrase, 110, 4, "Bb"),
    "slow_crescendo": (slow_crescendo, 66, 4, "Eb"),
    "triplets": (triplets, 96, 4, "D"),
}


def to_midi(phrase, bpm: int, beats_per_bar: int, key: str, title: str) -> mido.MidiFile:
    timed = []
    for beat, length, pitch, velocity in phrase:
        start = round(beat * TICKS_PER_BEAT)
        end = round((beat + length) * TICKS_PER_BEAT)
        timed.append((start, 1, mido.Message("note_on", note=pitch, velocity=velocity)))
        timed.append((end, 0, mido.Message("note_off", note=pitch, velocity=0)))
    timed.sort(key=lambda x: (x[0], x[1], x[2].note))
    track = mido.MidiTrack([
        mido.MetaMessage("track_name", name=title),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)),
        mido.MetaMessage("time_signature", numerator=beats_per_bar, denominator=4),
        mido.MetaMessage("key_signature", key=key),
    ])
    track.extend(with_delta_times((tick, msg) for tick, _, msg in timed))
    midi = mido.MidiFile(ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(track)
    return midi


def build(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (make, bpm, beats_per_bar, key) in CALLS.items():
        path = folder / f"{name}.mid"
        title = f"{name}: {bpm} bpm, {beats_per_bar}/4, {key}"
        to_midi(make(), bpm, beats_per_bar, key, title).save(path)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in build(Path(__file__).resolve().parent):
        print(path.name)
