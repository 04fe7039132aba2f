"""Model files the platform can trust: skops with an explicit allowlist, deterministic bytes, and a look
at what a file holds without loading it.

* **Loading** never unpickles: a skops file is read with ``skops.io.load`` trusting only skops' own safe
  defaults plus ``EXTRA_TRUSTED_TYPES`` (scikit-learn/numpy internals that skops does not trust by
  default); a file naming any other type is refused. The allowlist an MLflow ``MLmodel`` file carries
  (``skops_trusted_types``) is ignored: it is written by whoever made the model. pickle and cloudpickle
  files load only when the caller says so (an owner an admin marked ``trusted_pickle``, in a run worker).
* **Inspecting** (``inspect_model_file``) reads the skops schema (JSON) only: the root class, whether it
  is a classifier or a regressor, the untrusted types. The API uses this; it never deserialises a model.
* **Deterministic bytes**: skops writes object ids (memory addresses) and zip timestamps, so the same
  model gives different files. ``canonical_skops`` renumbers the ids in order of appearance and writes
  the zip with fixed timestamps, so the same fitted estimator always has the same SHA-256 (the model hash
  of attestations). skops offers no such option; this is the smallest rewrite that gives it.
* **Integrity**: ``check_hash`` compares a file with the hash recorded at registration before anything
  reads it (``model_tampered``).
"""

from __future__ import annotations

import importlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hokusai.bounds import InflateBudget, check_json_depth, check_zip_members, read_zip_member
from hokusai.errors import InvalidData, InvalidInput
from hokusai.hashing import file_sha256
from hokusai.tracking.skops_trees import check_trees

SKOPS, PICKLE, CLOUDPICKLE = "skops", "pickle", "cloudpickle"
FORMATS = (SKOPS, PICKLE, CLOUDPICKLE)
EXTRA_TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
)
"""``Tree`` and ``TreePredictor`` are memory-unsafe for skops (raw node indices); they are trusted here
because ``check_skops_file`` checks every tree's node arrays before any load (``skops_trees``)."""
SAVING_DOC = "docs/pipeline.md#saving-a-model-for-the-platform"
"""Where the allowlist and how to save tree models are explained (named by the allowlist's error)."""
SCHEMA_MAX_BYTES = 16 << 20  # a skops schema.json, inflated (the arrays are separate members)
SCHEMA_MAX_DEPTH = 256  # nesting of the schema's JSON (estimators nest a few levels each)
MAX_INFLATED_BYTES = 1 << 30  # every member of a skops file together, inflated
_ROOT_MODULES = ("sklearn.",)  # a model's root object must be a scikit-learn class
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_FILE_ID = re.compile(r"^(\d+)(\.\w+)$")


@dataclass(frozen=True)
class ModelFile:
    """What a model file is, read without loading it."""

    path: Path
    format: str
    sha256: str
    estimator_class: str | None  # ``module.Class`` of the root object (skops only)
    kind: str | None  # "classifier", "regressor" or None (unknown: pickle, or neither)


def _read_skops(path: Path, then: Any) -> Any:
    """Open a skops archive, check its members' declared sizes, read its ``schema.json`` counted and
    depth-checked under the budgets, then ``then(schema, archive, budget)`` while it is open."""
    budget = InflateBudget(MAX_INFLATED_BYTES, f"the model file {path.name}")
    try:
        with zipfile.ZipFile(path) as archive:
            check_zip_members(archive, budget)
            schema_budget = InflateBudget(SCHEMA_MAX_BYTES, f"the model file {path.name}")
            text = read_zip_member(archive, "schema.json", schema_budget)
            budget.take(len(text))
            check_json_depth(text, SCHEMA_MAX_DEPTH, f"the schema of {path.name}")
            schema = json.loads(text)
            if not isinstance(schema, dict):
                raise ValueError("the schema is not an object")
            return then(schema, archive, budget)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, RecursionError) as exc:
        raise InvalidInput(
            f"{path.name} is not a readable skops file ({exc})", code="bad_model_file"
        ) from None


def check_skops_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    """Everything checked before a skops file is trusted (by the API, which never loads it, and before
    every load): declared and streamed sizes under budget, the schema's depth, the type allowlist, and
    every tree's node arrays (``skops_trees``). Returns the parsed schema and the types skops itself does
    not trust (all of them on the allowlist)."""

    def check(schema: dict[str, Any], archive: zipfile.ZipFile, budget: InflateBudget) -> Any:
        reported = _skops_untrusted(path)
        check_allowlist(path, reported)
        check_trees(schema, archive, budget)
        return schema, reported

    checked: tuple[dict[str, Any], list[str]] = _read_skops(path, check)
    return checked


def untrusted_types(path: Path, reported: list[str] | None = None) -> list[str]:
    """The types in a skops file that neither skops nor our allowlist trusts (read from its schema);
    ``reported`` is what skops found untrusted in the file, when the caller has asked it already."""
    return sorted(
        set(reported if reported is not None else _skops_untrusted(path)) - set(EXTRA_TRUSTED_TYPES)
    )


def _skops_untrusted(path: Path) -> list[str]:
    """The types in a skops file that skops does not trust by default (a scan of every loaded module:
    ~0.5 s in a process that has imported MLflow, so a load asks once)."""
    import skops.io

    try:
        return list(skops.io.get_untrusted_types(file=str(path)))
    except Exception as exc:  # a broken archive or schema
        raise InvalidInput(
            f"{path.name} is not a readable skops file ({exc})", code="bad_model_file"
        ) from None


