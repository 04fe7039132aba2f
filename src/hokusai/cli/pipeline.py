"""``hokusai pipeline run|demo``: evaluate contributions, with rich progress and an outcome table.

Exit codes (``EXIT_CODES``, in every command's help): 0 a DeltaOne accepted, 1 the evaluation completed and
is not accepted (the result is printed, under ``--json`` on stdout), 2 bad input or usage (refused before
any verdict; under ``--json`` the error ``{"error": {"code", "message", "details"}}`` on stdout), 3 the run
could not complete (MLflow unreachable, an internal failure). A contribution that fails validation is
excluded (listed with its reason), not fatal: only a run with no contribution left is refused (2).
Heavy imports happen inside the commands.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from hokusai.cli import output
from hokusai.errors import EXIT_NEGATIVE, ConfigError, InvalidInput
from hokusai.pipeline.options import EvaluationOptions

if TYPE_CHECKING:
    from hokusai.config import Settings
    from hokusai.pipeline.spec import PipelineResult, PipelineSpec, ProgressEvent

EXIT_CODES = (
    "Exit codes: 0 accepted (a DeltaOne); 1 evaluated, not accepted; 2 bad input or usage (with --json, "
    'the error {"error": {"code", "message", "details"}} on stdout); 3 could not complete (a service '
    "down, an internal failure)."
)
app = typer.Typer(
    help="Evaluate contributed data against a baseline model and attest the result.", epilog=EXIT_CODES
)
out = Console()
err = Console(stderr=True)

Baseline = Annotated[
    str,
    typer.Option(
        "--baseline",
        help="models:/NAME/VERSION, models:/NAME@ALIAS, runs:/ID/PATH or an MLflow model directory.",
    ),
]
Train = Annotated[
    Path, typer.Option("--train", help="The base training data (what the baseline was trained on).")
]
Bench = Annotated[
    Path,
    typer.Option("--benchmark", help="The benchmark both models are scored on (never trained on)."),
]
Contributions = Annotated[
    list[Path], typer.Option("--contribution", help="A contributed data file (repeat).")
]
Contributors = Annotated[
    list[str] | None, typer.Option("--contributor", help="Wallet of each contribution, in order.")
]
Target = Annotated[str, typer.Option("--target", help="The label column.")]


def _help(name: str) -> str:
    """A flag's help: the options model's description and default (the one place they are written)."""
    field = EvaluationOptions.model_fields[name]
    default = "" if field.default in (None, ()) else f" [default: {field.default}]"
    return f"{field.description}{default}"


Primary = Annotated[
    str | None,
    typer.Option(
        "--primary-metric", metavar="METRIC",
        help="accuracy|precision|recall|f1|auroc, or rmse|mae|r2|accuracy for regression. "
        + _help("primary_metric"),
    ),
]  # fmt: skip
Task = Annotated[
    str | None,
    typer.Option("--task", metavar="binary|multiclass|regression",
                 help="The task (default: regression for a regressor baseline, else binary or multiclass "
                 "from the labels)."),
]  # fmt: skip
Seed = Annotated[int | None, typer.Option("--seed", metavar="N", help=_help("seed"))]
Sample = Annotated[int | None, typer.Option("--sample", metavar="N", help=_help("sample"))]
Threshold = Annotated[float | None, typer.Option("--threshold", metavar="GAIN", help=_help("threshold"))]
MinRows = Annotated[
    int | None, typer.Option("--min-benchmark-rows", metavar="N", help=_help("min_benchmark_rows"))
]
Guardrails = Annotated[
    list[str] | None,
    typer.Option("--guardrail", metavar="METRIC=MAX_DROP",
                 help="A metric that may drop by at most MAX_DROP (its delta units: pp for shares); repeat."),
]  # fmt: skip
Tolerance = Annotated[
    float | None, typer.Option("--accuracy-tolerance", metavar="X", help=_help("accuracy_tolerance"))
]
Weights = Annotated[
    list[str] | None,
    typer.Option(
        "--metric-weight", help="METRIC=WEIGHT for delta_one_score (repeat; default: primary metric only)."
    ),
]
OutDir = Annotated[Path | None, typer.Option("--out", help="Folder for the attestation, report and plots.")]
Budget = Annotated[
    int | None, typer.Option("--valuation-budget", metavar="N", help=_help("valuation_budget"))
]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]


def parse_pairs(values: list[str] | None, flag: str, example: str) -> dict[str, float] | None:
    """``["auroc=2", "f1=1"]`` -> ``{"auroc": 2.0, "f1": 1.0}`` (``flag``'s values), or one clear error."""
    if not values:
        return None
    pairs = {}
    for value in values:
        name, sep, number = value.partition("=")
        try:
            pairs[name.strip()] = float(number)
        except ValueError:
            sep = ""
        if not sep:
            raise InvalidInput(f"{flag} {value!r} must look like {example}")
    return pairs


def parse_weights(values: list[str] | None) -> dict[str, float] | None:
    """``--metric-weight`` values as a dict."""
    return parse_pairs(values, "--metric-weight", "METRIC=WEIGHT, e.g. auroc=1")


def parse_guardrails(values: list[str] | None) -> tuple[dict[str, Any], ...]:
    """``--guardrail recall=2`` values as guardrails."""
    pairs = parse_pairs(values, "--guardrail", "METRIC=MAX_DROP, e.g. recall=2") or {}
    return tuple({"metric": name, "max_drop": drop} for name, drop in pairs.items())


def make_spec(contributions: list[Path] | None, wallets: list[str] | None, **options: Any) -> PipelineSpec:
    """The spec of ``run`` and ``preview``: contributions paired with their wallets, in order
    (every contribution needs one, except in a preview)."""
    from hokusai.pipeline.spec import Contribution, PipelineSpec

    contributions, wallets = contributions or [], wallets or []
    if (wallets and len(wallets) != len(contributions)) or (not options.get("preview") and not wallets):
        raise InvalidInput(
            f"{len(contributions)} --contribution and {len(wallets)} --contributor given: "
            "give one wallet per contribution, in the same order"
        )
    paired = zip(contributions, wallets or [None] * len(contributions), strict=True)  # type: ignore[list-item]
    given = {name: value for name, value in options.items() if value is not None}  # unset: the model default
    return PipelineSpec(contributions=tuple(Contribution(path, wallet) for path, wallet in paired), **given)


@contextlib.contextmanager
def progress_display(enabled: bool = True) -> Iterator[object]:
    """A rich progress bar over the pipeline steps (on stderr); yields the progress callback."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from hokusai.pipeline.spec import STEPS

    if not enabled:
        yield None
        return
    started: dict[str, float] = {}
    inner: dict[str, Any] = {}
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task("starting", total=len(STEPS))

        def on_event(event: ProgressEvent) -> None:
            if event.state == "progress":  # work inside a step: a second bar (retrain i of budget)
                if event.step not in inner:
                    inner[event.step] = bar.add_task(f"  {event.step}: retrains", total=event.planned)
                bar.update(inner[event.step], completed=event.done, total=event.planned)
                return
            if event.step in inner:
                bar.remove_task(inner.pop(event.step))
            if event.state == "started":
                started[event.step] = time.perf_counter()
                bar.update(task, description=f"{event.step} {event.detail}".strip())
                return
            bar.advance(task)
            if event.state == "skipped":
                bar.console.print(f"[dim]- {event.step}: skipped ({event.detail})[/]")
            else:
                seconds = time.perf_counter() - started.get(event.step, time.perf_counter())
                bar.console.print(f"[green]✓[/] {event.step} [dim]{seconds:.2f} s[/]")

        yield on_event


def _signed(value: float | None, unit: str) -> str:
    return output.signed(value, unit, label=False) or "-"


def _interval(low: float | None, high: float | None, unit: str) -> str:
    return "-" if low is None or high is None else f"[{_signed(low, unit)}, {_signed(high, unit)}]"


def print_result(result: PipelineResult, as_json: bool) -> None:
    """The outcome, metrics, contributors and files (printed whole: nothing is cut); or one JSON object."""
    if as_json:
        data = result.to_dict()
        data.pop("attestation"), data.pop("report")
        out.print_json(json.dumps(data))
        return
    estimate = result.kind == "preview_estimate"
    title = "DeltaOne"
    if estimate:
        title = "ESTIMATE (preview on a stratified sample: not attested, not registered)"
    color = "green" if result.accepted else "yellow"
    reason = (result.report.get("outcome") or {}).get("reason_text")
    because = f" — {escape(reason)}" if reason else ""
    output.line(f"[bold]{title}[/]: [bold {color}]{result.outcome}[/]{because}")
    unit = result.unit
    output.fields(
        [
            (f"{result.primary_metric} gain", f"{_signed(result.gain, unit)} {unit}, 95 % CI "
             f"{_interval(result.ci_low, result.ci_high, unit)} {unit}"),
            ("DeltaOne score", _signed(result.delta_one_score, unit)),
            ("pipeline run id", result.pipeline_run_id),
            ("MLflow run", result.mlflow_run_id),
            ("recorded in", result.tracking_uri),
            ("registered", result.registered_model_version
             and f"models:/{result.registered_model_name}/{result.registered_model_version}"),
            *(("note", note) for note in result.notes),
        ]
    )  # fmt: skip
    if result.metric_deltas:
        output.table(
            ["metric", "baseline", "candidate", "gain", "95 % CI", "unit"],
            [
                (f"{name} (primary)" if name == result.primary_metric else name, f"{m.baseline:.4f}",
                 f"{m.candidate:.4f}", _signed(m.gain, m.unit), _interval(m.ci_low, m.ci_high, m.unit),
                 m.unit)
                for name, m in result.metric_deltas.items()
            ],
            title="Metrics on the benchmark (gain = improvement, paired 95 % CI)",
        )  # fmt: skip
    print_contributors(result)
    output.line("[bold]files written[/]")
    for path in result.files:
        output.line(f"  {escape(str(path))}{'/' if path.is_dir() else ''}")


def _value(value: float | None, error: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:+.3f}" + ("" if error is None else f" ± {error:.3f}")


def print_contributors(result: PipelineResult) -> None:
    """Each contribution's wallet and data hash (whole), rows, near-copies dropped, value ± error, how it
    was valued (exact or estimated, retrains), weight, and whether it is paid and why."""
    valuation = result.report.get("valuation") or {}
    caption = None
    if valuation:
        floor = valuation.get("noise_floor_pp")
        caption = (
            f"{valuation['method']}, {valuation['retrains']} of {valuation['budget']} retrains"
            + ("" if floor is None else f", noise floor {floor:.3f} pp")
            + (", attribution inconclusive: equal split" if valuation.get("attribution_inconclusive") else "")
        )
    payout = result.report.get("payout") or {}
    if payout and not payout.get("paid") and payout.get("reason") == "not_accepted":
        caption = (caption + "; " if caption else "") + (
            f"not a DeltaOne ({payout.get('outcome')}): nobody is paid, values are for the record"
        )
    output.table(
        ["wallet", "data sha256", "rows submitted", "rows used", "near-copies", "value (pp)", "method",
         "retrains", "weight (bps)", "paid"],
        [
            (c.wallet or "-", c.data_hash, c.rows_submitted, c.rows_used, c.near_duplicates,
             _value(c.value_pp, c.value_se_pp), c.method or "-", "-" if c.retrains is None else c.retrains,
             c.weight_bps, output.paid(asdict(c)))
            for c in result.contributors
        ],
        title="Contributors",
    )  # fmt: skip
    if caption:
        output.line(f"[dim]{escape(caption)}[/]")


def tracking_settings(settings: Settings) -> tuple[Settings, str]:
    """The settings a CLI evaluation records with, and where that is in words (said on stderr).

    ``HOKUSAI_TRACKING_URI`` as set; else, when ``HOKUSAI_URL`` is set, the platform's authenticated MLflow
    proxy (``<url>/mlflow``, the API key as MLflow's token); else the CLI's own embedded store,
    ``<data dir>/cli/mlflow.db``, which the platform never reads. Never a server that merely answers on the
    default port."""
    from hokusai.client_config import config_file, resolve_config
    from hokusai.tracking.target import resolve_tracking, standalone

    if settings.tracking_uri:
        return settings, f"MLflow at {settings.tracking_uri} (HOKUSAI_TRACKING_URI)"
    if not os.environ.get("HOKUSAI_URL"):
        settings = standalone(settings)
        where = resolve_tracking(settings).describe()
        return settings, f"{where}; set HOKUSAI_URL and HOKUSAI_API_KEY to record into a platform"
    config = resolve_config()
    if not config.api_key:
        raise ConfigError(
            f"HOKUSAI_URL is set ({config.url}): recording there needs an API key; set HOKUSAI_API_KEY "
            f"(or api_key in {config_file()}), or unset HOKUSAI_URL to record into the embedded store"
        )
    os.environ["MLFLOW_TRACKING_TOKEN"] = config.api_key  # read by the MLflow client on every request
    platform = settings.model_copy(update={"tracking_uri": f"{config.url}/mlflow"})
    return platform, f"the platform at {config.url} (HOKUSAI_URL), through its MLflow proxy"


def execute(spec: PipelineSpec, as_json: bool) -> None:
    """Run the pipeline with progress, print the result, exit 1 unless accepted."""
    from hokusai.config import load_settings
    from hokusai.pipeline.run import run_pipeline

    settings, where = tracking_settings(load_settings())
    err.print(f"MLflow: {where}", highlight=False, soft_wrap=True)
    with progress_display(not as_json) as callback:
        result = run_pipeline(spec, settings, progress=callback)  # type: ignore[arg-type]
    print_result(result, as_json)
    if not result.accepted:
        raise typer.Exit(EXIT_NEGATIVE)


@app.command("run", epilog=EXIT_CODES)
def run(
    baseline: Baseline,
    train: Train,
    benchmark: Bench,
    contribution: Contributions,
    target: Target,
    contributor: Contributors = None,
    primary_metric: Primary = None,
    task: Task = None,
    seed: Seed = None,
    sample: Sample = None,
    threshold: Threshold = None,
    min_benchmark_rows: MinRows = None,
    metric_weight: Weights = None,
    guardrail: Guardrails = None,
    accuracy_tolerance: Tolerance = None,
    model_name: Annotated[
        str | None,
        typer.Option("--model-name", help="Registered model for the candidate (default: the baseline's)."),
    ] = None,
    no_register: Annotated[
        bool, typer.Option("--no-register", help="Do not register the candidate.")
    ] = False,
    out_dir: OutDir = None,
    valuation_budget: Budget = None,
    as_json: AsJson = False,
    trust_pickle: Annotated[
        bool,
        typer.Option(
            "--trust-pickle", help="Load a pickle/cloudpickle baseline (it can run code: yours only)."
        ),
    ] = False,
) -> None:
    """Train a candidate on base + contributions, compare on the benchmark, attest and record. A contribution
    that fails validation is excluded with its reason; the others are evaluated. Only an accepted run pays
    (signs weights); a run that is not accepted keeps the values for the record only."""
    spec = make_spec(
        contribution, contributor, baseline=baseline, train=train, benchmark=benchmark, target=target,
        primary_metric=primary_metric, task=task, seed=seed, sample=sample, threshold=threshold,
        min_benchmark_rows=min_benchmark_rows, metric_weights=parse_weights(metric_weight),
        guardrails=parse_guardrails(guardrail), accuracy_tolerance=accuracy_tolerance,
        register=not no_register, model_name=model_name, out_dir=out_dir, valuation_budget=valuation_budget,
        allow_pickle=trust_pickle,
    )  # fmt: skip
    execute(spec, as_json)


@app.command("demo", epilog=EXIT_CODES)
def demo(out_dir: OutDir = None, as_json: AsJson = False) -> None:
    """A complete run on scikit-learn's breast cancer data: a contribution that helps, accepted."""
    from hokusai.config import load_settings
    from hokusai.pipeline.demo import prepare_demo

    settings = load_settings()
    spec = prepare_demo(settings.data_dir / "demo", out_dir)
    if not as_json:
        err.print(f"[bold]Hokusai demo[/]: breast cancer data in {settings.data_dir / 'demo'}")
    execute(spec, as_json)
