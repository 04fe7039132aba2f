"""Streaming ``multipart/form-data`` uploads: the file part goes to a temporary file as it arrives.

Never holds a file in memory, hashes it on the way (the platform's one data hash: SHA-256 of the bytes),
refuses it as soon as it passes the size limit, and keeps the upload's extension so the data tooling can
detect its format. Small text fields (up to 64 KiB in all) are collected beside it.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import compile_path

from hokusai.config import Settings, env_name
from hokusai.errors import InvalidInput, PayloadTooLarge

MAX_FIELDS_BYTES = 64 << 10
_SUFFIX = re.compile(r"(\.[A-Za-z0-9]{1,8}){1,2}$")


@dataclass
class Upload:
    """One uploaded file (in a temporary file the caller must ``discard``) and the form's text fields."""

    path: Path
    filename: str
    sha256: str
    size: int
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        """Remove the temporary file (idempotent)."""
        self.path.unlink(missing_ok=True)


def upload_suffix(filename: str) -> str:
    """The extension(s) of an uploaded file name, lower-cased (``.csv``, ``.csv.gz``); '' if none."""
    match = _SUFFIX.search(Path(filename).name)
    return match.group(0).lower() if match else ""


class _Collector:
    """Callbacks for python-multipart: routes the file part to disk and text parts to ``fields``."""

    def __init__(self, file_field: str, directory: Path, max_bytes: int, setting: str) -> None:
        self.file_field, self.directory, self.max_bytes, self.setting = (
            file_field,
            directory,
            max_bytes,
            setting,
        )
        self.fields: dict[str, str] = {}
        self.upload: Upload | None = None
        self._header_field = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._text = bytearray()
        self._handle: object | None = None
        self._digest = hashlib.sha256()
        self._field_bytes = 0
        self.pending: list[bytes] = []  # file bytes parsed but not yet written (written off the event loop)

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_header_field": self._header_name,
            "on_header_value": self._header_value,
            "on_header_end": lambda: None,
            "on_headers_finished": self._headers_finished,
        }

    def _part_begin(self) -> None:
        self._headers, self._header_field, self._name, self._text = {}, b"", "", bytearray()

    def _header_name(self, data: bytes, start: int, end: int) -> None:
        self._header_field = data[start:end].lower()

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._headers[self._header_field] = self._headers.get(self._header_field, b"") + data[start:end]

    def _headers_finished(self) -> None:
        _disposition, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is None:
            return
        if self._name != self.file_field or self.upload is not None:
            expected = f"one file is expected, in the form field {self.file_field!r}"
            raise InvalidInput(expected, code="bad_upload")
        name = Path(filename.decode("utf-8", "replace")).name or "upload"
        fd, tmp = tempfile.mkstemp(prefix="upload-", suffix=upload_suffix(name), dir=self.directory)
        os.close(fd)
        self.upload = Upload(Path(tmp), name, "", 0)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self.upload is not None and self._name == self.file_field and not self.upload.sha256:
            self.upload.size += len(chunk)
            if self.upload.size > self.max_bytes:
                raise PayloadTooLarge(
                    f"the file is larger than the limit of {self.max_bytes} bytes ({self.setting})",
                    details={"limit_bytes": self.max_bytes},
                )
            self._digest.update(chunk)
            self.pending.append(chunk)
            return
        self._field_bytes += len(chunk)
        if self._field_bytes > MAX_FIELDS_BYTES:
            raise InvalidInput("form fields are too large (64 KiB in all)", code="bad_upload")
        self._text += chunk

    def _part_end(self) -> None:
        if self.upload is not None and self._name == self.file_field and not self.upload.sha256:
            self.upload.sha256 = self._digest.hexdigest()
        elif self._name:
            self.fields[self._name] = self._text.decode("utf-8", "replace")


