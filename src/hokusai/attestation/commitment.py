"""Weight commitments: one bytes32 that names a model artifact's content, for the contract's lineage.

``commitment = 0x + RFC 6962 Merkle root`` (:mod:`hokusai.attestation.merkle`, the attestation's
hash tree) over one leaf per file, files sorted by path (bytewise, UTF-8)::

    leaf = SHA-256( UTF-8(path) ‖ 0x00 ‖ SHA-256(file bytes) )

``path`` is the file's path relative to the artifact folder with ``/`` separators; NUL cannot be in
a path, so no two (path, hash) pairs give the same leaf bytes.

What is included: every regular file under the folder except MLflow's packaging files, which are
rewritten on every save or log of the same model (timestamps, uuids, run ids, the installing
machine's package versions): :data:`EXCLUDED_FILES` at the top level and anything under
:data:`EXCLUDED_DIRS`. So the same estimator file with the same companion files gives the same
commitment wherever and whenever it was saved. A symbolic link is refused (its target could be
anything); a folder with no included file is refused.

What goes on chain (a mint request's ``baselineCommitment`` and ``candidateCommitment``, a model's
genesis head) is the artifact commitment bound to the platform model (:func:`model_bound`)::

    bound = 0x + SHA-256( "hokusai.model-commitment.v1" ‖ 0x00 ‖ UTF-8(platform model id) ‖ 0x00 ‖ root )

so two platform models registered from the same file never share a head, and a mint request made for
one model never matches the lineage head of another.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from hokusai.attestation.merkle import merkle_root
from hokusai.errors import InvalidInput, NotFound
from hokusai.hashing import file_sha256

EXCLUDED_FILES = frozenset(
    {
        "MLmodel",  # utc_time_created, model_uuid, run_id, model_id, mlflow_version
        "conda.yaml",  # environment of the saving machine
        "python_env.yaml",
        "requirements.txt",
        "registered_model_meta",  # registry name and version
    }
)
EXCLUDED_DIRS = frozenset({"metadata"})  # MLflow's copies of the files above


def included(path: str) -> bool:
    """Whether a relative POSIX path counts toward the commitment."""
    parts = path.split("/")
    return not (len(parts) == 1 and parts[0] in EXCLUDED_FILES) and parts[0] not in EXCLUDED_DIRS


def file_leaf(path: str, sha256: str) -> str:
    """The leaf of one file: SHA-256(UTF-8 path ‖ 0x00 ‖ content digest), hex."""
    if "\x00" in path or not path or path.startswith("/"):
        raise InvalidInput(f"{path!r} is not a relative file path")
    return hashlib.sha256(path.encode("utf-8") + b"\x00" + bytes.fromhex(sha256)).hexdigest()


def commitment_of(files: Iterable[tuple[str, str]]) -> str:
    """The commitment of ``(relative path, SHA-256 hex)`` pairs (any order; excluded paths dropped).

    For an artifact that is listed rather than on disk (an MLflow or S3 listing with hashes).
    """
    entries = sorted((path, digest) for path, digest in files if included(path))
    if not entries:
        raise InvalidInput("a model artifact with no file to commit to")
    paths = [path for path, _digest in entries]
    if len(set(paths)) != len(paths):
        raise InvalidInput("a path appears twice in the artifact listing")
    return "0x" + merkle_root([file_leaf(path, digest) for path, digest in entries])


def artifact_files(directory: str | Path) -> list[tuple[str, str]]:
    """``(relative POSIX path, SHA-256)`` of every regular file under ``directory``, sorted."""
    root = Path(directory)
    if not root.is_dir():
        raise NotFound(f"model artifact folder {root} does not exist")
    found = []
    for current, dirs, names in os.walk(root):
        for name in [*dirs, *names]:
            if (Path(current) / name).is_symlink():
                raise InvalidInput(
                    f"{Path(current, name)} is a symbolic link; a commitment covers files only"
                )
        for name in names:
            path = Path(current) / name
            found.append((path.relative_to(root).as_posix(), file_sha256(path)))
    return sorted(found)


BOUND_TAG = b"hokusai.model-commitment.v1"


def model_bound(model_id: str, commitment: str) -> str:
    """The on-chain commitment of platform model ``model_id`` holding the artifact ``commitment``."""
    if not model_id or "\x00" in model_id:
        raise InvalidInput(f"{model_id!r} is not a platform model id")
    digest = commitment.removeprefix("0x")
    if len(digest) != 64:
        raise InvalidInput(f"{commitment!r} is not a bytes32 commitment")
    try:
        root = bytes.fromhex(digest)
    except ValueError:
        raise InvalidInput(f"{commitment!r} is not a bytes32 commitment") from None
    return "0x" + hashlib.sha256(BOUND_TAG + b"\x00" + model_id.encode("utf-8") + b"\x00" + root).hexdigest()


def model_commitment(directory: str | Path) -> str:
    """The 0x-prefixed bytes32 commitment of the model artifact in ``directory``."""
    return commitment_of(artifact_files(directory))
