"""What the platform commands print for people: a short summary and the next command to run.

Full JSON only with ``--json``. Lines are printed whole (a path, a URL, a hash is never wrapped or cut by
the printer: soft wrap), and tables are as wide as their content, so ids, hashes and outcomes are never
truncated; a terminal narrower than a table wraps it rather than losing characters.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hokusai.errors import EXIT_NEGATIVE

if TYPE_CHECKING:
    from hokusai.cli._client import Credential

Summary = Callable[[Mapping[str, Any]], None]
WIDE = 10_000  # tables render at their natural width (never squeezed into 80 columns)


def _out() -> Console:
    return Console(soft_wrap=True, highlight=False)


def line(text: str = "") -> None:
    """One line on stdout, printed whole (rich markup allowed; escape values)."""
    _out().print(text)


def fields(rows: Iterable[tuple[str, Any]]) -> None:
    """Aligned ``name  value`` lines; values printed whole, empty ones left out."""
    shown = [(name, value) for name, value in rows if value not in (None, "", [], {})]
    width = max((len(name) for name, _ in shown), default=0)
    for name, value in shown:
        line(f"  {name.ljust(width)}  {escape(str(value))}")


def table(columns: list[str], rows: Iterable[Iterable[Any]], title: str | None = None) -> None:
    """A table at its natural width: no cell is ever truncated."""
    grid = Table(*columns, title=title, title_justify="left")
    for row in rows:
        grid.add_row(*(escape("" if cell is None else str(cell)) for cell in row))
    Console(width=WIDE, highlight=False).print(grid)


def negative(message: str) -> NoReturn:
    """End a command whose check completed with a negative verdict (a run not accepted, invalid data):
    one line on stderr and exit code 1 (``errors.EXIT_NEGATIVE``), never the code of refused input (2)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_NEGATIVE)


def next_step(command: str, credential: Credential | None = None) -> None:
    """The command a user runs next, signed in as this one was (``credential``'s flags appended)."""
    flags = credential.flags if credential is not None else ""
    line(f"next: [bold]{escape(command + flags)}[/]")


def signed(value: float | None, unit: str | None = None, *, label: bool = True) -> str | None:
    """A gain, value or score rounded as its unit says: percentage points to two decimals (``+1.59 pp``),
    anything else (a metric's own units) to three significant digits; the unit after it unless ``label``
    is false. The one number format of the commands (a DeltaOne score is in its primary metric's unit)."""
    if value is None:
        return None
    number = f"{value:+.2f}" if unit == "pp" else f"{value:+.3g}"
    return f"{number} {unit}" if unit and label else number


def emit(value: Any, as_json: bool, summary: Summary | None = None) -> None:
    """``--json``: the whole object on stdout. Else ``summary`` of it (or its top-level fields)."""
    data = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
    elif summary is not None:
        summary(data)
    else:
        fields((k, v) for k, v in data.items() if not isinstance(v, (dict, list)))


def _gain(data: Mapping[str, Any]) -> str | None:
    gain = data.get("gain")
    if gain is None:
        return None
    unit = data.get("unit")
    interval = ""
    if data.get("ci_low") is not None and data.get("ci_high") is not None:
        low, high = (signed(data[end], unit, label=False) for end in ("ci_low", "ci_high"))
        interval = f" [{low}, {high}]"
    return f"{signed(gain, unit)}{interval}"


def model_summary(model: Mapping[str, Any], credential: Credential | None = None) -> None:
    spec = model.get("benchmark_spec") or {}
    target = escape(model["target_column"])
    line(f"model [bold]{escape(model['name'])}[/] ({model['model_type']}, target {target})")
    fields(
        [
            ("id", model.get("id")),
            ("baseline", model.get("baseline_uri")),
            ("model hash", model.get("model_hash")),
            ("spec", spec and f"{spec['id']} version {spec['version']} ({spec.get('task')})"),
            ("spec hash", spec.get("hash")),
            ("on-chain id", model.get("onchain_id")),
            (
                "bound on",
                model.get("onchain_contract")
                and f"chain {model.get('onchain_chain_id')} / "
                f"{model.get('onchain_contract')} (signed by {model.get('onchain_wallet') or 'an admin'})",
            ),
            ("weight head", model.get("weight_head")),
            ("contributions", "open" if model.get("accepts_contributions") else "closed"),
        ]
    )
    next_step(f"hokusai contribute FILE --model {model['name']}", credential)


