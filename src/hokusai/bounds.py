"""Bounds checked before a parser or a decompressor sees the bytes: JSON nesting depth, and the inflated
size of compressed data (zip members, gzip streams, Parquet pages).

* **JSON depth.** Recursive-descent parsers use one C stack frame per ``[``/``{``. The API process runs
  with a raised interpreter recursion limit (``py_ecc``, imported with the signing stack, sets 100000),
  so the stdlib's C scanner overflows the C stack on 100,000 nested ``[`` (200 bytes of them per KiB)
  and the process dies with SIGSEGV instead of raising ``RecursionError``. ``JsonDepth`` counts brackets
  outside strings in one linear pass (the strings are cut out by one regular expression, the brackets
  summed by numpy), chunk by chunk when the text streams, and refuses past the limit before any parser
  runs: ``check_json_depth(body, max_depth)`` is what every JSON body of the API goes through (the body
  middleware, the MLflow proxy) and the data readers use the same scanner on JSON files.
* **Inflated sizes.** ``InflateBudget`` counts bytes as they come out of a decompressor and refuses at
  the budget (``inflated_too_large``); ``check_zip_members`` refuses an archive whose *declared* sizes
  (``ZipInfo.file_size``, from the central directory) pass the budget before a byte is inflated, and
  ``read_zip_member`` streams one member while counting (declared sizes can lie); ``extract_archive``
  unpacks a zip or a (gzipped) tar that way, member by member, refusing links, devices and paths that
  leave the destination.
"""

from __future__ import annotations

import re
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO

import numpy as np

from hokusai.errors import InvalidInput, PayloadTooLarge

DEFAULT_JSON_MAX_DEPTH = 64
READ_CHUNK = 1 << 20
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_STRING_REST = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*"', re.S)  # a string begun in an earlier piece
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")


class JsonTooDeep(InvalidInput):
    """JSON nested deeper than the limit (400 ``json_too_deep``)."""

    code = "json_too_deep"

    def __init__(self, max_depth: int, what: str = "the JSON body") -> None:
        super().__init__(
            f"{what} is nested deeper than {max_depth} levels of arrays and objects",
            details={"max_depth": max_depth},
        )


class JsonDepth:
    """The nesting depth of JSON text fed in pieces (str or UTF-8 bytes), refused past ``max_depth``.

    Brackets inside strings do not count; the count never undercounts malformed text (closers before
    openers lower the floor it is measured from, not the depth).
    """

    def __init__(self, max_depth: int, what: str = "the JSON body") -> None:
        self.max_depth, self.what = max_depth, what
        self.depth = 0  # open arrays/objects at the end of what was fed
        self.floor = 0  # the lowest running count seen (below 0 only for malformed text)
        self.in_string = False
        self.escaped = False  # the next character of the open string is escaped

    def feed(self, text: str | bytes) -> None:
        """Count ``text``, the next piece of the document; raises ``JsonTooDeep`` past the limit."""
        data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        if not data:
            return
        start = 0
        if self.in_string:
            if self.escaped:
                start, self.escaped = 1, False
            closed = _STRING_REST.match(data, start)
            if closed is None:  # the string runs past this piece
                self._open_string(data[start:])
                return
            self.in_string, start = False, closed.end()
        outside = _STRING.sub(b"", data[start:])
        quote = outside.find(b'"')
        if quote >= 0:  # a string opens here and is not closed in this piece
            self._count(_NOT_BRACKET.sub(b"", outside[:quote]))
            self._open_string(outside[quote + 1 :])
            return
        self._count(_NOT_BRACKET.sub(b"", outside))

    def _open_string(self, rest: bytes) -> None:
        self.in_string = True
        trailing = len(rest) - len(rest.rstrip(b"\\"))
        self.escaped = trailing % 2 == 1

    def _count(self, brackets: bytes) -> None:
        if not brackets:
            return
        codes = np.frombuffer(brackets, dtype=np.uint8)
        steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1).astype(np.int64)
        levels = self.depth + np.cumsum(steps)
        floors = np.minimum(np.minimum.accumulate(levels), self.floor)
        deepest = int((levels - floors).max())
        self.depth, self.floor = int(levels[-1]), int(floors[-1])
        if deepest > self.max_depth:
            raise JsonTooDeep(self.max_depth, self.what)


def check_json_depth(data: str | bytes, max_depth: int, what: str = "the JSON body") -> None:
    """Refuse ``data`` (a whole JSON document) nested deeper than ``max_depth`` (400 ``json_too_deep``),
    before any parser reads it. One linear pass; call it on the exact bytes the parser will get."""
    JsonDepth(max_depth, what).feed(data)


