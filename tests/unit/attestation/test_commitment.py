"""Weight commitments: a Merkle root over (path, content hash) per file; MLflow's packaging left out."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from hokusai.attestation.commitment import artifact_files, commitment_of, model_commitment
from hokusai.errors import InvalidInput


def _write(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def test_one_file_commits_to_its_path_and_content_as_documented(tmp_path: Path) -> None:
    _write(tmp_path, {"model.pkl": b"weights"})
    leaf = _sha(b"model.pkl\x00" + _sha(b"weights"))
    assert model_commitment(tmp_path) == "0x" + _sha(b"\x00" + leaf).hex()  # RFC 6962 leaf hash


def test_files_are_sorted_by_path_so_listing_order_does_not_matter(tmp_path: Path) -> None:
    _write(tmp_path, {"b.bin": b"2", "a/x.bin": b"1", "c.bin": b"3"})
    digests = artifact_files(tmp_path)
    assert [path for path, _ in digests] == ["a/x.bin", "b.bin", "c.bin"]
    assert commitment_of(reversed(digests)) == model_commitment(tmp_path)


def test_the_same_model_saved_twice_has_the_same_commitment(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    from hokusai.tracking.models import save_model_dir

    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    first, second = save_model_dir(model, tmp_path / "one"), save_model_dir(model, tmp_path / "two")
    assert (first.directory / "MLmodel").read_bytes() != (
        second.directory / "MLmodel"
    ).read_bytes()  # uuids, time
    assert model_commitment(first.directory) == model_commitment(second.directory)
    assert len(model_commitment(first.directory)) == 66


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "model.pkl").write_bytes(b"other weights"),
        lambda root: (root / "model.pkl").rename(root / "model2.pkl"),
        lambda root: (root / "extra.json").write_text("{}"),
    ],
    ids=["content", "path", "added file"],
)
def test_changing_content_path_or_the_file_set_changes_the_commitment(tmp_path: Path, change) -> None:  # type: ignore[no-untyped-def]
    _write(tmp_path, {"model.pkl": b"weights", "MLmodel": b"time: 1"})
    before = model_commitment(tmp_path)
    change(tmp_path)
    assert model_commitment(tmp_path) != before


def test_mlflow_packaging_files_are_left_out(tmp_path: Path) -> None:
    _write(tmp_path, {"model.pkl": b"weights"})
    before = model_commitment(tmp_path)
    packaging = ("MLmodel", "conda.yaml", "python_env.yaml", "requirements.txt", "registered_model_meta")
    _write(tmp_path, {name: os.urandom(8) for name in packaging} | {"metadata/MLmodel": b"x"})
    assert model_commitment(tmp_path) == before
    _write(tmp_path, {"sub/MLmodel": b"not top level"})
    assert model_commitment(tmp_path) != before


def test_a_symbolic_link_or_an_empty_artifact_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no file"):
        model_commitment(_write(tmp_path, {"MLmodel": b"only packaging"}))
    (tmp_path / "model.pkl").symlink_to("/etc/hostname")
    with pytest.raises(InvalidInput, match="symbolic link"):
        model_commitment(tmp_path)
