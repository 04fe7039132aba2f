"""``hokusai data validate|manifest|infer-schema``: check, clean and fingerprint data before contributing.

Exit codes: 0 valid, 1 invalid data (a completed check whose verdict is negative: the report is printed
first, under ``--json`` on stdout), 2 usage error or unreadable input (under ``--json`` the error
``{"error": {"code", "message", "details"}}`` on stdout), 3 could not complete.
``--json`` prints machine output only on stdout; progress bars (large files) go to stderr.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from hokusai.cli import output
from hokusai.errors import InvalidInput
from hokusai.files import atomic_write_json

if TYPE_CHECKING:  # hokusai.data (pandas, pyarrow) is imported by the commands, not by every `hokusai` run
    from hokusai.data.report import ValidationReport
    from hokusai.data.validate import FileProgress

EXIT_CODES = (
    "Exit codes: 0 valid; 1 invalid (the report is printed); 2 bad input or usage (with --json, the error "
    '{"error": {"code", "message", "details"}} on stdout); 3 could not complete.'
)
app = typer.Typer(
    help="Check, clean and fingerprint data files before contributing them.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

PROGRESS_MIN_BYTES = 32 << 20
"""Files at least this big (together) get a progress bar on stderr."""

Files = Annotated[
    list[Path], typer.Argument(help="Data files: .csv .tsv .json .jsonl .parquet (text formats may be .gz).")
]
SchemaOpt = Annotated[
    Path | None, typer.Option("--schema", help="Schema file (JSON or YAML) to check against.")
]
AgainstOpt = Annotated[
    list[Path] | None, typer.Option("--against", help="Base dataset: count rows already in it (repeatable).")
]
LabelOpt = Annotated[str | None, typer.Option("--label", help="Label column (overrides the schema's).")]
AllowPiiOpt = Annotated[bool, typer.Option("--allow-pii", help="Report PII as warnings instead of errors.")]
ThresholdOpt = Annotated[
    list[str] | None,
    typer.Option("--threshold", metavar="NAME=VALUE", help="Override a quality threshold (repeatable)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON only.")]


@contextlib.contextmanager
def _progress(paths: list[Path]) -> Iterator[FileProgress | None]:
    """A rich progress bar on stderr when the files are large; else no callback."""
    total = sum(p.stat().st_size for p in paths if p.is_file())
    if total < PROGRESS_MIN_BYTES:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, Any] = {}

        def update(file: str, done: int, size: int) -> None:
            if file not in tasks:
                tasks[file] = bar.add_task(Path(file).name, total=size)
            bar.update(tasks[file], completed=done)

        yield update


def _verdict(report: ValidationReport) -> str:
    rules = sorted({f"{f.rule}" + (f" in {f.column!r}" if f.column else "") for f in report.errors})
    shown = ", ".join(rules[:4]) + (", …" if len(rules) > 4 else "")
    return f"data is invalid: {len(report.errors)} error finding(s): {shown}"


def _print_report(console: Console, report: ValidationReport) -> None:
    for result in report.files:
        facts = result.data_manifest
        fmt = result.profile.format
        how = ", ".join(
            x for x in (fmt.name, fmt.encoding, repr(fmt.delimiter) if fmt.delimiter else None) if x
        )
        console.print(
            f"[bold]{escape(facts['source_path'])}[/]  ({how})  {facts['row_count']:,} rows x "
            f"{facts['column_count']} columns  sha256 {facts['data_hash']}"
        )
    for f in report.findings:
        style = "red" if f.severity == "error" else "yellow"
        where = f"{Path(f.file).name}" + (f" column {f.column!r}" if f.column else "")
        rows = f" (rows {', '.join(map(str, f.rows))})" if f.rows else ""
        console.print(
            f"  [{style}]{f.severity:7}[/] {escape(where)}  {f.rule}: {escape(f.message)}; "
            f"count {f.count:,}{rows}"
        )
    for file, info in report.extra.get("redacted", {}).items():
        console.print(f"PII in {escape(file)} replaced: [bold]{escape(info['out'])}[/] ({info['method']})")
    warnings = len(report.findings) - len(report.errors)
    if report.valid:
        console.print(f"[green]valid[/] ({warnings} warning(s))")
    else:
        console.print(f"[red]invalid[/]: {len(report.errors)} error(s), {warnings} warning(s)")


def _redact_targets(files: list[Path], out: Path) -> dict[Path, Path]:
    if len(files) == 1 and not out.is_dir():
        return {files[0]: out}
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"--redact {out}: with several files, OUT must be a directory")
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        raise InvalidInput("--redact: two input files have the same name; redact them one at a time")
    return {f: out / f.name for f in files}


@app.command("validate", epilog=EXIT_CODES)
def validate_command(
    files: Files,
    schema: SchemaOpt = None,
    against: AgainstOpt = None,
    label: LabelOpt = None,
    allow_pii: AllowPiiOpt = False,
    threshold: ThresholdOpt = None,
    redact_out: Annotated[
        Path | None,
        typer.Option(
            "--redact", metavar="OUT", help="Write a copy with PII replaced (a directory for several files)."
        ),
    ] = None,
    redact_method: Annotated[
        str,
        typer.Option("--redact-method", help="mask ([REDACTED:kind]) or hash (keyed, HOKUSAI_REDACT_KEY)."),
    ] = "mask",
    as_json: JsonOpt = False,
) -> None:
    """Validate data files: format, schema, PII, duplicates, label balance. Exit 0 valid, 1 invalid, 2 bad
    input (unreadable file, bad flag), 3 could not complete."""
    from hokusai.data import load_schema, redact, validate
    from hokusai.data.quality import parse_overrides

    overrides = parse_overrides(threshold or [])
    loaded = load_schema(schema) if schema else None
    targets: dict[Path, Path] = {}
    key: bytes | None = None
    if redact_out is not None:
        if redact_method not in ("mask", "hash"):
            raise InvalidInput(f"--redact-method {redact_method!r}: expected mask or hash")
        targets = _redact_targets(files, redact_out)
        if redact_method == "hash":
            from hokusai.config import load_settings

            secret = load_settings().redact_key
            if secret is None:
                raise InvalidInput("--redact-method hash needs a key: set HOKUSAI_REDACT_KEY")
            key = secret.get_secret_value().encode("utf-8")
    with _progress(files + list(against or [])) as progress:
        report = validate(
            files,
            schema=loaded,
            against=against or None,
            allow_pii=allow_pii or bool(targets),
            thresholds=overrides or None,
            label=label,
            progress=progress,
        )
    redacted = {}
    for source, out in targets.items():
        counts = redact(source, out, method=redact_method, key=key)  # type: ignore[arg-type]
        redacted[str(source)] = {"out": str(out), "method": redact_method, "replaced": counts}
    if redacted:
        report.extra["redacted"] = redacted
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_report(Console(soft_wrap=True), report)
    if not report.valid:
        output.negative(_verdict(report))


@app.command("manifest", epilog=EXIT_CODES)
def manifest_command(
    files: Files,
    wallet: Annotated[
        str | None, typer.Option("--wallet", help="Contributor's Ethereum address (EIP-55).")
    ] = None,
    schema: SchemaOpt = None,
    against: AgainstOpt = None,
    label: LabelOpt = None,
    allow_pii: AllowPiiOpt = False,
    threshold: ThresholdOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the manifest JSON to this file.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Hash and describe data files (with validation results) in a manifest JSON. Exit 0 valid, 1 invalid
    (the manifest is still written), 2 bad input, 3 could not complete."""
    from hokusai.data import build_manifest, load_schema
    from hokusai.data.quality import parse_overrides

    overrides = parse_overrides(threshold or [])
    loaded = load_schema(schema) if schema else None
    with _progress(files + list(against or [])) as progress:
        manifest = build_manifest(
            files,
            wallet=wallet,
            schema=loaded,
            against=against or None,
            allow_pii=allow_pii,
            thresholds=overrides or None,
            label=label,
            progress=progress,
        )
    if out is not None:
        atomic_write_json(out, manifest)
    if as_json:
        typer.echo(json.dumps(manifest, indent=2, ensure_ascii=False))
    else:
        console = Console(soft_wrap=True)
        for entry in manifest["files"]:
            facts = entry["data_manifest"]
            console.print(
                f"{facts['data_hash']}  {escape(facts['source_path'])}  ({facts['row_count']:,} rows)"
            )
        console.print(f"dataset_hash   {manifest['dataset_hash']}")
        console.print(f"manifest_hash  {manifest['manifest_hash']}")
        if manifest["wallet"]:
            console.print(f"wallet         {manifest['wallet']}")
        console.print(
            f"manifest written to {escape(str(out))}"
            if out
            else "(use --out FILE or --json for the manifest)"
        )
    if not manifest["validation"]["valid"]:
        errors = [f for f in manifest["validation"]["findings"] if f["severity"] == "error"]
        rules = sorted({f["rule"] for f in errors})
        shown = ", ".join(rules)
        output.negative(f"data is invalid: {len(errors)} error finding(s): {shown} (see the manifest)")


@app.command("infer-schema", epilog=EXIT_CODES)
def infer_schema_command(
    file: Annotated[Path, typer.Argument(help="Data file to infer the schema from.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the schema here (.yaml/.yml or .json).")
    ] = None,
    sample_rows: Annotated[int, typer.Option("--sample-rows", min=1, help="Rows to look at.")] = 10_000,
    label: LabelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a schema (types, nullability, categories, label) inferred from a sample of FILE."""
    from hokusai.data import infer_schema

    schema = infer_schema(file, sample_rows, label=label)
    if out is not None:
        schema.to_file(out)
    if as_json:
        typer.echo(json.dumps(schema.to_dict(), indent=2, ensure_ascii=False))
    elif out is not None:
        Console().print(
            f"schema of {escape(str(file))} ({len(schema.columns)} columns) written to {escape(str(out))}"
        )
    else:
        typer.echo(yaml.safe_dump(schema.to_dict(), sort_keys=False, allow_unicode=True), nl=False)
