"""The benchmark spec: the one contract a model's evaluations are held to (``BenchmarkSpec``).

It extends the evaluation options with what belongs to the model rather than to one run: the task, the
target, the benchmark pinned by its SHA-256, the cooldown between DeltaOnes, a cost cap, and the
contribution schema every upload and every run is checked against (nothing re-infers a schema after
registration). Immutable once a run used it; changing it makes a new version. Its canonical hash is
recorded in every evaluation report, which every attestation commits to.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from hokusai.attestation.terms import TermsRequirement
from hokusai.data.schema import Schema
from hokusai.evaluation.families import TaskKind, metric
from hokusai.hashing import canonical_hash
from hokusai.pipeline.options import JSON_INT_MAX, EvaluationOptions

COOLDOWN_SECONDS = 86_400


class BenchmarkSpec(EvaluationOptions):
    """A model's evaluation contract. Immutable once a run used it (a change makes a new version); its
    ``canonical_hash`` is recorded in every report (and so committed to by every attestation)."""

    task: TaskKind
    target_column: str = Field(min_length=1, max_length=128)
    benchmark_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="A run on other bytes is refused.")
    cooldown_seconds: int = Field(
        COOLDOWN_SECONDS, ge=0, le=JSON_INT_MAX, description="Between two DeltaOnes of the model."
    )
    cost_cap_usd: float | None = Field(
        None, ge=0, description="The most one evaluation may cost (mint requests)."
    )
    contribution_schema: Schema = Field(description="What every contribution must look like.")
    contribution_terms: TermsRequirement = Field(
        TermsRequirement(), description="What every contribution's signed terms must grant (default: any)."
    )

    @model_validator(mode="after")
    def _fits_the_task(self) -> BenchmarkSpec:
        for name in [
            self.primary_for(self.task),
            *(self.metric_weights or {}),
            *(g.metric for g in self.guardrails),
        ]:
            metric(name, self.task)
        if self.contribution_schema.label not in (None, self.target_column):
            raise ValueError("the contribution schema's label must be the target column")
        return self

    def options(self) -> EvaluationOptions:
        """The evaluation options of this spec."""
        return EvaluationOptions.model_validate(self.model_dump(include=set(EvaluationOptions.model_fields)))

    def canonical_hash(self) -> str:
        """SHA-256 of the spec's canonical JSON (RFC 8785); default contribution terms are left out, so a
        spec from before terms existed keeps its hash."""
        data = self.model_dump(mode="json")
        if self.contribution_terms == TermsRequirement():
            data.pop("contribution_terms")
        return canonical_hash(data)
