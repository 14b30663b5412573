"""The one atomic file writer: write beside the target, then rename it into place.

A crash or an error part-way leaves the old file (or none), never half a file, so a model, a
cache, a card or a results file that exists is always whole. The temporary file lives in the
target's folder because a rename is atomic only within one file system.

    with atomic_path(out) as tmp:           # for writers that want a path (onnx, fluidsynth)
        onnx.save_model(model, tmp)
    with atomic_open(out, "wb") as f:       # for writers that want a file (pickle, np.savez)
        pickle.dump(payload, f)
    write_text_atomic(card, text)
    write_bytes_atomic(path, data)
    write_json_atomic(path, {"epoch": 3})
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

# mkstemp creates owner-only (0600) files; what we write is an ordinary file others may read.
FILE_MODE = 0o644


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path beside `path` (its parent folder is created); on success the
    temporary file is made readable (FILE_MODE) and renamed onto `path`, on error removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keep the suffix: some writers (fluidsynth, np.savez) pick the format from it.
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **open_kwargs: Any) -> Iterator[IO]:
    """open() for writing ("w" or "wb"), into a temporary file renamed onto `path` on success."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes a whole new file: mode 'w' or 'wb', not {mode!r}")
    with atomic_path(path) as tmp, open(tmp, mode, **open_kwargs) as f:
        yield f


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def write_json_atomic(path: str | os.PathLike, data: Any, **dump_kwargs: Any) -> Path:
    """json.dump(data, indent=2, sort_keys=True) plus a final newline, unless dump_kwargs say
    otherwise (e.g. default=float for numpy scalars)."""
    options = {"indent": 2, "sort_keys": True, **dump_kwargs}
    with atomic_open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, **options)
        f.write("\n")
    return Path(path)
