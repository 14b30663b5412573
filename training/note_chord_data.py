"""Note/Chord token data, as the music21 seeds (002-004) read it.

Every file is parsed with music21; its `flatten().notes` become tokens: a Note -> its pitch name
("C#4"), a Chord -> its normalOrder joined by '.' ("0.4.7"). Files are parsed in parallel
(ProcessPoolExecutor, as seed 003) and the source's tokens go to the one parse cache (cache.py),
keyed by its files' paths, sizes and modification times.

Sources:
  music21:piano         the piano works bundled with music21 (the seeds' game-music and Chopin
                        MIDI files are not available; these are the closest bundled material)
  music21:<composer>    every corpus file of a composer, e.g. music21:bach
  a folder              every .mid/.midi/.abc/.krn/.mxl/.xml/.musicxml file under it
  a file                one such file; an ABC file may hold many tunes (one piece each)
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import cache
from .dataset import make_windows
from .errors import SourceError
from .sources import files_under, parse_all

log = logging.getLogger(__name__)

CACHE_VERSION = 2  # bump when parsing changes what a cached piece holds
SUFFIXES = (".mid", ".midi", ".abc", ".krn", ".mxl", ".xml", ".musicxml")
# "music21:piano" for the Note/Chord seeds: twelve solo piano (or piano-accompanied) scores of
# music21's corpus, one file each. Not sources.PIANO_WORKS (path prefixes, every movement, for the
# event sources): each list is the data its recipes' published figures were measured on.
SEED_PIANO_SCORES = (
    "chopin/mazurka06-2.krn",
    "joplin/maple_leaf_rag.mxl",
    "mozart/k545/movement1_exposition.mxl",
    "cpebach/h186.mxl",
    "schumann_clara/polonaise_op1n1.mxl",
    "schumann_clara/polonaise_op1n2.mxl",
    "schumann_clara/polonaise_op1n3.mxl",
    "schumann_clara/polonaise_op1n4.mxl",
    "schoenberg/opus19",
    "schubert/Lindenbaum.xml",
    "beach/prayer_of_a_tired_child.musicxml",
    "liliuokalani/aloha_oe.mxl",
)
KEYBOARD_WORDS = ("piano", "keyboard", "harpsichord", "clavier")


class NoteChordDataError(SourceError):
    """A source that yields no usable Note/Chord tokens, with the source named (a SourceError,
    so the command line reports it as a one-line user error)."""


@dataclass(frozen=True)
class TokenPiece:
    name: str
    tokens: list[str]


# --- parsing (runs in worker processes) ----------------------------------------------------------
def stream_tokens(stream, piano_only: bool = False) -> list[str]:
    """A music21 stream -> Note/Chord token strings, in the order of `flatten().notes`."""
    from music21 import chord, note

    if piano_only and hasattr(stream, "parts") and len(stream.parts) > 0:
        # Seed 003 keeps only the piano part; a score that names no keyboard part keeps all.
        keys = [p for p in stream.parts if any(w in _part_label(p) for w in KEYBOARD_WORDS)]
        if keys:
            from music21 import stream as m21stream
            stream = m21stream.Score(keys)
    tokens = []
    for element in stream.flatten().notes:
        if isinstance(element, note.Note):
            tokens.append(str(element.pitch))
        elif isinstance(element, chord.Chord) and element.pitches:
            tokens.append(".".join(str(pc) for pc in element.normalOrder))
    return tokens


def _part_label(part) -> str:
    inst = part.getInstrument(returnDefault=False)
    names = [str(part.partName or ""), str(inst.instrumentName or "") if inst else "",
             type(inst).__name__ if inst else ""]
    return " ".join(names).lower()


def parse_file(path: str, piano_only: bool = False) -> list[tuple[str, list[str]]]:
    """One file -> [(piece name, tokens)]; an ABC or other opus file gives one piece per tune."""
    from music21 import converter, corpus, stream

    if path.lower().endswith(".abc") and Path(path).exists():
        # music21's own message for a file without tunes is about tokens and splits.
        text = Path(path).read_text(errors="replace")
        if not any(line.startswith(("X:", "K:")) for line in text.splitlines()):
            raise NoteChordDataError(f"{path}: no ABC tunes in it (no X: or K: header line)")
    try:
        parsed = corpus.parse(path) if not Path(path).exists() else converter.parse(path)
    except Exception as exc:  # noqa: BLE001 - music21 raises many unrelated types for bad files
        raise NoteChordDataError(f"{path}: music21 cannot read it ({type(exc).__name__}: {exc})") \
            from None
    scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
    stem = Path(path).stem if Path(path).exists() else path
    out = []
    for i, score in enumerate(scores):
        name = stem if len(scores) == 1 else f"{stem}#{i + 1}"
        out.append((name, stream_tokens(score, piano_only)))
    return out


# --- sources and cache ---------------------------------------------------------------------------
def source_files(source: str) -> list[str]:
    """The files (or corpus names) a source stands for; errors name the source."""
    if source.startswith("music21:"):
        from music21 import corpus

        what = source.split(":", 1)[1]
        if what == "piano":
            return list(SEED_PIANO_SCORES)
        files = [str(p) for p in corpus.getComposer(what)]
        if not files:
            raise NoteChordDataError(f"{source}: music21's corpus has no composer {what!r}")
        return sorted(files)
    return [str(f) for f in files_under(Path(source), SUFFIXES, "music", NoteChordDataError)]


def load_note_chord_pieces(source: str, *, cache_dir: str | Path | None = None, workers: int = 2,
                           limit: int | None = None, piano_only: bool = False) -> list[TokenPiece]:
    """source -> pieces of Note/Chord tokens (pieces without notes are left out), through the
    one parse cache."""
    files = source_files(source)[:limit] if limit else source_files(source)
    where = cache.cache_file(Path(cache_dir) if cache_dir else None, "note_chord",
                             CACHE_VERSION, files, f"{limit}\0{piano_only}")
    parsed = cache.read(where)
    if parsed is None:
        parsed = _parse_files(files, workers, piano_only)
        cache.write(where, parsed)
    pieces = [TokenPiece(name, list(tokens)) for name, tokens in parsed if tokens]
    if not pieces:
        raise NoteChordDataError(f"{source}: no notes or chords in {len(files)} file(s)")
    log.info("%s: %d pieces, %d tokens", source, len(pieces), sum(len(p.tokens) for p in pieces))
    return pieces


def _parse_files(files: list[str], workers: int, piano_only: bool) -> list[tuple[str, list]]:
    log.info("parsing %d files with music21 (%d workers)", len(files), workers)
    found, _ = parse_all(files, functools.partial(_parse_one, piano_only=piano_only), workers)
    return found


def _parse_one(path: str, piano_only: bool) -> tuple[list[tuple[str, list[str]]], list]:
    """Runs in a worker process: a file that cannot be read stops the run (NoteChordDataError)."""
    return parse_file(path, piano_only), []


# --- vocabulary and windows ----------------------------------------------------------------------
def build_vocabulary(pieces: list[TokenPiece], min_count: int = 1) -> list[str]:
    """Sorted token strings occurring >= min_count times (seed 003 keeps those seen >= 40 times)."""
    counts = Counter(t for p in pieces for t in p.tokens)
    vocab = sorted(t for t, c in counts.items() if c >= min_count)
    if not vocab:
        raise NoteChordDataError(f"no token occurs {min_count} times or more "
                                 f"({len(counts)} distinct tokens, the most frequent "
                                 f"{counts.most_common(1)[0][1] if counts else 0} times)")
    return vocab


def to_ids(pieces: list[TokenPiece], vocabulary: list[str]) -> list[np.ndarray]:
    """Token strings -> id arrays; tokens outside the vocabulary are dropped (as seed 003 does)."""
    index = {t: i for i, t in enumerate(vocabulary)}
    return [np.array([index[t] for t in p.tokens if t in index], dtype=np.int32) for p in pieces]


def next_token_windows(sequences: list[np.ndarray], seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows of `seq_len` ids -> the id that follows, within each piece (never across two)."""
    windows = make_windows(sequences, seq_len, 1)
    if not len(windows):
        raise NoteChordDataError(f"no piece is longer than the window of {seq_len} tokens")
    return windows[:, :-1], windows[:, -1]