class InflateBudget:
    """Bytes allowed out of a decompressor for one input; ``take`` refuses past the budget (413
    ``inflated_too_large`` naming the budget and what was being inflated)."""

    def __init__(
        self, limit: int, what: str, setting: str | None = None, code: str = "inflated_too_large"
    ) -> None:
        self.limit, self.what, self.setting, self.code = limit, what, setting, code
        self.used = 0

    def refuse(self, member: str | None = None) -> PayloadTooLarge:
        """The error for passing the budget (also for a declared size over it)."""
        where = f" ({member})" if member else ""
        setting = f" ({self.setting})" if self.setting else ""
        details: dict[str, object] = {"limit_bytes": self.limit}
        if member:
            details["member"] = member
        return PayloadTooLarge(
            f"{self.what}{where} inflates to more than {self.limit} bytes{setting}",
            code=self.code,
            details=details,
        )

    def take(self, size: int, member: str | None = None) -> None:
        """Count ``size`` more inflated bytes."""
        self.used += size
        if self.used > self.limit:
            raise self.refuse(member)


def check_zip_members(archive: zipfile.ZipFile, budget: InflateBudget, max_members: int = 10_000) -> None:
    """Refuse an archive whose declared sizes pass ``budget`` (before anything is inflated): the total of
    every member's ``file_size``; more than ``max_members`` entries are refused too. Does not consume
    ``budget`` (streamed reads count against it)."""
    members = archive.infolist()
    if len(members) > max_members:
        raise InvalidInput(f"{budget.what} has more than {max_members} entries", code="bad_archive")
    declared = 0
    for info in members:
        declared += info.file_size
        if declared > budget.limit:
            raise budget.refuse(info.filename)


def iter_zip_member(archive: zipfile.ZipFile, name: str, budget: InflateBudget) -> Iterator[bytes]:
    """The inflated bytes of member ``name`` in chunks, counted against ``budget`` as they come out."""
    with archive.open(name) as handle:
        yield from iter_counted(handle, budget, name)


def read_zip_member(archive: zipfile.ZipFile, name: str, budget: InflateBudget) -> bytes:
    """Member ``name`` whole, after its declared size was checked and while its inflated size is counted."""
    info = archive.getinfo(name)
    if info.file_size > budget.limit - budget.used:
        raise budget.refuse(name)
    return b"".join(iter_zip_member(archive, name, budget))


def iter_counted(handle: IO[bytes], budget: InflateBudget, member: str | None = None) -> Iterator[bytes]:
    """Chunks read from a decompressing ``handle``, counted against ``budget`` (refused past it)."""
    while chunk := handle.read(READ_CHUNK):
        budget.take(len(chunk), member)
        yield chunk


def _member_path(destination: Path, name: str, what: str) -> Path:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]) or not parts:
        raise InvalidInput(f"{what} member {name!r} points outside the archive", code="bad_archive")
    return destination.joinpath(*parts)


def _write_member(target: Path, chunks: Iterator[bytes]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        for chunk in chunks:
            handle.write(chunk)


def extract_archive(
    archive: Path, destination: Path, budget: InflateBudget, max_members: int = 10_000
) -> None:
    """Unpack a .zip, .tar, .tar.gz or .tgz into ``destination`` member by member: each member's declared
    size is checked against what is left of ``budget`` before it is inflated and its bytes are counted as
    they are written; links, devices, absolute paths and '..' are refused (``bad_archive``)."""
    destination.mkdir(parents=True, exist_ok=True)
    name = archive.name.lower()
    if name.endswith(".zip"):
        try:
            with zipfile.ZipFile(archive) as zipped:
                check_zip_members(zipped, budget, max_members)
                for info in zipped.infolist():
                    target = _member_path(destination, info.filename, budget.what)
                    if info.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                    else:
                        _write_member(target, iter_zip_member(zipped, info.filename, budget))
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise InvalidInput(f"{budget.what} cannot be read: {exc}", code="bad_archive") from None
        return
    if not name.endswith((".tar.gz", ".tgz", ".tar")):
        raise InvalidInput("a model archive must be .tar.gz, .tgz, .tar or .zip", code="bad_archive")
    try:
        with tarfile.open(archive, mode="r:*") as tar:  # streamed: members are read as they come
            for count, member in enumerate(tar, 1):
                if count > max_members:
                    raise InvalidInput(
                        f"{budget.what} has more than {max_members} entries", code="bad_archive"
                    )
                target = _member_path(destination, member.name, budget.what)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                if not member.isfile():
                    raise InvalidInput(
                        f"{budget.what} member {member.name!r} is a link or device", code="bad_archive"
                    )
                if member.size > budget.limit - budget.used:
                    raise budget.refuse(member.name)
                handle = tar.extractfile(member)
                assert handle is not None  # a regular file
                with handle:
                    _write_member(target, iter_counted(handle, budget, member.name))
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise InvalidInput(f"{budget.what} cannot be read: {exc}", code="bad_archive") from None
