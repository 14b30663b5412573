"""Training data sources -> `Piece`s: named, timed event lists ready for a tokenizer.

Source forms (`load_pieces(source)`):
  "music21"            music21's bundled corpus: the "bach", "folk" and "piano" collections below
  "music21:<name>"     one collection: bach (the chorales and other Bach scores), folk (Essen
                       folk songs, Ryan's Mammoth Collection, O'Neill's 1850, Nottingham reels,
                       Aird's Airs, misc. folk), piano (the corpus' keyboard works), or any
                       top-level corpus folder such as "music21:palestrina" or "music21:mozart"
  <folder>             every .mid/.midi (read with mido) and .abc (music21) file below it
  <file>.mid / .abc    one file; an ABC file holding many tunes gives one Piece per tune
  "jsb:<path to tgz>"  the JSB chorales tgz (CSV per chorale, 16th-note grid, quarter = 100 bpm,
                       see parsing.py); names keep the tgz's split: "jsb:train/chorale_000"

Files are parsed in parallel (a process pool of `workers`, default os.cpu_count()). A file that
fails to parse, or holds no notes, is logged as a warning, counted and skipped; zero pieces overall
is a SourceError. `limit` keeps a deterministic subset: at most `limit` input files, chosen by a
hash of their names (so a subset spreads over the whole source), and at most `limit` pieces.

Measured once (music21 10.5, 2 worker processes on a shared 2-core machine): the default
"music21" source is 1,558 files -> 13,366 pieces (2.04 M events, 3 skipped) in 47 min of wall
time and 1,057 CPU-seconds of parsing (essenFolksong 495, oneills1850 275, ryansMammoth 158,
bach 65); "music21:bach" alone is 410 pieces in 64 CPU-seconds, and 0.4 from the cache.

Cache: the parsed pieces go to the one parse cache (cache.py) as compact numpy arrays, keyed by
the source kind, FORMAT_VERSION, limit and every input file's path, size and mtime.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from tqdm import tqdm

from improvd.daemon.events import Event

from . import cache, parsing
from .errors import SourceError

log = logging.getLogger(__name__)

T = TypeVar("T")

FORMAT_VERSION = 2  # bump when parsing changes what a cached piece holds
MIDI_SUFFIXES = (".mid", ".midi")
ABC_SUFFIXES = (".abc",)
SCORE_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn", ".abc")  # music21 corpus formats we read

# music21's folk collections; abc-char-lstm reads them in this order.
FOLK_FOLDERS = ("oneills1850", "ryansMammoth", "airdsAirs", "nottingham-dataset", "miscFolk",
                "essenFolksong")
PIANO_WORKS = ("chopin/mazurka06-2", "joplin/maple_leaf_rag", "mozart/k545",
               "schoenberg/opus19", "schumann_clara/polonaise_op1n", "cpebach/h186")
DEFAULT_COLLECTIONS = ("bach", "folk", "piano")


@dataclass(frozen=True)
class Piece:
    name: str  # stable, unique: "music21:bach/bwv66.6", "midi:<relative path>", "jsb:test/..."
    events: tuple[Event, ...]  # seconds from the piece start, sorted


@dataclass
class LoadResult:
    pieces: list[Piece]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, why)
    from_cache: bool = False


@dataclass(frozen=True)
class _Input:
    """One input file and how to read it; `name` is the Piece name (or its prefix)."""

    kind: str  # "score", "midi" or "jsb"
    path: str
    name: str


def load_pieces(source: str = "music21", *, cache_dir: Path | None = cache.CACHE_DIR,
                workers: int | None = None, limit: int | None = None) -> list[Piece]:
    return load_source(source, cache_dir=cache_dir, workers=workers, limit=limit).pieces


def load_source(source: str = "music21", *, cache_dir: Path | None = cache.CACHE_DIR,
                workers: int | None = None, limit: int | None = None) -> LoadResult:
    """Like load_pieces, also telling which pieces were skipped and whether the cache served."""
    kind, inputs = _discover(source)
    if limit is not None:
        inputs = sorted(sorted(inputs, key=lambda i: _name_hash(i.name))[:limit],
                        key=lambda i: i.name)
    cache_file = cache.cache_file(cache_dir, kind, FORMAT_VERSION, [i.path for i in inputs],
                                  str(limit))
    cached = cache.read(cache_file)
    if cached is not None:
        result = LoadResult([Piece(name, _from_array(arr)) for name, arr in cached["pieces"]],
                            [tuple(s) for s in cached["skipped"]], from_cache=True)
        log.info("loaded %d pieces of %s from the cache %s", len(result.pieces), source,
                 cache_file)
        return result

    started = time.monotonic()
    found, skipped = parse_all(inputs, _parse_input, workers)
    pieces = [Piece(name, tuple(events)) for name, events in found]
    if limit is not None and len(pieces) > limit:  # a file can hold many pieces (ABC, tgz)
        keep = set(sorted((p.name for p in pieces), key=_name_hash)[:limit])
        pieces = [p for p in pieces if p.name in keep]
    for name, why in skipped:
        log.warning("skipped %s: %s", name, why)
    if not pieces:
        raise SourceError(f"no pieces with notes found in {source}")
    log.info("parsed %d pieces from %d files of %s in %.1f s (%d skipped)", len(pieces),
             len(inputs), source, time.monotonic() - started, len(skipped))
    cache.write(cache_file, {"format": FORMAT_VERSION, "skipped": skipped,
                             "pieces": [(p.name, _to_array(p.events)) for p in pieces]})
    return LoadResult(pieces, skipped)


def _name_hash(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


# --- what to read ------------------------------------------------------------------------------
def _discover(source: str) -> tuple[str, list[_Input]]:
    if source == "music21" or source.startswith("music21:"):
        return "music21", _music21_inputs(source.partition(":")[2])
    if source.startswith("jsb:"):
        path = Path(source[4:])
        if not path.is_file():
            raise SourceError(f"{source}: no such file")
        return "jsb", [_Input("jsb", str(path), "jsb:")]
    return "files", _file_inputs(Path(source))


def _music21_inputs(collection: str) -> list[_Input]:
    from music21 import corpus

    by_name: dict[str, str] = {}  # "bach/bwv66.6" -> path; one file per work
    for path in sorted(corpus.getPaths(), key=str):
        path = Path(path)
        if path.suffix not in SCORE_SUFFIXES or "corpus" not in path.parts:
            continue
        below = path.parts[len(path.parts) - path.parts[::-1].index("corpus"):]
        name = Path(*below).with_suffix("").as_posix()
        if name not in by_name or path.suffix == ".mxl":  # a work in two formats: prefer MusicXML
            by_name[name] = str(path)

    def in_collection(name: str, wanted: str) -> bool:
        folder = name.split("/")[0]
        if wanted == "folk":
            return folder in FOLK_FOLDERS
        if wanted == "piano":
            return name.startswith(PIANO_WORKS)
        return folder == wanted

    wanted = [collection] if collection else list(DEFAULT_COLLECTIONS)
    folders = {name.split("/")[0] for name in by_name}
    for w in wanted:
        if w not in DEFAULT_COLLECTIONS and w not in folders:
            raise SourceError(f"music21:{w}: unknown collection; known: "
                              f"{', '.join(DEFAULT_COLLECTIONS)} or a corpus folder "
                              f"({', '.join(sorted(folders))})")
    return [_Input("score", path, f"music21:{name}") for name, path in by_name.items()
            if any(in_collection(name, w) for w in wanted)]


def _file_inputs(path: Path) -> list[_Input]:
    root = path.parent if path.is_file() else path
    return [_Input("midi", str(f), f"midi:{f.relative_to(root).as_posix()}")
            if f.suffix.lower() in MIDI_SUFFIXES else
            _Input("score", str(f), f"abc:{f.relative_to(root).as_posix()}")
            for f in files_under(path, MIDI_SUFFIXES + ABC_SUFFIXES, "MIDI or ABC")]


def files_under(path: Path, suffixes: tuple[str, ...], kind: str,
                error: type[SourceError] = SourceError) -> list[Path]:
    """`path` if it is a file with one of `suffixes`, else every such file below it, sorted;
    `error` (naming the path, the `kind` of file and the suffixes) when there is none."""
    if not path.exists():
        raise error(f"{path}: no such file or folder")
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    found = [f for f in files if f.suffix.lower() in suffixes]
    if not found:
        what = f"is not a {kind} file" if path.is_file() else f"holds no {kind} files"
        raise error(f"{path} {what} ({', '.join(suffixes)})")
    return found


# --- parsing -------------------------------------------------------------------------------------
def parse_all(items: Sequence[T], parse: Callable[[T], tuple[list, list]],
              workers: int | None) -> tuple[list[tuple[str, Any]], list[tuple[str, str]]]:
    """Every item through `parse` (item -> ([(name, payload)], [(name, why skipped)]); a
    module-level function, as it runs in worker processes), in a process pool when there is more
    than one -> all found and all skipped, in the items' order whatever order workers finish in.
    Every training source is parsed here, whatever it parses into."""
    workers = workers or os.cpu_count() or 1
    results: dict[int, tuple[list, list]] = {}
    bar = tqdm(total=len(items), desc="parsing", unit="file", disable=None)
    if workers == 1 or len(items) == 1:
        for i, item in enumerate(items):
            results[i] = parse(item)
            bar.update()
    else:
        # spawn, not fork: the caller may have TensorFlow loaded, which does not survive a fork.
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=ctx) as pool:
            futures = {pool.submit(parse, item): i for i, item in enumerate(items)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update()
    bar.close()
    found = [named for i in range(len(items)) for named in results[i][0]]
    skipped = [why for i in range(len(items)) for why in results[i][1]]
    return found, skipped


def _parse_input(item: _Input) -> tuple[list[tuple[str, list[Event]]], list[tuple[str, str]]]:
    """Runs in a worker process: one file -> ([(piece name, events)], [(name, why skipped)])."""
    errors: list[tuple[str, str]] = []
    try:
        if item.kind == "midi":
            found = [(item.name, parsing.parse_midi_file(item.path))]
        elif item.kind == "jsb":
            return parsing.parse_jsb_tgz(item.path)
        else:
            tunes, failed = parsing.parse_score_file(item.path)
            found = [(_tune_name(item.name, tune), events) for tune, events in tunes]
            errors = [(_tune_name(item.name, tune), why) for tune, why in failed]
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser error skips this file alone
        return [], [(item.name, f"{type(exc).__name__}: {exc}".strip())]
    kept = [(name, events) for name, events in found if parsing.has_notes(events)]
    empty = [(name, "no notes") for name, events in found if not parsing.has_notes(events)]
    return kept, errors + empty


def _tune_name(file_name: str, tune: str | None) -> str:
    return file_name if tune is None else f"{file_name}#{tune}"


# --- cache ---------------------------------------------------------------------------------------
_KINDS = ("note_on", "note_off", "control_change")
_EVENT_DTYPE = np.dtype([("time", "f8"), ("kind", "i1"), ("pitch", "u1"), ("velocity", "u1"),
                         ("channel", "u1")])


def _to_array(events) -> np.ndarray:
    return np.array([(e.time, _KINDS.index(e.kind), e.pitch, e.velocity, e.channel)
                     for e in events], dtype=_EVENT_DTYPE)


def _from_array(arr: np.ndarray) -> tuple[Event, ...]:
    return tuple(Event(float(t), _KINDS[k], int(p), int(v), int(c))
                 for t, k, p, v, c in arr.tolist())
