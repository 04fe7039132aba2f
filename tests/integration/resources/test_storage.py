"""Content-addressed pipeline-data storage on a local folder and on S3 (a real moto server)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from hokusai.errors import PayloadTooLarge
from hokusai.storage import S3_PART_BYTES, BlobStore

pytestmark = pytest.mark.realparts


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return BlobStore(str(tmp_path / "blobs"))
    moto = request.getfixturevalue("moto_server")
    bucket = request.getfixturevalue("s3_bucket")
    return BlobStore(
        f"s3://{bucket}/contributions", s3_endpoint_url=moto.endpoint, cache_dir=tmp_path / "cache"
    )


def stored_keys(store: BlobStore) -> list[str]:
    if store.local_root is not None:
        return sorted(
            str(p.relative_to(store.local_root)) for p in store.local_root.rglob("*") if p.is_file()
        )
    listing = store._client.list_objects_v2(Bucket=store.bucket).get("Contents", [])
    return sorted(o["Key"].removeprefix(store.prefix) for o in listing)


def upload(store: BlobStore, data: bytes, chunk: int = 1 << 20, max_bytes: int = 1 << 30) -> object:
    writer = store.writer(max_bytes)
    for start in range(0, len(data), chunk):
        writer.write(data[start : start + chunk])
    return writer.commit(".csv")


def test_streamed_upload_lands_on_its_content_hash(store: BlobStore) -> None:
    data = os.urandom(S3_PART_BYTES * 2 + 12345)  # several S3 multipart parts
    stored = upload(store, data)
    digest = hashlib.sha256(data).hexdigest()
    assert stored.sha256 == digest and stored.size == len(data)
    assert stored.key == f"sha256/{digest}.csv"
    assert stored_keys(store) == [stored.key]
    assert store.local_path(stored.key).read_bytes() == data


def test_same_bytes_twice_is_the_same_single_object(store: BlobStore) -> None:
    first = upload(store, b"a,b\n1,2\n")
    second = upload(store, b"a,b\n1,2\n", chunk=3)
    assert first == second
    assert stored_keys(store) == [first.key]


def test_upload_over_the_limit_is_refused_and_leaves_nothing(store: BlobStore) -> None:
    with pytest.raises(PayloadTooLarge):
        upload(store, b"x" * 5000, chunk=1000, max_bytes=4096)
    assert stored_keys(store) == []
    if store.local_root is None:
        assert store._client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []


def test_aborted_upload_leaves_nothing(store: BlobStore) -> None:
    writer = store.writer(1 << 20)
    writer.write(b"partial")
    writer.abort()
    assert stored_keys(store) == []


def all_bytes(store: BlobStore) -> list[bytes]:
    """Every stored copy: local files, or every version of every S3 object (noncurrent ones too)."""
    if store.local_root is not None:
        return [p.read_bytes() for p in store.local_root.rglob("*") if p.is_file()]
    client, found = store._client, []
    for version in client.list_object_versions(Bucket=store.bucket).get("Versions", []):
        body = client.get_object(Bucket=store.bucket, Key=version["Key"], VersionId=version["VersionId"])
        found.append(body["Body"].read())
    return found


def test_delete_leaves_no_copy_of_the_bytes_on_a_versioned_bucket_or_in_the_cache(store: BlobStore) -> None:
    if store.local_root is None:
        store._client.put_bucket_versioning(
            Bucket=store.bucket, VersioningConfiguration={"Status": "Enabled"}
        )
    data = b"a,b\n1,raw-row-marker-5f1c\n"
    stored = upload(store, data)
    store.mark_for_retention(stored.key)  # on S3 a copy onto itself: a second version of the bytes
    store.local_path(stored.key)  # on S3 a cached download
    assert any(b"raw-row-marker-5f1c" in blob for blob in all_bytes(store))
    assert store.delete(stored.key) >= 1
    assert not any(b"raw-row-marker-5f1c" in blob for blob in all_bytes(store))
    assert store.cache_dir is None or not (store.cache_dir / stored.key).exists()
    assert store.delete(stored.key) == 0  # idempotent
