"""The one parse cache of the training data: what a source's files parse into, pickled under
.cache/improvd and keyed by what was read.

The file name is a sha256 of (kind, format version, options, and for each input file its path,
size and mtime_ns; a name that is not a file, such as a music21 corpus name, stands as it is),
so editing, adding or removing any input file, or changing how it is parsed, parses again.
Writes go through the one atomic writer: a crash never leaves a partial cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from improvd.daemon.atomic import atomic_open

log = logging.getLogger(__name__)

CACHE_DIR = Path(".cache/improvd")


def cache_file(cache_dir: Path | None, kind: str, version: int, inputs: Iterable[str],
               options: str = "") -> Path | None:
    """Where the parse of `inputs` is cached (None: no caching)."""
    if cache_dir is None:
        return None
    h = hashlib.sha256(f"{kind}\0{version}\0{options}".encode())
    for path in inputs:
        if os.path.exists(path):
            st = os.stat(path)
            h.update(f"\0{path}\0{st.st_size}\0{st.st_mtime_ns}".encode())
        else:
            h.update(f"\0{path}".encode())
    return Path(cache_dir) / f"{kind}-{h.hexdigest()[:24]}.pkl"


def read(path: Path | None) -> Any | None:
    """The cached payload, or None when there is none (or it cannot be read: parse again)."""
    if path is None or not path.exists():
        return None
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except Exception as exc:  # noqa: BLE001 - any unreadable cache (e.g. another version's)
        log.warning("ignoring unreadable cache %s: %s", path, exc)
        return None


def write(path: Path | None, payload: Any) -> None:
    if path is not None:
        with atomic_open(path, "wb") as f:
            pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
        log.info("cached %s", path)
