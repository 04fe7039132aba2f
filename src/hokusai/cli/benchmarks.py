"""``hokusai benchmarks``: read a model's benchmark specs and change the current one (its owner)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from hokusai.cli._client import JsonOption, UrlOption, make_client
from hokusai.cli.output import benchmark_summary, emit, table
from hokusai.errors import InvalidInput

app = typer.Typer(help="Benchmark specs: the contract evaluations are held to.", no_args_is_help=True)


def read_fields(path: Path | None, assignments: list[str]) -> dict[str, Any]:
    """Spec fields from a JSON/YAML file and ``FIELD=VALUE`` pairs (a VALUE is JSON, else text)."""
    fields: dict[str, Any] = {}
    if path is not None:
        if not path.is_file():
            raise InvalidInput(f"{path}: no such spec file")
        import yaml

        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{path} is not JSON or YAML: {exc}") from None
        if not isinstance(loaded, dict):
            raise InvalidInput(f"{path} must hold one object of spec fields")
        fields.update(loaded)
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep or not name:
            raise InvalidInput(f"{assignment!r}: write FIELD=VALUE, e.g. threshold=0.5")
        try:
            fields[name] = json.loads(value)
        except ValueError:
            fields[name] = value
    return fields


@app.command("list")
def index(
    model: Annotated[str | None, typer.Option(help="Only this model's versions.")] = None,
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every spec version (of one model)."""
    with make_client(url) as client:
        specs = client.benchmarks.list(model)
    if as_json:
        emit([s.model_dump() for s in specs], True)
        return
    table(
        ["id", "model", "version", "current", "used", "task", "primary", "threshold", "hash"],
        [
            (s.id, s.model, s.version, "yes" if s.current else "", "yes" if s.used else "", s.spec["task"],
             s.spec["primary_metric"] or "(default)", f"{s.spec['threshold']:g}", s.hash)
            for s in specs
        ],
    )  # fmt: skip


@app.command("get")
def show(spec_id: str, url: UrlOption = None, as_json: JsonOption = False) -> None:
    """One spec version, every field."""
    with make_client(url) as client:
        emit(client.benchmarks.get(spec_id), as_json, benchmark_summary)


@app.command("set")
def change(
    model: Annotated[str, typer.Argument(help="The model whose current spec changes.")],
    assignments: Annotated[
        list[str] | None, typer.Argument(help="FIELD=VALUE pairs, e.g. threshold=0.5 cooldown_seconds=0")
    ] = None,
    spec_file: Annotated[Path | None, typer.Option("--file", help="Fields from a JSON or YAML file.")] = None,
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a model's current spec: in place while no run used it, else as a new version."""
    fields = read_fields(spec_file, assignments or [])
    if not fields:
        raise InvalidInput("give FIELD=VALUE pairs or --file with the fields to change")
    with make_client(url) as client:
        spec = client.benchmarks.change(model, **fields)
    emit(spec, as_json, benchmark_summary)
