"""``hokusai worker run RUN_ID``: execute one run stored in the platform database (the job runners start it).

Internal: the API starts it as a child process (``LocalRunner``) or an ECS task (``EcsRunner``), with the
one-run token in ``HOKUSAI_RUN_TOKEN``. People evaluate with ``hokusai pipeline run`` or through the API.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="The run worker (started by the platform, not by people).", no_args_is_help=True)


@app.command("run")
def run(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="A run submitted to the platform API.")],
) -> None:
    """Execute a stored run; exit 1 if it failed (the reason is stored with the run)."""
    from hokusai.config import load_settings
    from hokusai.log import configure_logging
    from hokusai.server.worker import execute_run

    settings = load_settings()
    configure_logging(settings.log_level)
    state = execute_run(run_id, settings)
    Console(stderr=True, highlight=False).print(f"run {run_id}: {state}")
    if state != "succeeded":
        raise typer.Exit(1)


@app.command("standby", hidden=True)
def standby() -> None:
    """Import what a run needs, then execute the run the local runner sends on stdin (started by the API)."""
    from hokusai.server.worker import standby as serve

    raise typer.Exit(serve())
