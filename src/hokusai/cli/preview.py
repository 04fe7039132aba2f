"""``hokusai preview``: the pipeline's code path on a stratified sample, for a quick estimate.

No MLflow run, no registration, no signature: the output is labelled an estimate. Both models are
trained on the sample (the baseline is refit on the sampled base rows) so the comparison is fair.
"""

from __future__ import annotations

from typing import Annotated

import typer

from hokusai.cli.pipeline import (
    AsJson,
    Baseline,
    Bench,
    Budget,
    Contributions,
    Contributors,
    OutDir,
    Primary,
    Seed,
    Target,
    Train,
    execute,
    make_spec,
)

DEFAULT_PREVIEW_SAMPLE = 10_000


def preview(
    baseline: Baseline,
    train: Train,
    benchmark: Bench,
    contribution: Contributions,
    target: Target,
    contributor: Contributors = None,
    primary_metric: Primary = None,
    seed: Seed = None,
    sample: Annotated[
        int, typer.Option("--sample", help="At most N training and N benchmark rows.")
    ] = DEFAULT_PREVIEW_SAMPLE,
    out_dir: OutDir = None,
    valuation_budget: Budget = None,
    as_json: AsJson = False,
) -> None:
    """Estimate a contribution's effect on a stratified sample (not attested, not registered)."""
    spec = make_spec(
        contribution, contributor, baseline=baseline, train=train, benchmark=benchmark, target=target,
        primary_metric=primary_metric, seed=seed, sample=sample, register=False, out_dir=out_dir,
        preview=True, valuation_budget=valuation_budget,
    )  # fmt: skip
    execute(spec, as_json)
