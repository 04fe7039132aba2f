"""The ``hokusai`` command line: one Typer app; one module per command group; errors mapped here once
(exit codes: ``hokusai.errors``; under ``--json`` an error is also printed on stdout in the error shape)."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import sys
import threading
from typing import NoReturn

import typer

from hokusai import __version__
from hokusai.cli import (
    _help,
    attest,
    benchmarks,
    data,
    infra,
    keys,
    models,
    pipeline,
    preview,
    rights,
    runs,
    up,
    webhooks,
    worker,
)
from hokusai.errors import EXIT_BAD_INPUT, EXIT_NOT_COMPLETED, HokusaiError, error_body

_help.install()
app = typer.Typer(
    name="hokusai",
    help="Hokusai: prove, with evidence, that contributed data made a model better.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    epilog="Exit codes: 0 success (accepted, valid); 1 a completed check with a negative verdict (not "
    "accepted, invalid); 2 bad input or usage; 3 could not complete. With --json, errors are printed on "
    'stdout too, as {"error": {"code", "message", "details"}}.',
)
app.command("up")(up.up)
app.command("serve")(up.serve)
app.add_typer(data.app, name="data")
app.add_typer(keys.app, name="keys")
app.add_typer(models.app, name="models")
app.add_typer(benchmarks.app, name="benchmarks")
app.add_typer(runs.app, name="runs")
app.command("contribute")(runs.contribute)
app.add_typer(runs.contributions_app, name="contributions")
app.command("withdraw")(rights.withdraw)
app.add_typer(rights.me, name="me")
data.app.command("retention")(rights.retention)
app.add_typer(pipeline.app, name="pipeline")
app.add_typer(attest.app, name="attest")
app.command("preview")(preview.preview)
app.add_typer(infra.app, name="infra")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(worker.app, name="worker", hidden=True)


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    """Hokusai: prove, with evidence, that contributed data made a model better."""
    if version:
        typer.echo(__version__)
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())


FIELD_FLAGS = {
    "source_uri": "--source", "target_column": "--target", "model_type": "--model-type",
    "train_dataset_id": "--train", "benchmark_dataset_id": "--benchmark",
    "contributor_address": "--contributor",
    "primary_metric": "--primary-metric", "min_benchmark_rows": "--min-benchmark-rows",
    "accuracy_tolerance": "--accuracy-tolerance", "valuation_budget": "--valuation-budget",
    "metric_weights": "--metric-weight", "onchain_id": "ONCHAIN_ID",
}  # fmt: skip
"""The API's request fields and the flags a CLI user types for them: server errors name the flag."""
_FIELDS = re.compile(r"(?:\b(?:body|options)\.)?\b(" + "|".join(FIELD_FLAGS) + r")\b")


def in_cli_words(message: str) -> str:
    """A server's error message with its API field names replaced by the CLI's flags."""
    return _FIELDS.sub(lambda match: FIELD_FLAGS[match.group(1)], message)


def fail(
    message: str, exit_code: int, code: str = "hokusai_error", details: object = None, as_json: bool = False
) -> None:
    """Print one readable line on stderr and exit; the one way commands fail. Under ``--json`` the error is
    also printed on stdout in the one JSON error shape (``{"error": {"code", "message", "details"}}``), so a
    script reading stdout never gets nothing."""
    if as_json:
        print(json.dumps(error_body(code, message, details), default=str), flush=True)
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(exit_code)


def wants_json(argv: list[str] | None) -> bool:
    """Whether the command line asks for JSON output (``--json`` before any ``--``)."""
    args = sys.argv[1:] if argv is None else argv
    return "--json" in args[: args.index("--")] if "--" in args else "--json" in args


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: every failure is one line on stderr and an exit code.

    Called with ``argv`` (tests, benchmarks), it raises ``SystemExit`` like any library call; as the
    program itself (no ``argv``: the console script, ``python -m hokusai``), it ends the process at once
    (``exit_now``).
    """
    try:
        code = _run(argv)
    except SystemExit as exc:
        if argv is not None:
            raise
        code = exc.code
    if argv is None:
        exit_now(code)
    if code:
        raise SystemExit(code)


def _run(argv: list[str] | None) -> object:
    as_json = wants_json(argv)
    try:
        code = app(args=argv, prog_name="hokusai", standalone_mode=False)
    except HokusaiError as exc:
        fail(in_cli_words(exc.message), exc.exit_code, exc.code, exc.details, as_json)
    except typer.Exit as exc:
        code = exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        fail("aborted", 130, "aborted", as_json=as_json)
    except typer.TyperException as exc:  # usage errors: unknown flag, missing argument, bad value
        if type(exc).__name__ == "NoArgsIsHelpError":
            raise SystemExit(0) from None
        ctx = getattr(exc, "ctx", None)
        where = f"{ctx.command_path}: " if ctx is not None else ""
        usage = f"{where}{exc.format_message()} (see --help)"
        fail(usage, getattr(exc, "exit_code", EXIT_BAD_INPUT), "usage_error", as_json=as_json)
    except Exception as exc:
        if os.environ.get("HOKUSAI_DEBUG"):
            raise
        from pydantic import ValidationError  # imported on failure only: the CLI starts without pydantic

        if isinstance(exc, ValidationError):  # a server's answer that is not the model the SDK expects
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ())) or "the body"
            fail(f"the server's answer is not a {exc.title} the CLI understands ({where}: {first['msg']}); "
                 "is it a Hokusai platform of this version?", EXIT_NOT_COMPLETED, "unexpected_answer",
                 as_json=as_json)  # fmt: skip
        fail(f"unexpected {type(exc).__name__}: {exc} (set HOKUSAI_DEBUG=1 for the traceback)",
             EXIT_NOT_COMPLETED, "internal_error", as_json=as_json)  # fmt: skip
    return code if isinstance(code, int) else 0


def exit_now(code: object) -> NoReturn:
    """End the program without the interpreter's teardown, which after an evaluation frees every object and
    module of pandas, scikit-learn and MLflow one by one (~0.6 s that nobody waits for usefully). What exit
    does that matters still happens: atexit handlers run (log handlers, MLflow's flushes) and the standard
    streams are flushed. With another non-daemon thread still running, it exits the usual way instead."""
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if others:
        raise SystemExit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if isinstance(code, str):  # SystemExit("message"): printed on stderr, exit status 1
        print(code, file=sys.stderr, flush=True)
        code = 1
    os._exit(code if isinstance(code, int) else 0)
