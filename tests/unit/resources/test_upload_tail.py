"""The tail the three upload routes share (``server.uploads.answer_upload``): store off the event loop,
always discard the temporary file, 201 for something new and 200 for something stored before."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from hokusai.errors import InvalidData
from hokusai.schemas import SpecRef
from hokusai.server.uploads import Upload, answer_upload

BODY = SpecRef(id="s1", version=1, hash="h", task="binary")


def _upload(tmp_path: Path) -> Upload:
    path = tmp_path / "upload-x.csv"
    path.write_text("a\n1\n")
    return Upload(path, "x.csv", "0" * 64, path.stat().st_size)


def test_something_new_is_answered_201_with_the_body_as_json(tmp_path: Path) -> None:
    response = asyncio.run(answer_upload(_upload(tmp_path), lambda: (BODY, True)))
    assert response.status_code == 201 and json.loads(response.body) == BODY.model_dump(mode="json")


def test_bytes_stored_before_are_answered_200(tmp_path: Path) -> None:
    assert asyncio.run(answer_upload(_upload(tmp_path), lambda: (BODY, False))).status_code == 200


def test_location_names_what_was_stored(tmp_path: Path) -> None:
    response = asyncio.run(answer_upload(None, lambda: (BODY, True), location=lambda body: f"/x/{body.id}"))
    assert response.headers["location"] == "/x/s1"


def test_the_temporary_file_is_discarded_after_storing(tmp_path: Path) -> None:
    upload = _upload(tmp_path)
    asyncio.run(answer_upload(upload, lambda: (BODY, True)))
    assert not upload.path.exists()


def test_the_temporary_file_is_discarded_when_storing_fails(tmp_path: Path) -> None:
    upload = _upload(tmp_path)

    def refuse() -> tuple[SpecRef, bool]:
        raise InvalidData("x.csv failed validation", code="validation_failed")

    with pytest.raises(InvalidData):
        asyncio.run(answer_upload(upload, refuse))
    assert not upload.path.exists()
