"""``POST /api/v1/retention/sweep``: an admin runs the retention sweep now, or lists what it would delete."""

from __future__ import annotations

from fastapi import APIRouter

from hokusai import schemas
from hokusai.server import policy
from hokusai.server.db.models import utcnow
from hokusai.server.deps import Caller, SessionDep, StateDep
from hokusai.server.policy import Subject
from hokusai.server.services.rights import Copies, sweep

router = APIRouter(prefix="/api/v1/retention", tags=["contributions"])


@router.post(
    "/sweep",
    response_model=schemas.RetentionSweep,
    summary="Delete raw contributions past retention (dry_run, the default: list them, delete nothing)",
)
def retention_sweep(
    body: schemas.RetentionRequest, principal: Caller, session: SessionDep, state: StateDep
) -> schemas.RetentionSweep:
    """What is due: raw data kept longer than its model's retention after its last evaluation."""
    policy.require(principal, "retention.sweep", Subject("retention", "sweep"))
    answer = sweep(session, Copies(state.store, state.settings), utcnow(), dry_run=body.dry_run)
    session.commit()
    return answer
