"""The one atomic writer: whole files or none, readable modes, no temporary files left."""

import json
import os
import stat

import pytest

from improvd.daemon.atomic import (
    atomic_open,
    atomic_path,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_writers_create_parent_folders_and_readable_files(tmp_path):
    text = write_text_atomic(tmp_path / "a" / "card.md", "héllo\n")
    data = write_bytes_atomic(tmp_path / "b" / "blob.bin", b"\x00\x01")
    doc = write_json_atomic(tmp_path / "c" / "run.json", {"b": 1, "a": [1, 2]})
    assert text.read_text(encoding="utf-8") == "héllo\n"
    assert data.read_bytes() == b"\x00\x01"
    assert json.loads(doc.read_text()) == {"a": [1, 2], "b": 1}
    assert doc.read_text().startswith('{\n  "a"')  # sorted keys, indented, as before
    assert {_mode(p) for p in (text, data, doc)} == {0o644}


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = write_text_atomic(tmp_path / "model.onnx", "old")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".onnx"
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_atomic_open_replaces_on_success_and_refuses_append(tmp_path):
    target = tmp_path / "cache.pkl"
    with atomic_open(target, "wb") as f:
        f.write(b"new")
        assert not target.exists()  # nothing visible until the block succeeds
    assert target.read_bytes() == b"new"
    with pytest.raises(ValueError, match="mode"), atomic_open(target, "ab"):
        pass