async def receive_upload(
    content_type: str,
    body: AsyncIterator[bytes],
    *,
    file_field: str,
    directory: Path,
    max_bytes: int,
    setting: str = "HOKUSAI_UPLOAD_MAX_BYTES",
) -> Upload:
    """Parse a multipart body as it streams in; the file part lands in ``directory``."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InvalidInput("send the file as multipart/form-data", code="bad_upload")
    directory.mkdir(parents=True, exist_ok=True)
    collector = _Collector(file_field, directory, max_bytes, setting)
    parser = MultipartParser(boundary, collector.callbacks())  # type: ignore[arg-type]
    handle = None
    try:
        async for chunk in body:
            parser.write(chunk)
            if collector.pending:
                if handle is None:
                    assert collector.upload is not None
                    handle = collector.upload.path.open("wb")
                data, collector.pending = b"".join(collector.pending), []
                await run_in_threadpool(handle.write, data)
        parser.finalize()
        if collector.upload is None or not collector.upload.sha256:
            raise InvalidInput(f"no file in the form field {file_field!r}", code="bad_upload")
        if handle is None:
            collector.upload.path.touch()
        else:
            handle.close()
        collector.upload.fields = collector.fields
        return collector.upload
    except BaseException as exc:
        if handle is not None:
            handle.close()
        if collector.upload is not None:
            collector.upload.discard()
        if isinstance(exc, FormParserError):
            raise InvalidInput("the multipart/form-data body is malformed", code="bad_upload") from None
        raise


UPLOAD_ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/datasets"): "upload_max_bytes",
    ("POST", "/api/v1/models/{name}/contributions"): "upload_max_bytes",
    ("POST", "/api/v1/models"): "model_upload_max_bytes",
}
"""The routes that take a multipart upload, and the setting that bounds each one's file. Every other body
is bounded by ``json_body_max_bytes`` (the body middleware), and ``receive_request_file`` refuses to read
an upload on a route missing here, so a new upload route cannot slip past its limit."""
_UPLOAD_SLACK = MAX_FIELDS_BYTES + 4096  # the form's text fields and the multipart framing


def _file_limit(settings: Settings, method: str, route: str) -> tuple[int, str]:
    setting = UPLOAD_ROUTES[(method, route)]
    return int(getattr(settings, setting)), setting


def upload_limits(settings: Settings) -> Callable[[str, str, str], tuple[int, str] | None]:
    """For the body middleware: ``(method, path, content type)`` → the body limit of an upload route
    (its file limit plus the form's fields and framing) and its setting; None for any other body."""
    compiled = [
        (method, compile_path(template)[0], _file_limit(settings, method, template))
        for method, template in UPLOAD_ROUTES
    ]

    def limit(method: str, path: str, content_type: str) -> tuple[int, str] | None:
        if not content_type.lower().startswith("multipart/form-data"):
            return None
        for route_method, pattern, (max_bytes, setting) in compiled:
            if method == route_method and pattern.match(path):
                return max_bytes + _UPLOAD_SLACK, env_name(setting)
        return None

    return limit


async def receive_request_file(request: Request, settings: Settings, file_field: str = "file") -> Upload:
    """The data file of a multipart request on an upload route, refused (413) past the route's limit."""
    route = getattr(request.scope.get("route"), "path", "")
    if (request.method, route) not in UPLOAD_ROUTES:
        raise RuntimeError(f"{request.method} {route} reads an upload but is not in UPLOAD_ROUTES")
    max_bytes, setting = _file_limit(settings, request.method, route)
    return await receive_upload(
        request.headers.get("content-type", ""),
        request.stream(),
        file_field=file_field,
        directory=settings.data_dir / "tmp" / "uploads",
        max_bytes=max_bytes,
        setting=env_name(setting),
    )


Stored = tuple[BaseModel, bool]
"""What an upload's ``store`` gives back: the answer's body and whether something new was created."""


async def answer_upload(
    upload: Upload | None, store: Callable[[], Stored], *, location: Callable[[Any], str] | None = None
) -> JSONResponse:
    """The tail every upload route shares: ``store`` off the event loop, always discard the temporary file
    (when there is one), answer 201 when something new was created, else 200 (with ``Location`` when
    ``location`` names it)."""
    try:
        body, created = await run_in_threadpool(store)
    finally:
        if upload is not None:
            upload.discard()
    headers = {"Location": location(body)} if location is not None else None
    return JSONResponse(body.model_dump(mode="json"), status_code=201 if created else 200, headers=headers)


async def respond_to_upload(
    request: Request, settings: Settings, store: Callable[[Upload], Stored], *, file_field: str = "file"
) -> JSONResponse:
    """Receive the request's file (field ``file_field``), then ``answer_upload`` with ``store(upload)``."""
    upload = await receive_request_file(request, settings, file_field=file_field)
    return await answer_upload(upload, lambda: store(upload))


def multipart_body(
    file_field: str,
    description: str,
    fields: dict[str, Any] | None = None,
    required: tuple[str, ...] = (),
    json_schema: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of an upload route (its body is read by ``receive_upload``, not
    FastAPI): a required multipart form with the file part ``file_field`` and text ``fields``; with
    ``json_schema``, a JSON body is documented as the alternative."""
    form = {
        "type": "object",
        "additionalProperties": False,
        "required": [file_field, *required],
        "properties": {file_field: {"type": "string", "format": "binary", "description": description},
                       **(fields or {})},
    }  # fmt: skip
    content: dict[str, Any] = {"multipart/form-data": {"schema": form}}
    if json_schema is not None:
        content = {"application/json": {"schema": json_schema}, **content}
    return {"requestBody": {"required": True, "content": content}}
