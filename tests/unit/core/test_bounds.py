"""``hokusai.bounds``: the JSON depth count every body and JSON file goes through before a parser, and the
inflate budgets of archives."""

from __future__ import annotations

import io
import json
import random
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from hokusai.bounds import InflateBudget, JsonDepth, JsonTooDeep, check_json_depth, extract_archive
from hokusai.errors import InvalidInput, PayloadTooLarge
from tests.support.bombs import deep_json


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    return 0


def _document(rng: random.Random, level: int = 0) -> Any:
    roll = rng.random()
    if level > 7 or roll < 0.3:  # strings full of brackets, quotes and backslashes must not count
        return rng.choice(['a"[{\\', "\\\\", "[[[", "}}", 1, None, 'x\\"[', "é{", ""])
    if roll < 0.65:
        return [_document(rng, level + 1) for _ in range(rng.randint(0, 3))]
    return {
        rng.choice(["k", "[", '{"', "\\"]) + str(i): _document(rng, level + 1)
        for i in range(rng.randint(0, 3))
    }


def test_the_100k_deep_body_that_crashed_the_api_is_refused_with_json_too_deep() -> None:
    with pytest.raises(JsonTooDeep) as refused:
        check_json_depth(deep_json(), 64)
    assert refused.value.status_code == 400
    assert refused.value.to_dict()["error"]["details"] == {"max_depth": 64}


def test_the_depth_count_equals_the_parsed_depth_whole_or_in_any_chunks() -> None:
    rng = random.Random(19)
    for _ in range(1500):
        value = _document(rng)
        text = json.dumps(value)
        depth = _depth(value)
        for data in (text, text.encode()):
            cuts = sorted(rng.sample(range(len(data) + 1), min(rng.choice((0, 1, 3, 9)), len(data) + 1)))
            pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
            scanner = JsonDepth(depth)
            for piece in pieces:
                scanner.feed(piece)  # exactly at the limit: accepted
            if depth:  # one level less: refused, wherever the chunks were cut
                tight = JsonDepth(depth - 1)
                with pytest.raises(JsonTooDeep):
                    for piece in pieces:
                        tight.feed(piece)


def test_closers_before_openers_do_not_hide_depth() -> None:
    with pytest.raises(JsonTooDeep):
        check_json_depth(b"]" * 100 + b"[" * 65, 64)


def test_brackets_inside_strings_and_escapes_are_not_counted() -> None:
    check_json_depth(json.dumps(["[" * 1000, '\\"{' * 500, {"k[": "}" * 10}]), 2)


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_an_archive_whose_declared_size_passes_the_budget_is_refused_before_inflating(tmp_path: Path) -> None:
    archive = tmp_path / "m.zip"
    archive.write_bytes(_zip({"model/MLmodel": b"x", "model/zeros": bytes(8 << 20)}))
    with pytest.raises(PayloadTooLarge) as refused:
        extract_archive(archive, tmp_path / "out", InflateBudget(1 << 20, "the model archive"))
    assert refused.value.code == "inflated_too_large" and refused.value.details["limit_bytes"] == 1 << 20
    assert not (tmp_path / "out" / "model" / "zeros").exists()


def test_a_tar_member_past_the_budget_is_refused_and_links_never_unpack(tmp_path: Path) -> None:
    for name, member in (("big.tar.gz", "zeros"), ("link.tgz", "link")):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            info = tarfile.TarInfo(f"model/{member}")
            if member == "link":
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)
            else:
                info.size = 4 << 20
                tar.addfile(info, io.BytesIO(bytes(info.size)))
        (tmp_path / name).write_bytes(buffer.getvalue())
    with pytest.raises(PayloadTooLarge):
        extract_archive(tmp_path / "big.tar.gz", tmp_path / "a", InflateBudget(1 << 20, "the model archive"))
    with pytest.raises(InvalidInput, match="link or device"):
        extract_archive(tmp_path / "link.tgz", tmp_path / "b", InflateBudget(1 << 20, "the model archive"))
    assert not (tmp_path / "b" / "model" / "link").exists()
