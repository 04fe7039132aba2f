"""One hash definition everyone can reproduce; the manifest fits the attestation schema."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from hokusai.cli import data as data_cli
from hokusai.data import build_manifest, data_hash, data_manifest_for, dataset_hash, manifest_hash
from hokusai.errors import InvalidInput
from hokusai.hashing import canonical_hash, file_sha256

Writer = Callable[[str, str | bytes], Path]
ROOT = Path(__file__).resolve().parents[3]
ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55 test vector
CSV = "id,color,size,label\n1,red,1.5,yes\n2,blue,,no\n3,red,2.5,yes\n4,green,3.0,no\n"


def _data_manifest_schema() -> dict:
    for folder in ROOT.parents:
        path = folder / "shared" / "schemas" / "zk_output_schema.json"
        if path.is_file():
            schema = json.loads(path.read_text())
            return {**schema["$defs"]["data_manifest"], "$defs": schema["$defs"]}
    pytest.skip("shared schemas not available: check out ../shared beside the repository")


def _sha256sum(*args: str, cwd: Path) -> str:
    return subprocess.run(["sha256sum", *args], capture_output=True, text=True, check=True, cwd=cwd).stdout


def test_data_hash_is_the_one_shared_definition() -> None:
    assert data_hash is file_sha256


@pytest.mark.parametrize("name", ["plain.csv", "packed.csv.gz"])
def test_data_hash_equals_the_sha256sum_binary(write: Writer, tmp_path: Path, name: str) -> None:
    content = CSV.encode() * 1000
    path = write(name, gzip.compress(content) if name.endswith(".gz") else content)
    assert data_hash(path) == _sha256sum(name, cwd=tmp_path).split()[0]


def test_a_streamed_upload_hash_equals_data_hash(write: Writer) -> None:
    path = write("upload.csv", CSV * 5000)
    streamed = hashlib.sha256()
    with open(path, "rb") as body:
        while chunk := body.read(64 * 1024 + 7):
            streamed.update(chunk)
    assert streamed.hexdigest() == data_hash(path)


def test_dataset_hash_is_sha256sum_lines_sorted_then_hashed(write: Writer, tmp_path: Path) -> None:
    a, b = write("b.csv", CSV), write("a.csv", CSV + "5,red,1.0,no\n")
    pipeline = subprocess.run(
        "sha256sum b.csv a.csv | LC_ALL=C sort | sha256sum",
        shell=True, capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    assert dataset_hash([a, b]) == pipeline.stdout.split()[0]


def test_dataset_hash_ignores_argument_order_and_folders(write: Writer) -> None:
    a, b = write("x/a.csv", CSV), write("y/b.csv", CSV + "5,red,1.0,no\n")
    assert dataset_hash([a, b]) == dataset_hash([b, a])


def test_manifest_data_fields_are_valid_against_the_attestation_schema(write: Writer) -> None:
    manifest = build_manifest([write("d.csv", CSV), write("e.jsonl", '{"a": 1}\n{"a": 2}\n')], allow_pii=True)
    validator = Draft202012Validator(_data_manifest_schema())
    for entry in manifest["files"]:
        assert list(validator.iter_errors(entry["data_manifest"])) == []


def test_manifest_records_per_file_facts(write: Writer) -> None:
    path = write("d.csv", CSV)
    entry = build_manifest(path)["files"][0]
    facts = entry["data_manifest"]
    assert (entry["format"], entry["size_bytes"]) == ("csv", path.stat().st_size)
    assert (facts["row_count"], facts["column_count"]) == (4, 4)
    assert facts["columns"] == ["id", "color", "size", "label"]
    assert facts["dtypes"] == {"id": "int64", "color": "string", "size": "double", "label": "string"}
    assert facts["null_counts"] == {"id": 0, "color": 0, "size": 1, "label": 0}
    assert facts["unique_counts"] == {"id": 4, "color": 3, "size": 3, "label": 2}


def test_pipeline_helper_gives_exactly_the_manifest_entry_and_sha256sum(
    write: Writer, tmp_path: Path
) -> None:
    path = write("d.csv", CSV)
    entry = build_manifest(path)["files"][0]["data_manifest"]
    assert data_manifest_for(path) == entry
    assert entry["data_hash"] == _sha256sum("d.csv", cwd=tmp_path).split()[0]


def test_manifest_hash_is_the_canonical_hash_without_itself(write: Writer) -> None:
    manifest = build_manifest(write("d.csv", CSV), wallet=ADDRESS)
    body = {k: v for k, v in manifest.items() if k != "manifest_hash"}
    assert manifest["manifest_hash"] == canonical_hash(body) == manifest_hash(manifest)


def test_manifest_is_reproducible_and_changes_with_the_data(write: Writer) -> None:
    path = write("d.csv", CSV)
    first, second = build_manifest(path), build_manifest(path)
    assert first["manifest_hash"] == second["manifest_hash"]
    path.write_text(CSV + "5,red,1.0,no\n")
    assert build_manifest(path)["manifest_hash"] != first["manifest_hash"]


def test_lowercase_wallet_is_stored_checksummed(write: Writer) -> None:
    manifest = build_manifest(write("d.csv", CSV), wallet=ADDRESS.lower())
    assert manifest["wallet"] == ADDRESS


def test_wallet_with_a_wrong_checksum_is_refused(write: Writer) -> None:
    bad = ADDRESS[:-1] + ("d" if ADDRESS[-1] == "D" else "D")
    with pytest.raises(InvalidInput, match="checksum"):
        build_manifest(write("d.csv", CSV), wallet=bad)


def test_manifest_cli_writes_the_file_and_prints_the_same_json(
    cli: Callable, write: Writer, tmp_path: Path
) -> None:
    path, out = write("d.csv", CSV), tmp_path / "out" / "manifest.json"
    result = cli("manifest", path, "--wallet", ADDRESS, "--json", "--out", out)
    assert result.code == 0, result.err
    assert result.json() == json.loads(out.read_text())
    assert result.json()["wallet"] == ADDRESS
    assert result.json()["validation"]["valid"] is True


def test_manifest_cli_exits_1_when_the_data_is_invalid_and_still_writes_it(
    cli: Callable, write: Writer, tmp_path: Path
) -> None:
    path, out = write("d.csv", CSV + "9,x@example.com,1.0,no\n"), tmp_path / "m.json"
    result = cli("manifest", path, "--out", out)
    assert result.code == 1
    assert result.err_lines == ["error: data is invalid: 1 error finding(s): pii.email (see the manifest)"]
    assert json.loads(out.read_text())["validation"]["valid"] is False


def test_unique_counts_below_the_cap_are_marked_exact(write: Writer) -> None:
    path = write("d.csv", CSV)
    assert build_manifest(path)["files"][0]["unique_counts_exact"] == dict.fromkeys(
        ["id", "color", "size", "label"], True
    )


def test_progress_never_mixes_into_json_output(
    cli: Callable, write: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data_cli, "PROGRESS_MIN_BYTES", 0)  # every file counts as large: a bar is shown
    body = CSV.split("\n", 1)[1]
    result = cli("manifest", write("d.csv", CSV + body * 99), "--json")
    assert result.code == 1  # 99 duplicates of every row
    assert json.loads(result.out)["files"][0]["data_manifest"]["row_count"] == 400
