"""Attestations as the platform stores and serves them, and contributor impact aggregated from runs.

An attestation is stored only by ``store_attestation``, in the transaction that records its run as
succeeded: signing (``services.signing``) stores nothing, so a run that fails after it was signed leaves
no attestation to serve or verify against.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hokusai import schemas
from hokusai.config import Settings
from hokusai.errors import Conflict, NotFound, found
from hokusai.server.db.models import Attestation, Contribution, Model, Run, RunContribution, utcnow
from hokusai.server.services.audit import record_event
from hokusai.server.services.runs import SUCCEEDED, counted_runs
from hokusai.wallet import checksum_address

if TYPE_CHECKING:
    from hokusai.attestation.attesters import AttesterSet


def get_attestation(session: Session, attestation_id: str) -> Attestation:
    """The attestation ``attestation_id`` (a pipeline run id); 404 otherwise."""
    return found(
        session.get(Attestation, attestation_id),
        NotFound(f"no attestation {attestation_id!r}", code="attestation_not_found"),
    )


def store_attestation(session: Session, run: Run, document: dict[str, Any], report: dict[str, Any]) -> str:
    """Add a run's sealed ``document`` and its report to ``session`` (the caller commits them with the run's
    result, or neither); returns its id. The same signed content stored by an earlier run (the same inputs
    evaluated again) is kept, with that run's MLflow ids; other content under that id is a 409."""
    from hokusai.attestation.content import hash_tree_root

    section = document["attestation"]
    attestation_id = str(document["metadata"]["pipeline_run_id"])
    if hash_tree_root(document, report) != section["hash_tree_root"]:
        raise Conflict(
            f"attestation {attestation_id}: the report is not the one that was signed", code="report_mismatch"
        )
    stored = session.get(Attestation, attestation_id)
    if stored is not None:
        if (stored.hash_tree_root, stored.document["attestation"]["signature_blob"]) != (
            section["hash_tree_root"],
            section["signature_blob"],
        ):
            raise Conflict(
                f"attestation {attestation_id} was already stored with other content",
                code="attestation_exists",
            )
        return attestation_id
    session.add(
        Attestation(
            id=attestation_id, run_id=run.id, hash_tree_root=section["hash_tree_root"],
            signer=section["verification_key"], document=document, report=report, created_at=utcnow(),
        )
    )  # fmt: skip
    session.flush()
    record_event(
        session,
        "attestation_stored",
        resource=f"attestation:{attestation_id}",
        details={"run": run.id, "signer": section["verification_key"]},
    )
    return attestation_id


def stored_report(session: Session, document: dict[str, Any]) -> dict[str, Any] | None:
    """The evaluation report stored with the document's run id, if this platform made it."""
    run_id = (document.get("metadata") or {}).get("pipeline_run_id")
    stored = session.get(Attestation, run_id) if isinstance(run_id, str) else None
    return stored.report if stored is not None else None


def verify_document(
    session: Session,
    settings: Settings,
    attesters: AttesterSet,
    document: dict[str, Any],
    report: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``{valid, checks}`` of a document against every signer and EIP-712 domain this platform has published
    (its history, not only today's settings); its report is the one sent, else the one stored with its
    run id."""
    from hokusai.attestation import verify_attestation
    from hokusai.server.services.signing import signer_history

    verdict = verify_attestation(
        document, report=report or stored_report(session, document),
        published=signer_history(session, settings, attesters),
    )  # fmt: skip
    return verdict.to_dict()


def contribution_value(session: Session, run: Run, position: int) -> schemas.ContributionValue:
    """A contribution's value ± standard error (pp) and near-copies dropped, from its run's report."""
    attestation = session.get(Attestation, run.attestation_id) if run.attestation_id else None
    entries = (attestation.report or {}).get("contributions", []) if attestation else []
    entry = entries[position] if position < len(entries) else {}
    rows = entry.get("rows") or {}
    near = sum(v for k, v in rows.items() if k.startswith("near_duplicate_of_") and isinstance(v, int))
    return schemas.ContributionValue(
        value_pp=entry.get("value_pp"), value_se_pp=entry.get("value_se_pp"), near_duplicates=near
    )


def contributor_impact(session: Session, address: str) -> schemas.Impact:
    """What a wallet's contributions achieved in finished runs: per model and in total.

    ``weighted_delta_one`` sums, over the accepted runs that count, the run's DeltaOne score times the
    wallet's weight in it. A contribution counts at most once per baseline version
    (``runs.counted_runs``): evaluating it again is listed (``counted: false``) but adds nothing.
    """
    wallet = checksum_address(address)
    contribution_query = select(Contribution).where(Contribution.contributor_address == wallet)
    query = (
        select(Run, RunContribution, Model.name)
        .join(RunContribution, RunContribution.run_id == Run.id)
        .join(Contribution, Contribution.id == RunContribution.contribution_id)
        .join(Model, Model.id == Run.model_id)
        .where(Contribution.contributor_address == wallet, Run.state == SUCCEEDED)
        .order_by(Run.finished_at)
    )
    contributions = list(session.scalars(contribution_query))
    rows = session.execute(query).all()
    per_model: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"runs": 0, "accepted_runs": 0, "weighted_delta_one": 0.0, "attestations": []}
    )
    model_ids = {run.model_id for run, _, _ in rows}
    counted: set[str] = set()
    for model_id in model_ids:  # counted among all of the model's runs, not only this wallet's
        every = session.scalars(
            select(Run)
            .where(Run.model_id == model_id, Run.state == SUCCEEDED)
            .order_by(Run.finished_at, Run.id)
        ).all()
        counted |= counted_runs(session, list(every))
    for run, link, model_name in rows:
        entry = per_model[model_name]
        entry["runs"] += 1
        accepted = bool((run.result or {}).get("accepted"))
        counts = accepted and run.id in counted
        if counts:
            entry["accepted_runs"] += 1
            entry["weighted_delta_one"] += (run.delta_one_score or 0.0) * (link.weight_bps or 0) / 10_000
        entry["attestations"].append(
            {"attestation_id": run.attestation_id, "run_id": run.id, "outcome": run.outcome,
             "delta_one_score": run.delta_one_score, "weight": (link.weight_bps or 0) / 10_000,
             "counted": counts, **contribution_value(session, run, link.position).model_dump()}
        )  # fmt: skip
    models = {name: {**values, "weighted_delta_one": round(values["weighted_delta_one"], 6)}
              for name, values in per_model.items()}  # fmt: skip
    return schemas.Impact(
        address=wallet,
        contributions=len(contributions),
        runs=sum(m["runs"] for m in models.values()),
        accepted_runs=sum(m["accepted_runs"] for m in models.values()),
        weighted_delta_one=round(sum(m["weighted_delta_one"] for m in models.values()), 6),
        models={name: schemas.ModelImpact(**values) for name, values in models.items()},
    )
