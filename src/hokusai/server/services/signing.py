"""Signing a run's attestation for its worker: the worker loads models and data and never holds a key.

The worker sends the unsigned document and its evaluation report, with the one-run token it was given.
The platform checks that they describe the run it dispatched — the same model file, training data,
benchmark, contributions (data hashes and wallets, in order) and options, and a run id recomputed from
them — then seals the document with the platform signer and hands it back. Nothing is stored here: the
worker stores the sealed document with the run's result, in the one transaction that records the run as
succeeded (``services.attestations.store_attestation``), so a run that fails after signing (MLflow gone at
"record") leaves no attestation. A worker that ran other code can at worst lie about the metrics of its
own run; it cannot get a signature for anything else.

What the platform signs with is published, and kept: ``publish_signers`` (at start) records each attester
under the settings' EIP-712 domain in ``hk_signer_history`` and closes the rows of signers or domains no
longer configured; ``signer_history`` is what verification checks a document against, so a document
signed before a new verifying contract or a rotated key keeps verifying.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hokusai.attestation.content import hash_tree_root, identity_of, pipeline_run_id
from hokusai.attestation.document import seal
from hokusai.attestation.schema import schema_errors
from hokusai.attestation.signing import PublishedSigner, Signer
from hokusai.config import Settings
from hokusai.errors import Conflict, InvalidInput
from hokusai.server.db.models import Attestation, BenchmarkSpecRow, Dataset, Model, Run, SignerRecord, utcnow
from hokusai.server.services.audit import record_event
from hokusai.server.services.benchmarks import load
from hokusai.server.services.runs import RUNNING, check_worker_token, get_run, run_contributions

if TYPE_CHECKING:
    from hokusai.attestation.attesters import AttesterSet

log = logging.getLogger("hokusai.signing")

_OPTIONS_BOUND = ("seed", "sample", "threshold", "min_benchmark_rows", "guardrails")
_RESOLVED_WHEN_UNSET = ("primary_metric", "accuracy_tolerance")  # the run resolves a default when None


def _sha(session: Session, dataset_id: str) -> str | None:
    dataset = session.get(Dataset, dataset_id)
    return dataset.sha256 if dataset else None


def mismatches(
    session: Session, run: Run, model: Model, document: dict[str, Any], report: dict[str, Any]
) -> list[str]:
    """What in ``document``/``report`` differs from the run the platform dispatched (empty: nothing)."""
    try:
        identity = identity_of(document, report)
        stated_id = document["metadata"]["pipeline_run_id"]
    except (KeyError, TypeError) as exc:
        return [f"the document lacks {exc}"]
    problems = []
    if stated_id != pipeline_run_id(identity) or report.get("pipeline_run_id") != stated_id:
        problems.append("pipeline_run_id is not the one its inputs and options give")
    if identity["train_hash"] != _sha(session, model.train_dataset_id):
        problems.append("the training data is not the model's")
    spec_row = session.get(BenchmarkSpecRow, run.benchmark_spec_id) if run.benchmark_spec_id else None
    benchmark_id = spec_row.benchmark_dataset_id if spec_row else model.benchmark_dataset_id
    if identity["benchmark_hash"] != _sha(session, benchmark_id):
        problems.append("the benchmark is not the one the run's benchmark spec pins")
    sampled = bool((report.get("samples") or {}).get("sampled"))
    baseline_hash = run.baseline_hash or model.model_hash  # the file pinned when the run was claimed
    if baseline_hash and not sampled and identity["baseline_model_hash"] != baseline_hash:
        problems.append("the baseline model is not the registered file")
    expected = [
        {"data_hash": _sha(session, c.dataset_id), "wallet": c.contributor_address}
        for _, c in run_contributions(session, run)
    ]
    if identity["contributions"] != expected:
        problems.append("the contributions are not the run's (data hashes and wallets, in order)")
    stated_terms = [entry.get("terms_hash") for entry in report.get("contributions") or []]
    if stated_terms != [c.terms_hash for _, c in run_contributions(session, run)]:
        problems.append("the contributions' terms hashes are not the ones their wallets signed")
    options = report.get("options") or {}
    for name in _OPTIONS_BOUND:
        if options.get(name) != run.options.get(name):
            problems.append(
                f"option {name} is {options.get(name)!r}, the run asked for {run.options.get(name)!r}"
            )
    for name in _RESOLVED_WHEN_UNSET:
        if run.options.get(name) is not None and options.get(name) != run.options[name]:
            problems.append(f"option {name} is not the one the run asked for")
    stated_spec = (report.get("options") or {}).get("benchmark_spec") or {}
    if spec_row is not None and (stated_spec.get("id"), stated_spec.get("hash")) != (
        spec_row.id,
        load(spec_row).canonical_hash(),
    ):
        problems.append("the benchmark spec is not the run's (id and canonical hash)")
    if report.get("kind") != "evaluation":
        problems.append("the report is not an evaluation report")
    return problems


def sign_run_document(
    session: Session,
    signer: Signer,
    run_id: str,
    token: str | None,
    document: dict[str, Any],
    report: dict[str, Any],
) -> dict[str, Any]:
    """The sealed attestation of a running run's document (not stored: the worker stores it with the run's
    result); refused unless it is that run's."""
    run = get_run(session, run_id)
    check_worker_token(run, token)
    if run.state != RUNNING:
        raise Conflict(f"run {run_id} is {run.state}; only a running run is signed", code="run_not_running")
    model = session.get(Model, run.model_id)
    assert model is not None
    errors = schema_errors({**document, "attestation": {"hash_tree_root": "0" * 64, "proof_ready": True}})
    problems = errors + mismatches(session, run, model, document, report)
    if problems:
        raise InvalidInput(
            "the document does not describe the run the platform dispatched: " + "; ".join(problems),
            code="document_mismatch",
            details={"problems": problems},
        )
    attestation_id = document["metadata"]["pipeline_run_id"]
    stored = session.get(Attestation, attestation_id)
    if stored is not None:
        if stored.hash_tree_root != hash_tree_root(document, report):
            raise Conflict(
                f"attestation {attestation_id} was already signed with other content",
                code="attestation_exists",
            )
        return stored.document
    sealed = seal(document, report, signer)
    section = sealed["attestation"]
    record_event(
        session,
        "attestation_signed",
        resource=f"attestation:{attestation_id}",
        details={"run": run.id, "signer": section["verification_key"]},
    )
    return sealed


