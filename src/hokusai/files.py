"""Atomic file writes: a reader sees the old file or the new one, never half of one; secret files (keys)
created once with mode 0600 and refused when others can read them."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from hokusai.errors import ConfigError


def atomic_write_bytes(path: str | Path, data: bytes, mode: int = 0o644) -> Path:
    """Write ``data`` to a temp file beside ``path``, fsync it, then rename it over ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def atomic_write_json(path: str | Path, value: Any, mode: int = 0o644) -> Path:
    """Pretty JSON (2-space indent, trailing newline), written atomically."""
    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    return atomic_write_bytes(path, text.encode("utf-8"), mode)


def create_secret_file(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` (mode 0600, folder 0700) unless a file is already there: written to a temp
    file, fsynced, then hard-linked into place, so two processes racing keep one file and nobody sees half."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process created it first: use theirs
            os.link(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def read_secret_file(path: str | Path, what: str) -> str:
    """The text of a secret file; a directory, a missing file or one readable by others is a ``ConfigError``
    naming ``what`` (e.g. "signer key file")."""
    target = Path(path)
    where = f"{what} {target}"
    if target.is_dir():
        raise ConfigError(f"{where} is a directory, not a key file")
    if not target.is_file():
        raise ConfigError(f"{where} does not exist")
    mode = stat.S_IMODE(target.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"{where} is readable by group or others (mode {mode:04o}); run: chmod 600 {target}"
        )
    return target.read_text()
