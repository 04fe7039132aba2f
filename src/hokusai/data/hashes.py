"""The platform's data hashes: one definition, reproducible with ``sha256sum``.

``data_hash(path)`` is ``hokusai.hashing.file_sha256``: SHA-256 of the file's exact bytes (for a
``.gz`` file, of the compressed bytes as stored). ``dataset_hash(paths)`` hashes what
``sha256sum`` prints for the files, lines sorted bytewise::

    (cd DIR && sha256sum a.csv b.csv) | LC_ALL=C sort | sha256sum
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from hokusai.hashing import file_sha256, sha256_hex

data_hash = file_sha256


def sha256sum_line(digest: str, name: str) -> str:
    """One line as ``sha256sum`` prints it: ``<hex>  <name>``; names with ``\\`` or newlines escaped."""
    if "\\" in name or "\n" in name or "\r" in name:
        escaped = name.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        return f"\\{digest}  {escaped}\n"
    return f"{digest}  {name}\n"


def dataset_hash(paths: Iterable[str | Path]) -> str:
    """SHA-256 of the sorted ``<sha256>  <file name>`` lines (newline-terminated) of ``paths``."""
    lines = sorted(sha256sum_line(data_hash(path), Path(path).name).encode("utf-8") for path in paths)
    return sha256_hex(b"".join(lines))
