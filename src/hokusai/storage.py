"""Content-addressed blob storage for pipeline data: a local folder or an S3 bucket (or S3-compatible).

Uploads are streamed through a writer that hashes and counts as it goes, lands in a temporary
object, and is moved to ``sha256/<hash><suffix>`` only when complete; an aborted or oversized
upload leaves nothing behind. The same bytes twice land on the same key.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from hokusai.errors import InvalidInput, NotFound, PayloadTooLarge, ServiceUnavailable
from hokusai.hashing import file_sha256

S3_PART_BYTES = 8 << 20  # S3 multipart parts must be >= 5 MiB except the last
# The S3 tag by which the bucket's lifecycle rule expires raw contributions (terraform/storage.tf)
RETENTION_TAG = {"Key": "hokusai-retention", "Value": "contribution"}


@dataclass(frozen=True)
class StoredObject:
    """Where a blob landed and what it is."""

    key: str
    sha256: str
    size: int
    uri: str


def content_key(sha256: str, suffix: str) -> str:
    """The content-addressed key of a blob: ``sha256/<hash><suffix>`` (suffix keeps the format visible)."""
    if suffix and not suffix.startswith("."):
        raise InvalidInput(f"suffix {suffix!r} must start with '.'")
    return f"sha256/{sha256}{suffix.lower()}"


class BlobWriter:
    """Hashes and counts what is written; subclasses decide where the bytes go."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._digest = hashlib.sha256()
        self._done = False

    def write(self, data: bytes) -> None:
        """Append ``data``; over the limit the upload is aborted and ``PayloadTooLarge`` raised."""
        self.size += len(data)
        if self.size > self.max_bytes:
            self.abort()
            raise PayloadTooLarge(
                f"upload exceeds the limit of {self.max_bytes} bytes", details={"limit_bytes": self.max_bytes}
            )
        self._digest.update(data)
        self._write(data)

    def commit(self, suffix: str) -> StoredObject:
        """Finish: move the temporary object to its content-addressed key (idempotent)."""
        sha256 = self._digest.hexdigest()
        key = content_key(sha256, suffix)
        try:
            uri = self._commit(key)
        except BaseException:
            self.abort()
            raise
        self._done = True
        return StoredObject(key, sha256, self.size, uri)

    def abort(self) -> None:
        """Drop the temporary object; safe to call more than once."""
        if not self._done:
            self._done = True
            self._abort()

    def _write(self, data: bytes) -> None:
        raise NotImplementedError

    def _commit(self, key: str) -> str:
        raise NotImplementedError

    def _abort(self) -> None:
        raise NotImplementedError


class _LocalWriter(BlobWriter):
    def __init__(self, root: Path, max_bytes: int) -> None:
        super().__init__(max_bytes)
        self.root = root
        (root / "tmp").mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="upload-", dir=root / "tmp")
        self._path = Path(name)
        self._handle = os.fdopen(fd, "wb")

    def _write(self, data: bytes) -> None:
        self._handle.write(data)

    def _commit(self, key: str) -> str:
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        final = self.root / key
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._path, final)
        return str(final)

    def _abort(self) -> None:
        if not self._handle.closed:
            self._handle.close()
        self._path.unlink(missing_ok=True)


class _S3Writer(BlobWriter):
    def __init__(self, client: Any, bucket: str, prefix: str, max_bytes: int) -> None:
        super().__init__(max_bytes)
        self.client, self.bucket, self.prefix = client, bucket, prefix
        self._tmp_key = f"{prefix}tmp/{uuid.uuid4().hex}"
        upload = client.create_multipart_upload(Bucket=bucket, Key=self._tmp_key)
        self._upload_id = upload["UploadId"]
        self._parts: list[dict[str, Any]] = []
        self._buffer = bytearray()

    def _write(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) >= S3_PART_BYTES:
            self._flush()

    def _flush(self) -> None:
        number = len(self._parts) + 1
        part = self.client.upload_part(
            Bucket=self.bucket, Key=self._tmp_key, UploadId=self._upload_id, PartNumber=number,
            Body=bytes(self._buffer),
        )  # fmt: skip
        self._parts.append({"ETag": part["ETag"], "PartNumber": number})
        self._buffer.clear()

    def _commit(self, key: str) -> str:
        if self._buffer or not self._parts:
            self._flush()
        done = self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=self._tmp_key, UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )  # fmt: skip
        final = f"{self.prefix}{key}"
        # on a versioned bucket, deleting the key alone would keep the bytes as a noncurrent version
        version = {"VersionId": done["VersionId"]} if done.get("VersionId") else {}
        try:
            self.client.copy_object(
                Bucket=self.bucket, Key=final, CopySource={"Bucket": self.bucket, "Key": self._tmp_key}
            )
        finally:
            self.client.delete_object(Bucket=self.bucket, Key=self._tmp_key, **version)
        return f"s3://{self.bucket}/{final}"

    def _abort(self) -> None:
        self.client.abort_multipart_upload(Bucket=self.bucket, Key=self._tmp_key, UploadId=self._upload_id)


