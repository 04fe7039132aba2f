"""The contributor's data manifest: per-file facts and hashes, the validation verdict, the wallet.

``manifest["files"][i]["data_manifest"]`` is exactly ``data_manifest_for(path)``: the
``$defs/data_manifest`` object of the attestation schema. ``manifest_hash`` is the SHA-256 of the RFC 8785
canonical JSON of the manifest without that field. Nothing time- or machine-dependent is included,
so the same files, options and tool version always give the same ``manifest_hash``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hokusai import __version__
from hokusai.data.hashes import data_hash, dataset_hash
from hokusai.data.profile import Profile, Profiler, batch_hashes
from hokusai.data.quality import QualityThresholds
from hokusai.data.readers import BatchStream, ProgressFn, scan
from hokusai.data.schema import Schema
from hokusai.data.validate import FileProgress, PathLike, Paths, as_paths, validate
from hokusai.hashing import canonical_hash
from hokusai.wallet import checksum_address

MANIFEST_VERSION = 1


def profile_file(path: PathLike, *, progress: ProgressFn | None = None) -> Profile:
    """One streaming pass over ``path``: rows, columns, types, null and distinct counts."""

    def consume(stream: BatchStream) -> Profile:
        profiler = Profiler(stream.schema)
        for batch in stream:
            profiler.add(batch, batch_hashes(batch))
        return profiler.finish(stream.path, stream.format)

    return scan(path, consume, progress=progress)


def data_manifest_for(path: PathLike) -> dict[str, Any]:
    """The attestation schema's ``data_manifest`` object for one file (what the pipeline embeds)."""
    return profile_file(path).data_manifest(data_hash(path))


def manifest_hash(manifest: Mapping[str, Any]) -> str:
    """``canonical_hash`` of the manifest without its ``manifest_hash`` field."""
    return canonical_hash({key: value for key, value in manifest.items() if key != "manifest_hash"})


def build_manifest(
    paths: Paths,
    *,
    wallet: str | None = None,
    schema: Schema | PathLike | None = None,
    against: Paths | None = None,
    allow_pii: bool = False,
    thresholds: QualityThresholds | Mapping[str, Any] | None = None,
    label: str | None = None,
    progress: FileProgress | None = None,
) -> dict[str, Any]:
    """The manifest JSON of ``paths``: files, ``dataset_hash``, validation, wallet, ``manifest_hash``.

    A wallet address with a wrong EIP-55 checksum raises ``InvalidInput`` before any file is read.
    """
    contributor = checksum_address(wallet) if wallet else None
    files = as_paths(paths)
    report = validate(
        files,
        schema=schema,
        against=against,
        allow_pii=allow_pii,
        thresholds=thresholds,
        label=label,
        progress=progress,
    )
    manifest: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "tool": {"name": "hokusai", "version": __version__},
        "wallet": contributor,
        "dataset_hash": dataset_hash(files),
        "files": [result.to_dict() for result in report.files],
        "validation": report.summary(),
    }
    manifest["manifest_hash"] = manifest_hash(manifest)
    return manifest
