"""The JSB chorales tgz (seed 001's data), read in one place.

One CSV per chorale under train/, valid/ and test/: a header (note0..note3), then one row per
16th note with the MIDI pitch of each voice (soprano, alto, tenor, bass; 0 = rest). The folders
are the seed's own split, which its published figures depend on: a JSB piece's name keeps its
folder ("jsb:valid/chorale_250") and the one split rule (dataset.split_pieces) honours it.
"""

from __future__ import annotations

import csv
import io
import logging
import tarfile
from pathlib import Path

import numpy as np

from .errors import SourceError

log = logging.getLogger(__name__)

VOICES = 4


def read_chorale_csv(text: str, name: str) -> np.ndarray:
    """One chorale CSV -> int array [steps, 4] of MIDI pitches; SourceError naming `name`."""
    rows = [row for row in csv.reader(io.StringIO(text.strip())) if row]
    try:
        grid = np.array([[int(v) for v in row] for row in rows[1:]], dtype=np.int64)
    except ValueError as exc:
        raise SourceError(f"{name}: not a chorale CSV of note numbers ({exc})") from exc
    if grid.ndim != 2 or grid.shape[1] != VOICES or len(grid) == 0:
        raise SourceError(f"{name}: expected rows of {VOICES} voices, got shape {grid.shape}")
    return grid


def read_chorales(tgz: Path, *, strict: bool = True):
    """The tgz -> ([(piece name, grid)], [(piece name, why skipped)]) in member-name order.
    strict: the first unreadable chorale is a SourceError; otherwise it is skipped alone."""
    found, skipped = [], []
    try:
        with tarfile.open(tgz) as tar:
            members = sorted((m for m in tar.getmembers()
                              if m.isfile() and m.name.endswith(".csv")), key=lambda m: m.name)
            for member in members:
                name = "jsb:" + member.name.removeprefix("./").removesuffix(".csv")
                try:
                    text = tar.extractfile(member).read().decode()
                    found.append((name, read_chorale_csv(text, member.name)))
                except (SourceError, UnicodeDecodeError) as exc:
                    if strict:
                        raise SourceError(str(exc)) from exc
                    skipped.append((name, f"{type(exc).__name__}: {exc}"))
    except (tarfile.TarError, OSError) as exc:
        raise SourceError(f"{tgz}: not a readable tgz of chorales ({exc})") from exc
    return found, skipped

