"""Which format a data file is in: the name says it, the first bytes must agree.

``detect_format`` looks at the extension, then at a sample of the content (decompressed for ``.gz``):
magic bytes, text encoding (UTF-8 first, then a legacy 8-bit encoding for CSV/TSV) and, for delimited
text, the delimiter. Anything that does not fit raises ``InvalidInput`` with one line:
``<file>: <format>: <what failed>[ at line N]``.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hokusai.errors import InvalidInput, NotFound

Kind = Literal["csv", "tsv", "json", "jsonl", "parquet"]

EXTENSIONS: dict[str, Kind] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
DELIMITERS = (",", "\t", ";", "|")
_DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
SAMPLE_BYTES = 1 << 16
_SNIFF_LINES = 50
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_C1 = re.compile(rb"[\x80-\x9f]")
_JSON_START = re.compile(r'\s*(?:\{\s*"|\[\s*[\[{"\]])')


@dataclass(frozen=True)
class DataFormat:
    """What a file holds and how to read it."""

    kind: Kind
    gzip: bool = False
    encoding: str | None = None  # text formats: "utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"
    delimiter: str | None = None  # csv/tsv only

    @property
    def name(self) -> str:
        """Display name, e.g. ``csv.gz``."""
        return f"{self.kind}.gz" if self.gzip else self.kind

    def to_dict(self) -> dict[str, object]:
        return {
            "format": self.kind,
            "compression": "gzip" if self.gzip else None,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
        }


def fail(path: str | Path, what: str, fmt: str | None = None) -> InvalidInput:
    """The one-line error for a file that cannot be read: ``<file>: <format>: <what>``."""
    where = f"{path}: {fmt}: " if fmt else f"{path}: "
    return InvalidInput(where + what, code="unreadable_data")


def kind_from_name(path: str | Path) -> tuple[Kind, bool]:
    """Format and gzip flag from the file name alone."""
    name = Path(path).name.lower()
    gz = name.endswith(".gz")
    ext = Path(name[:-3] if gz else name).suffix
    kind = EXTENSIONS.get(ext)
    if kind is None:
        shown = ext + ".gz" if gz and ext else ext or "(none)"
        raise fail(
            path,
            f"unsupported file type {shown!r}; expected .csv, .tsv, .json, .jsonl or .parquet "
            "(text formats may be gzipped: .csv.gz)",
        )
    if kind == "parquet" and gz:
        raise fail(
            path, "Parquet is compressed internally; do not gzip it (use the plain .parquet)", "parquet"
        )
    return kind, gz


def detect_format(path: str | Path) -> DataFormat:
    """Format of ``path`` from its extension, confirmed by its content."""
    path = Path(path)
    if not path.exists():
        raise NotFound(f"{path}: no such file", code="file_not_found")
    if path.is_dir():
        raise fail(path, "is a directory; give the data file(s) inside it")
    if not path.is_file():
        raise fail(path, "is not a regular file")
    kind, gz = kind_from_name(path)
    shown = f"{kind}.gz" if gz else kind
    if path.stat().st_size == 0:
        raise fail(path, "empty file (0 bytes)", shown)
    try:
        with open(path, "rb") as handle:
            head = handle.read(SAMPLE_BYTES)
            if kind == "parquet":
                handle.seek(-4, 2)
                tail = handle.read(4)
            whole_raw = len(head) < SAMPLE_BYTES
    except PermissionError:
        raise fail(path, "permission denied", shown) from None
    if kind == "parquet":
        return _confirm_parquet(path, head, tail)
    if gz:
        sample, whole = _gunzip_sample(path, head, whole_raw)
    else:
        sample, whole = head, whole_raw
        if head.startswith(b"\x1f\x8b"):
            raise fail(path, f"content is gzip-compressed; name the file {path.name}.gz", shown)
    if sample.startswith(b"PAR1"):
        raise fail(path, "content is Parquet, not text; name the file .parquet", shown)
    encoding = _sniff_encoding(path, sample, whole, kind, shown)
    text = _decode_sample(sample, encoding, whole)
    if not text.strip():
        raise fail(path, "no data (the file holds only whitespace)", shown)
    if kind in ("json", "jsonl"):
        _confirm_json(path, text, kind, shown)
        return DataFormat(kind, gz, encoding)
    return DataFormat(kind, gz, encoding, _sniff_delimiter(path, text, whole, kind, shown))


def _confirm_parquet(path: Path, head: bytes, tail: bytes) -> DataFormat:
    if not head.startswith(b"PAR1"):
        raise fail(path, "not a Parquet file (no PAR1 magic bytes at the start)", "parquet")
    if tail != b"PAR1" or len(head) < 12:
        raise fail(path, "truncated or corrupt Parquet file (the footer is missing)", "parquet")
    return DataFormat("parquet")


def _gunzip_sample(path: Path, head: bytes, whole_raw: bool) -> tuple[bytes, bool]:
    if not head.startswith(b"\x1f\x8b"):
        raise fail(path, "not gzip data although the name ends in .gz", _gz_name(path))
    inflater = zlib.decompressobj(wbits=31)
    try:
        sample = inflater.decompress(head, SAMPLE_BYTES)
    except zlib.error as exc:
        raise fail(path, f"corrupt gzip data ({exc})", _gz_name(path)) from None
    whole = whole_raw and inflater.eof
    if not sample and whole:
        raise fail(path, "empty file (the gzip stream holds no data)", _gz_name(path))
    if whole_raw and not inflater.eof and len(sample) < SAMPLE_BYTES:
        raise fail(path, "truncated gzip data (the stream ends early)", _gz_name(path))
    return sample, whole


def _gz_name(path: Path) -> str:
    kind, _ = kind_from_name(path)
    return f"{kind}.gz"


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _sniff_encoding(path: Path, sample: bytes, whole: bool, kind: Kind, shown: str) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        if kind in ("json", "jsonl"):
            raise fail(path, "JSON must be UTF-8 text, this is UTF-16; re-save it as UTF-8", shown)
        return "utf-16"
    else:
        encoding = "utf-8"
    try:
        codecs.getincrementaldecoder(encoding)().decode(sample, final=whole)
    except UnicodeDecodeError as exc:
        line = _line_of(sample, exc.start)
        if kind in ("json", "jsonl"):
            raise fail(path, f"invalid UTF-8 at line {line} (JSON must be UTF-8 text)", shown) from None
        if _UTF8_MULTIBYTE.search(sample):
            raise fail(
                path,
                f"invalid UTF-8 at line {line}: the file mixes UTF-8 with other bytes; re-save it as UTF-8",
                shown,
            ) from None
        if match := _CONTROL.search(sample):
            line = _line_of(sample, match.start())
            raise fail(path, f"binary content at line {line}, not text", shown) from None
        return "cp1252" if _C1.search(sample) and _decodes(sample, "cp1252") else "latin-1"
    if match := _CONTROL.search(sample):
        raise fail(path, f"binary content at line {_line_of(sample, match.start())}, not text", shown)
    return encoding


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _decode_sample(sample: bytes, encoding: str, whole: bool) -> str:
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample, final=whole)
    return text.lstrip("\ufeff")


def _confirm_json(path: Path, text: str, kind: Kind, shown: str) -> None:
    body = text.lstrip()
    first = body[0]
    if kind == "jsonl":
        if first == "[":
            raise fail(path, "content is a JSON array, not one record per line; name the file .json", shown)
        if first != "{":
            raise fail(path, "not JSON Lines: line 1 does not start a JSON object", shown)
        return
    if first == "[":
        return
    if first == "{":
        try:
            _, end = json.JSONDecoder().raw_decode(body)
        except json.JSONDecodeError:
            end = None
        if end is not None and body[end:].lstrip().startswith("{"):
            raise fail(path, "content is JSON Lines (one object per line); name the file .jsonl", shown)
        raise fail(
            path,
            "a JSON object where records were expected; give an array of records [{...}, {...}] "
            "or one object per line in a .jsonl file",
            shown,
        )
    raise fail(path, "not JSON: the content does not start with '[' (an array of records)", shown)


def _sniff_delimiter(path: Path, text: str, whole: bool, kind: Kind, shown: str) -> str:
    """The delimiter whose field counts agree best across the first lines (TSV must use tabs)."""
    if _looks_like_json(text):
        raise fail(path, "content looks like JSON, not delimited text; name the file .json or .jsonl", shown)
    lines = text.splitlines(keepends=True)
    if not whole and len(lines) > 1:
        lines = lines[:-1]  # the sample may end mid-line
    sample = "".join(lines[:_SNIFF_LINES])
    scores: dict[str, tuple[float, int]] = {}
    for delimiter in DELIMITERS:
        counts = [len(row) for row in csv.reader(io.StringIO(sample), delimiter=delimiter) if row]
        header = counts[0] if counts else 1
        agree = sum(1 for count in counts if count == header) / max(len(counts), 1)
        scores[delimiter] = (agree, header)
    candidates = {d: s for d, s in scores.items() if s[1] > 1}
    best = max(candidates, key=lambda d: (candidates[d][0], candidates[d][1])) if candidates else None
    if kind == "tsv":
        if scores["\t"][1] > 1:
            return "\t"
        if best is not None:
            raise fail(
                path,
                f"no tab between columns; the content looks {_DELIMITER_NAMES[best]}-separated "
                "(name the file .csv)",
                shown,
            )
        return "\t"
    return best or ","


def _looks_like_json(text: str) -> bool:
    return _JSON_START.match(text) is not None
