"""``hokusai up``: the whole platform on one machine (MLflow server + API)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

ADMIN_KEY_NOTICE = (
    "first start: created an admin API key, shown only this once; store it now:\n{key}\n"
    "(use it as 'Authorization: Bearer <key>'; `hokusai keys --help` manages keys)"
)
BANNER_WIDTH = 80  # every line of the banner but a long URL or path fits; nothing is wrapped mid-phrase


def ready_banner(urls: dict[str, str]) -> list[str]:
    """The lines ``hokusai up`` prints when it is ready (rich markup): each a whole phrase that fits in
    ``BANNER_WIDTH`` columns unless a URL or path makes it longer, printed unwrapped."""
    lines = [
        f"[green]ready[/]  API     {urls['api']}",
        f"       docs    {urls['docs']}",
        f"       results {urls['api']}/ui/",
        "               (sign in with an API key)",
        f"       MLflow  {urls['api']}/mlflow/",
        "               (UI and client; password: an API key)",
        f"       logs    {urls['api_log']}",
        f"               {urls['mlflow_log']}",
    ]
    if "admin_key" in urls:
        lines += ADMIN_KEY_NOTICE.format(key=urls["admin_key"]).splitlines()
    return [*lines, "Press Ctrl-C to stop."]


def up(
    postgres: Annotated[
        str | None,
        typer.Option(help="PostgreSQL URL for the platform and MLflow (else HOKUSAI_DATABASE_URL / SQLite)."),
    ] = None,
    artifacts: Annotated[
        str | None,
        typer.Option(help="Artifact root: a folder or s3://bucket/prefix (else HOKUSAI_ARTIFACT_ROOT)."),
    ] = None,
    s3_endpoint: Annotated[
        str | None, typer.Option(help="S3-compatible endpoint URL (else HOKUSAI_S3_ENDPOINT_URL).")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="State folder (else HOKUSAI_DATA_DIR).")] = None,
    host: Annotated[str | None, typer.Option(help="API bind address (else HOKUSAI_API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="API port (else HOKUSAI_API_PORT).")] = None,
    mlflow_port: Annotated[int | None, typer.Option(help="MLflow port (else HOKUSAI_MLFLOW_PORT).")] = None,
) -> None:
    """Start MLflow and the API; Ctrl-C stops both. A dead one restarts (HOKUSAI_MLFLOW_*, HOKUSAI_API_*)."""
    from hokusai.config import load_settings
    from hokusai.log import configure_logging
    from hokusai.stack import ChildDied, run_stack

    settings = load_settings(
        database_url=postgres, mlflow_backend_store_uri=postgres, artifact_root=artifacts,
        s3_endpoint_url=s3_endpoint, data_dir=data_dir, api_host=host, api_port=port,
        mlflow_port=mlflow_port,
    )  # fmt: skip
    configure_logging(settings.log_level)
    console = Console()
    console.print(f"[bold]Hokusai[/] starting (data in {settings.data_dir}) …")

    def announce(urls: dict[str, str]) -> None:
        for line in ready_banner(urls):
            console.print(line, highlight=False, soft_wrap=True)

    def warn(message: str, last_lines: list[str]) -> None:
        print(f"warning: {message}; its last lines:", file=sys.stderr)
        for line in last_lines:
            print(f"  {line}", file=sys.stderr)
        sys.stderr.flush()

    try:
        run_stack(settings, announce, warn)
    except ChildDied as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        for line in exc.details or []:
            print(f"  {line}", file=sys.stderr)
        raise SystemExit(1) from None
    console.print("stopped")


def serve(
    host: Annotated[str | None, typer.Option(help="API bind address (else HOKUSAI_API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="API port (else HOKUSAI_API_PORT).")] = None,
) -> None:
    """Run the API alone, with MLflow at HOKUSAI_MLFLOW_URL (the API container's command)."""
    from hokusai.config import load_settings
    from hokusai.log import configure_logging
    from hokusai.stack import serve_api

    settings = load_settings(api_host=host, api_port=port)
    configure_logging(settings.log_level)

    def announce(urls: dict[str, str]) -> None:
        print(f"API {urls['api']}  MLflow {urls['mlflow']}", flush=True)
        if "admin_key" in urls:
            print(ADMIN_KEY_NOTICE.format(key=urls["admin_key"]), flush=True)

    serve_api(settings, announce)