def terms_line(terms: Mapping[str, Any] | None) -> str:
    """A contribution's signed terms in one line (what the wallet granted, and the hash runs record)."""
    if not terms:
        return "none (submitted before terms were signed)"
    granted = ", ".join(
        f"{name} {'yes' if terms.get(key) else 'no'}"
        for name, key in (("commercial use", "commercial_use"), ("derivatives", "derivatives"),
                          ("attribution", "attribution"))
    )  # fmt: skip
    return f"{terms.get('license')} ({granted}); hash {terms.get('hash')}"


def contribution_summary(contribution: Mapping[str, Any], credential: Credential | None = None) -> None:
    validation = contribution.get("validation") or {}
    findings = validation.get("findings_total", 0)
    line(f"contribution [bold]{escape(contribution['id'])}[/] to {escape(contribution['model'])}")
    fields(
        [
            ("wallet", contribution.get("contributor_address")),
            ("data hash", contribution.get("data_hash")),
            ("validation", f"{'valid' if validation.get('valid', True) else 'invalid'}, {findings} findings"),
            ("terms", terms_line(contribution.get("terms"))),
        ]
    )
    model, contribution_id = contribution["model"], contribution["id"]
    next_step(f"hokusai runs submit --model {model} --contribution {contribution_id} --wait", credential)


def run_summary(run: Mapping[str, Any], credential: Credential | None = None) -> None:
    result = run.get("result") or {}
    progress = run.get("progress") or {}
    line(f"run [bold]{escape(run['id'])}[/] of {escape(str(run.get('model')))}: {run['state']}")
    step = progress.get("step") if run["state"] in ("queued", "running") else None
    fields(
        [
            ("step", step and f"{step} ({progress.get('index')}/{progress.get('total')})"),
            ("outcome", run.get("outcome")),
            ("primary metric", result.get("primary_metric")),
            ("gain", _gain(result)),
            ("DeltaOne score", signed(run.get("delta_one_score"), result.get("unit"), label=False)),
            ("attestation", run.get("attestation_id")),
            ("error", (run.get("error") or {}).get("message")),
        ]
    )
    contributors = result.get("contributors") or []
    if contributors:
        table(
            ["wallet", "data hash", "rows used", "near-copies", "value ± se (pp)", "method", "weight (bps)",
             "paid"],
            [
                (c.get("wallet"), c.get("data_hash"), c.get("rows_used"), c.get("near_duplicates"),
                 _value(c), c.get("method"), c.get("weight_bps"), paid(c))
                for c in contributors
            ],
        )  # fmt: skip
    if run["state"] in ("queued", "running"):
        next_step(f"hokusai runs wait {run['id']}", credential)
    elif run.get("attestation_id"):
        next_step(f"hokusai attest get {run['attestation_id']}", credential)


def paid(contributor: Mapping[str, Any]) -> str:
    """``yes``/``no`` and why, with an excluded contribution's validation message (a result without
    ``paid``: paid when its weight is above 0)."""
    given = contributor.get("paid")
    said = "yes" if (bool(contributor.get("weight_bps")) if given is None else bool(given)) else "no"
    reason = str(contributor.get("reason") or "").replace("_", " ")
    excluded = contributor.get("excluded")
    if isinstance(excluded, Mapping):
        excluded = excluded.get("message")
    if excluded:
        reason = f"{reason}: {excluded}"
    return f"{said} ({reason})" if reason else said


def _value(contributor: Mapping[str, Any]) -> str | None:
    value = contributor.get("value_pp")
    if value is None:
        return None
    return f"{signed(value, 'pp', label=False)} ± {contributor.get('value_se_pp') or 0:.2f}"


def benchmark_summary(spec: Mapping[str, Any]) -> None:
    body = spec["spec"]
    guardrails = body.get("guardrails") or []
    current = "current" if spec.get("current") else "superseded"
    model = escape(str(spec.get("model")))
    line(f"benchmark spec [bold]{escape(spec['id'])}[/] of {model}: version {spec['version']} ({current})")
    fields(
        [
            ("hash", spec.get("hash")),
            ("task", body.get("task")),
            ("primary metric", body.get("primary_metric") or "(the task's default)"),
            ("threshold", body.get("threshold")),
            ("guardrails", ", ".join(f"{g['metric']} drop ≤ {g['max_drop']}" for g in guardrails)),
            ("min benchmark rows", body.get("min_benchmark_rows")),
            ("seed", body.get("seed")),
            ("cooldown (s)", body.get("cooldown_seconds")),
            ("benchmark sha256", body.get("benchmark_sha256")),
            ("used by a run", "yes" if spec.get("used") else "no"),
        ]
    )
