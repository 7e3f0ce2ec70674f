"""Crash-safe file writes: write a temporary file in the same folder, flush it to disk, then rename.

A reader (or a resumed run) sees either the old file or the new one, never a half-written one. The
temporary name starts with ``.`` and contains ``.tmp``; a kill can leave one behind, which nothing
reads and the next successful write of the same file does not depend on.
"""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` (same suffix); on success it replaces ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
        _fsync_dir(path.parent)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj, **kwargs) -> None:
    """``json.dumps(obj, indent=2, **kwargs)`` written to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=kwargs.pop("indent", 2), **kwargs))


def save_model(model, path: str | os.PathLike) -> None:
    """``model.save(path)`` (Keras ``.keras`` zip) made atomic."""
    with atomic_path(path) as tmp:
        model.save(tmp)
