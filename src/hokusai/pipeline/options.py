"""Every evaluation option, its default and its bounds, defined once (``EvaluationOptions``).

The API's run body, the CLI's flags, the preview, ``PipelineSpec`` and the benchmark spec (which extends
it: ``pipeline.benchmark_spec``) all take their defaults and their checks from here; nothing else writes a
default down. Light to import (the CLI builds its flags from it).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_validator,
)

from hokusai.errors import InvalidInput
from hokusai.evaluation.families import DEFAULT_PRIMARY, MetricName, TaskKind, metric

JSON_INT_MAX = 2**53 - 1  # the largest integer canonical JSON (RFC 8785) holds: specs and options are hashed
Weight = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class GuardrailOption(BaseModel):
    """A secondary metric that may drop by at most ``max_drop`` (in its delta units: pp for shares)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: MetricName
    max_drop: float = Field(
        ge=0, allow_inf_nan=False, description="Largest allowed drop, in the metric's delta units."
    )


class EvaluationOptions(BaseModel):
    """How one evaluation is run and decided."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    primary_metric: MetricName | None = Field(
        None, description="Default: AUROC (binary), accuracy, RMSE (regression)."
    )
    metric_weights: dict[MetricName, Weight] | None = Field(
        None,
        min_length=1,
        description="DeltaOne score = weighted average of these metrics' gains (default: the primary); "
        "a metric left out has no weight.",
    )
    guardrails: tuple[GuardrailOption, ...] = Field((), description="Metrics that may not drop past a limit.")
    seed: int = Field(42, ge=0, lt=2**32, description="Training, sampling, resampling and valuation seed.")
    sample: int | None = Field(
        None, ge=2, le=JSON_INT_MAX, description="Evaluate a stratified sample of this many rows."
    )
    threshold: float = Field(
        1.0, ge=0, allow_inf_nan=False, validation_alias=AliasChoices("threshold", "threshold_pp"),
        description="DeltaOne threshold in the primary metric's delta units (pp for shares).",
    )  # fmt: skip
    min_benchmark_rows: int = Field(
        200, ge=1, le=JSON_INT_MAX, description="Fewer benchmark rows: insufficient_samples."
    )
    valuation_budget: int | None = Field(
        None, ge=2, le=100_000, description="Retrains for contributor values (default: the platform's)."
    )
    accuracy_tolerance: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="Regression: |prediction - truth| counted accurate (default: half the std).",
    )

    @model_validator(mode="after")
    def _metrics_exist(self) -> EvaluationOptions:
        for name in [self.primary_metric, *(self.metric_weights or {}), *(g.metric for g in self.guardrails)]:
            if name is not None:
                metric(name)
        return self

    def primary_for(self, task: TaskKind) -> str:
        """The primary metric for ``task`` (checked to apply to it)."""
        return metric(self.primary_metric or DEFAULT_PRIMARY[task], task).name


def overrides_of(
    model: type[BaseModel], name: str, doc: str, leave_out: tuple[str, ...] = ()
) -> type[BaseModel]:
    """A model with ``model``'s fields, each optional (``None``: keep the value it overrides), extra keys
    refused. The API's run options and spec changes are built this way, so their fields,
    types, bounds and help are ``model``'s (the OpenAPI document states them); rules across fields are
    checked once the overrides are merged into a full ``model``."""
    fields: dict[str, Any] = {}
    for field_name, field in model.model_fields.items():
        if field_name not in leave_out and field.annotation is not None:
            annotation = (
                Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
            )
            fields[field_name] = (annotation | None, Field(None, description=field.description))
    return create_model(name, __config__=ConfigDict(extra="forbid"), __doc__=doc, **fields)


def options_error(exc: ValidationError) -> InvalidInput:
    """One readable ``InvalidInput`` line from an options validation error."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "options"
    return InvalidInput(f"{where}: {first['msg'].removeprefix('Value error, ')}", code="bad_options")


def build_options(**values: Any) -> EvaluationOptions:
    """``EvaluationOptions`` from keyword values (``None`` means the default), or one ``InvalidInput``."""
    try:
        return EvaluationOptions.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        raise options_error(exc) from None


DEFAULTS = EvaluationOptions()
