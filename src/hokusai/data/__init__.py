"""Contributor data tooling: read, validate, PII-scan, deduplicate, hash and redact data files.

One streaming reader per format (bounded memory), one data hash for the whole platform
(``data_hash`` = ``sha256sum``), and the manifest whose ``data_manifest`` objects the attestation embeds.
"""

from hokusai.data.formats import DataFormat, detect_format
from hokusai.data.hashes import data_hash, dataset_hash
from hokusai.data.manifest import build_manifest, data_manifest_for, manifest_hash, profile_file
from hokusai.data.pii import name_hint
from hokusai.data.quality import QualityThresholds
from hokusai.data.readers import (
    DEFAULT_BATCH_ROWS,
    BatchStream,
    TypeDrift,
    iter_batches,
    open_batches,
    read_frame,
    read_table,
    scan,
)
from hokusai.data.redact import redact
from hokusai.data.report import Finding, ValidationReport
from hokusai.data.schema import ColumnSpec, Schema, check_compatible, infer_schema, load_schema
from hokusai.data.validate import validate

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "BatchStream",
    "ColumnSpec",
    "DataFormat",
    "Finding",
    "QualityThresholds",
    "Schema",
    "TypeDrift",
    "ValidationReport",
    "build_manifest",
    "check_compatible",
    "data_hash",
    "data_manifest_for",
    "dataset_hash",
    "detect_format",
    "infer_schema",
    "iter_batches",
    "load_schema",
    "manifest_hash",
    "name_hint",
    "open_batches",
    "profile_file",
    "read_frame",
    "read_table",
    "redact",
    "scan",
    "validate",
]