class BlobStore:
    """A local folder or ``s3://bucket/prefix`` holding content-addressed blobs."""

    def __init__(
        self, root: str, *, s3_endpoint_url: str | None = None, cache_dir: Path | None = None
    ) -> None:
        self.root = root
        self.cache_dir = cache_dir
        if root.startswith("s3://"):
            import boto3

            bucket, _, prefix = root.removeprefix("s3://").partition("/")
            self.bucket = bucket
            self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
            self._client = boto3.client("s3", endpoint_url=s3_endpoint_url)
            self.local_root: Path | None = None
        else:
            self.local_root = Path(root.removeprefix("file://")).expanduser().resolve()

    def writer(self, max_bytes: int) -> BlobWriter:
        """A writer for one upload of at most ``max_bytes`` bytes."""
        if self.local_root is not None:
            return _LocalWriter(self.local_root, max_bytes)
        try:
            return _S3Writer(self._client, self.bucket, self.prefix, max_bytes)
        except Exception as exc:  # botocore errors: bucket missing, credentials, endpoint down
            raise ServiceUnavailable(f"pipeline-data store {self.root} is not writable: {exc}") from None

    def put_file(self, path: Path, suffix: str, max_bytes: int = 1 << 40) -> StoredObject:
        """Store a local file (used by tests, the CLI and server-side copies)."""
        writer = self.writer(max_bytes)
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    writer.write(chunk)
        except BaseException:
            writer.abort()
            raise
        return writer.commit(suffix)

    def uri(self, key: str) -> str:
        """Where ``key`` lives, as a path or an ``s3://`` URI."""
        if self.local_root is not None:
            return str(self.local_root / key)
        return f"s3://{self.bucket}/{self.prefix}{key}"

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        if self.local_root is not None:
            return (self.local_root / key).is_file()
        try:
            self._client.head_object(Bucket=self.bucket, Key=f"{self.prefix}{key}")
            return True
        except self._client.exceptions.ClientError:
            return False

    def open(self, key: str) -> BinaryIO:
        """The blob's bytes as a stream, read where they are (an S3 body is not cached on disk)."""
        if self.local_root is not None:
            path = self.local_root / key
            if not path.is_file():
                raise NotFound(f"blob {key} is not in {self.root}")
            return path.open("rb")
        try:
            return self._client.get_object(Bucket=self.bucket, Key=f"{self.prefix}{key}")["Body"]
        except self._client.exceptions.NoSuchKey:
            raise NotFound(f"blob {key} is not in {self.root}") from None
        except self._client.exceptions.ClientError as exc:
            raise ServiceUnavailable(f"could not read {key} from {self.root}: {exc}") from None

    def delete(self, key: str) -> int:
        """Delete every copy of ``key``: the object (on S3 every version and delete marker of it, since the
        bucket is versioned) and the local cache's copy; returns how many were removed (0: already gone)."""
        removed = 0
        if self.cache_dir is not None and (self.cache_dir / key).is_file():
            (self.cache_dir / key).unlink(missing_ok=True)
            removed += 1
        if self.local_root is not None:
            path = self.local_root / key
            if path.is_file():
                path.unlink()
                removed += 1
            return removed
        full = f"{self.prefix}{key}"
        try:
            listing = self._client.list_object_versions(Bucket=self.bucket, Prefix=full)
            versions = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for kind in ("Versions", "DeleteMarkers")
                for v in listing.get(kind, [])
                if v["Key"] == full
            ]
            if not versions and self.exists(key):  # a store without versioning answers no versions
                versions = [{"Key": full}]
            for version in versions:
                self._client.delete_object(Bucket=self.bucket, **version)
        except self._client.exceptions.ClientError as exc:
            raise ServiceUnavailable(f"could not delete {key} from {self.root}: {exc}") from None
        return removed + len(versions)

    def mark_for_retention(self, key: str) -> None:
        """Tag an S3 object as a raw contribution (the bucket's lifecycle rule expires it by age) and restart
        its age: a copy onto itself is a new object, so S3 counts from the last evaluation, as the platform's
        sweep does. Nothing to do on a local folder (the sweep alone deletes there)."""
        if self.local_root is not None:
            return
        full = f"{self.prefix}{key}"
        try:
            self._client.copy_object(
                Bucket=self.bucket, Key=full, CopySource={"Bucket": self.bucket, "Key": full},
                MetadataDirective="REPLACE", TaggingDirective="REPLACE",
                Tagging=f"{RETENTION_TAG['Key']}={RETENTION_TAG['Value']}",
            )  # fmt: skip
        except self._client.exceptions.ClientError as exc:
            raise ServiceUnavailable(f"could not tag {key} in {self.root}: {exc}") from None

    def clear_retention(self, key: str) -> None:
        """Take the raw-contribution tag off an S3 object (the same bytes are now also an owner's dataset,
        which no age rule deletes). Nothing to do on a local folder."""
        if self.local_root is None:
            try:
                self._client.delete_object_tagging(Bucket=self.bucket, Key=f"{self.prefix}{key}")
            except self._client.exceptions.ClientError as exc:
                raise ServiceUnavailable(f"could not untag {key} in {self.root}: {exc}") from None

    def local_path(self, key: str) -> Path:
        """A local file with the blob's bytes (S3 blobs are downloaded once into the cache, hash-checked)."""
        if self.local_root is not None:
            path = self.local_root / key
            if not path.is_file():
                raise NotFound(f"blob {key} is not in {self.root}")
            return path
        if self.cache_dir is None:
            raise InvalidInput("an S3 blob store needs a cache_dir to hand out local copies")
        target = self.cache_dir / key
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".download-", dir=target.parent)
        os.close(fd)
        try:
            self._client.download_file(self.bucket, f"{self.prefix}{key}", tmp)
            expected = key.split("/")[-1].split(".")[0]
            if file_sha256(tmp) != expected:
                raise ServiceUnavailable(f"blob {key} from {self.root} does not match its hash")
            os.replace(tmp, target)
        except self._client.exceptions.ClientError:
            raise NotFound(f"blob {key} is not in {self.root}") from None
        finally:
            Path(tmp).unlink(missing_ok=True)
        return target
