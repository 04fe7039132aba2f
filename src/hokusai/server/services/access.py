"""The platform's objects as the policy sees them (``policy.Subject``): who owns each, who takes part in it.

One builder per kind, so every route and service describes an object the same way before asking
``policy.require`` / ``policy.allows``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hokusai.server.db.models import (
    ApiKey,
    Attestation,
    BenchmarkSpecRow,
    Contribution,
    Dataset,
    Model,
    Run,
    RunContribution,
    Webhook,
)
from hokusai.server.policy import Access, Subject


def model_subject(model: Model) -> Subject:
    """A model: owned by its owner; its catalogue entry is readable by every authenticated caller."""
    return Subject("model", model.name, owners=frozenset({model.owner_id}), readable=Access.ANY)


def benchmark_subject(row: BenchmarkSpecRow, model: Model) -> Subject:
    """A benchmark spec: owned by its model's owner; readable by every authenticated caller (it is the
    contract a contributor's data is judged by)."""
    return Subject("benchmark", row.id, owners=frozenset({model.owner_id}), readable=Access.ANY)


def dataset_subject(dataset: Dataset) -> Subject:
    """A dataset: owned and read by whoever uploaded it."""
    return Subject("dataset", dataset.id, owners=frozenset({dataset.created_by}), readable=Access.OWNER)


def contribution_subject(contribution: Contribution, model: Model) -> Subject:
    """A contribution: owned by the model's owner; its wallet and its submitter take part in it."""
    return Subject(
        "contribution",
        contribution.id,
        owners=frozenset({model.owner_id}),
        participants=frozenset({contribution.submitted_by}),
        wallets=frozenset({contribution.contributor_address}),
    )


def run_subject(session: Session, run: Run, model: Model, *, public: bool = False) -> Subject:
    """A run: owned by the model's owner; its submitter and the wallets of its contributions take part."""
    wallets = session.scalars(
        select(Contribution.contributor_address)
        .join(RunContribution, RunContribution.contribution_id == Contribution.id)
        .where(RunContribution.run_id == run.id)
    )
    return Subject(
        "run",
        run.id,
        owners=frozenset({model.owner_id}),
        participants=frozenset({run.submitted_by}),
        wallets=frozenset(wallets),
        public=public,
    )


def attestation_subject(session: Session, attestation: Attestation) -> Subject:
    """An attestation: public when its run was accepted (it exists to be verified), else the run's."""
    run = session.get(Run, attestation.run_id)
    model = session.get(Model, run.model_id) if run is not None else None
    accepted = bool(((attestation.report or {}).get("outcome") or {}).get("accepted"))
    if run is None or model is None:
        return Subject("attestation", attestation.id, public=accepted)
    subject = run_subject(session, run, model, public=accepted)
    return Subject(
        "attestation", attestation.id, subject.owners, subject.participants, subject.wallets, accepted
    )


def key_subject(row: ApiKey) -> Subject:
    """An API key: its principal's."""
    return Subject("key", row.id, owners=frozenset({row.principal_id}), readable=Access.OWNER)


def contributor_subject(address: str) -> Subject:
    """A wallet's record (its impact): the wallet's own."""
    return Subject("contributor", address, wallets=frozenset({address}))


def mlflow_subject(resource_type: str, resource_id: str, managers: frozenset[str]) -> Subject:
    """An MLflow experiment or registered model: managed by those holding MANAGE on it."""
    return Subject(resource_type, resource_id, owners=managers, readable=Access.OWNER)


def webhook_subject(row: Webhook) -> Subject:
    """A webhook: its owner's alone (another owner's does not exist for them)."""
    return Subject("webhook", row.id, owners=frozenset({row.owner_id}), readable=Access.OWNER)