def _key(signer: str, chain_id: int, contract: str | None) -> tuple[str, int, str | None]:
    return signer.lower(), chain_id, contract.lower() if contract else None


def current_signers(settings: Settings, attesters: AttesterSet) -> list[PublishedSigner]:
    """Every attester under the domain the settings define (what this process signs with now)."""
    return [
        PublishedSigner(address, settings.chain_id, settings.delta_verifier_address)
        for address in attesters.addresses
    ]


def publish_signers(session: Session, settings: Settings, attesters: AttesterSet) -> list[str]:
    """Record the current signers and domain in the history and close what is no longer configured (the
    caller commits); returns what changed, for the log. Idempotent: an unchanged configuration adds
    nothing."""
    now = utcnow()
    current = {
        _key(s.signer, s.chain_id, s.verifying_contract): s for s in current_signers(settings, attesters)
    }
    changed: list[str] = []
    for row in session.scalars(select(SignerRecord).where(SignerRecord.valid_to.is_(None))):
        key = _key(row.signer, row.chain_id, row.verifying_contract)
        if key in current:
            current.pop(key)
        else:
            row.valid_to = now
            changed.append(f"retired {row.signer} (chain {row.chain_id}, {row.verifying_contract})")
    for entry in current.values():
        session.add(SignerRecord(signer=entry.signer, chain_id=entry.chain_id,
                                 verifying_contract=entry.verifying_contract, valid_from=now))  # fmt: skip
        changed.append(f"published {entry.signer} (chain {entry.chain_id}, {entry.verifying_contract})")
    if changed:
        record_event(
            session, "signers_published", resource="attestation:signers", details={"changes": changed}
        )
    return changed


def signer_history(session: Session, settings: Settings, attesters: AttesterSet) -> list[PublishedSigner]:
    """Every signer and domain the platform has published, oldest first; the current ones always among them
    (also before ``publish_signers`` has run in this process)."""
    rows = session.scalars(select(SignerRecord).order_by(SignerRecord.valid_from, SignerRecord.id)).all()
    history = [
        PublishedSigner(row.signer, row.chain_id, row.verifying_contract, row.valid_from, row.valid_to)
        for row in rows
    ]
    recorded = {_key(e.signer, e.chain_id, e.verifying_contract) for e in history if e.valid_to is None}
    history += [
        entry
        for entry in current_signers(settings, attesters)
        if _key(entry.signer, entry.chain_id, entry.verifying_contract) not in recorded
    ]
    return history


def publish_current_signers(
    sessions: sessionmaker[Session], settings: Settings, attesters: AttesterSet
) -> None:
    """At start: publish the loaded attesters under the settings' domain, in its own transaction."""
    with sessions() as session:
        changed = publish_signers(session, settings, attesters)
        session.commit()
    for change in changed:
        log.info("attestation signers: %s", change)