def _estimator_kind(module: str, name: str) -> str | None:
    """Whether ``module.name`` is a scikit-learn classifier or regressor (imports only sklearn modules)."""
    if not module.startswith(_ROOT_MODULES):
        return None
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    from sklearn.base import ClassifierMixin, RegressorMixin

    if isinstance(cls, type) and issubclass(cls, ClassifierMixin):
        return "classifier"
    if isinstance(cls, type) and issubclass(cls, RegressorMixin):
        return "regressor"
    if name == "Pipeline" and module.startswith("sklearn.pipeline"):
        return "pipeline"
    return None


def inspect_model_file(path: Path, serialization_format: str) -> ModelFile:
    """Describe a model file without deserialising it; a skops file with untrusted types is refused."""
    if serialization_format not in FORMATS:
        raise InvalidInput(
            f"unknown model serialization format {serialization_format!r}; use skops", code="bad_model_file"
        )
    if not path.is_file():
        raise InvalidInput(f"the model file {path.name} is missing", code="bad_model_file")
    digest = file_sha256(path)
    if serialization_format != SKOPS:
        return ModelFile(path, serialization_format, digest, None, None)
    schema, _ = check_skops_file(path)
    module, name = str(schema.get("__module__", "")), str(schema.get("__class__", ""))
    kind = _estimator_kind(module, name)
    if kind == "pipeline":  # the last step decides
        kind = _pipeline_kind(schema)
    return ModelFile(path, SKOPS, digest, f"{module}.{name}", kind)


def check_allowlist(path: Path, reported: list[str] | None = None) -> None:
    """Refuse a skops file that names any type outside the allowlist (``model_untrusted_types``);
    ``reported`` as for :func:`untrusted_types`."""
    refused = untrusted_types(path, reported)
    if refused:
        raise InvalidInput(
            f"the model names types outside the allowlist: {', '.join(refused)} (the allowlist and how to "
            f"save tree models with skops: {SAVING_DOC})",
            code="model_untrusted_types",
            details={"types": refused},
        )


def _pipeline_kind(schema: dict[str, Any]) -> str | None:
    try:
        steps = schema["content"]["content"]["steps"]["content"]
        last = steps[-1]["content"][1]
        return _estimator_kind(str(last["__module__"]), str(last["__class__"]))
    except (KeyError, IndexError, TypeError):
        return None


def check_hash(path: Path, expected: str | None) -> str:
    """The file's SHA-256, after checking it is the one recorded at registration (``model_tampered``)."""
    digest = file_sha256(path)
    if expected is not None and digest != expected:
        raise InvalidData(
            f"the model file {path.name} is not the one registered (sha256 {digest[:12]}…, registered "
            f"{expected[:12]}…): it was changed after registration; the run is stopped",
            code="model_tampered",
        )
    return digest


def load_model_file(path: Path, serialization_format: str, *, allow_pickle: bool = False) -> Any:
    """The estimator in a model file: skops with the allowlist; pickle formats only with ``allow_pickle``."""
    if serialization_format == SKOPS:
        import skops.io

        _, reported = check_skops_file(path)  # before skops reads a byte of it
        trusted = sorted(set(reported))
        try:
            return skops.io.load(str(path), trusted=trusted)
        except Exception as exc:  # a schema that does not build
            raise InvalidInput(
                f"the model file {path.name} cannot be loaded: {exc}", code="bad_model_file"
            ) from None
    if serialization_format in (PICKLE, CLOUDPICKLE):
        if not allow_pickle:
            raise InvalidInput(
                f"the model is a {serialization_format} file, which can run code when loaded; save it with "
                "skops (mlflow.sklearn.log_model's default), or ask an admin to trust your pickles",
                code="pickle_refused",
            )
        import cloudpickle

        with path.open("rb") as handle:
            try:
                return cloudpickle.load(handle)
            except Exception as exc:  # unpickling errors come in every type
                raise InvalidInput(f"the model file {path.name} cannot be loaded: {exc}") from None
    raise InvalidInput(f"unknown model serialization format {serialization_format!r}", code="bad_model_file")


def canonical_skops(data: bytes) -> bytes:
    """The same skops archive with object ids renumbered by first appearance and fixed zip timestamps."""
    budget = InflateBudget(MAX_INFLATED_BYTES, "a skops file")
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        check_zip_members(source, budget)
        schema = json.loads(read_zip_member(source, "schema.json", budget))
        payloads = {
            name: read_zip_member(source, name, budget) for name in source.namelist() if name != "schema.json"
        }
    renumber: dict[int, int] = {}

    def new_id(old: int) -> int:
        return renumber.setdefault(old, len(renumber) + 1)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for key, value in node.items():
                if key == "__id__" and isinstance(value, int):
                    out[key] = new_id(value)
                elif key == "file" and isinstance(value, str) and (match := _FILE_ID.match(value)):
                    out[key] = f"{new_id(int(match[1]))}{match[2]}"
                else:
                    out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    canonical = walk(schema)
    files = {}
    for name, payload in payloads.items():
        match = _FILE_ID.match(name)
        files[f"{new_id(int(match[1]))}{match[2]}" if match else name] = payload
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        entries = [("schema.json", json.dumps(canonical, indent=2).encode()), *sorted(files.items())]
        for name, payload in entries:
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, payload)
    return out.getvalue()
