"""Readiness probes: is the database answering, is MLflow answering? Short timeouts, run concurrently."""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass

import aiohttp
from sqlalchemy import Engine, text


@dataclass(frozen=True)
class ProbeResult:
    """One probe's verdict; ``error`` says what failed in words."""

    name: str
    ok: bool
    latency_ms: float
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _check_database(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


async def probe_database(engine: Engine, timeout: float) -> ProbeResult:
    """``SELECT 1`` in a worker thread, bounded by ``timeout`` seconds."""
    started = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.to_thread(_check_database, engine), timeout)
        error = None
    except TimeoutError:
        error = f"no answer within {timeout:g}s"
    except Exception as exc:  # any driver error means "not ready"
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return ProbeResult("database", error is None, round((time.perf_counter() - started) * 1000, 1), error)


async def probe_mlflow(session: aiohttp.ClientSession, mlflow_url: str, timeout: float) -> ProbeResult:
    """``GET <mlflow>/health`` must answer 200 within ``timeout`` seconds."""
    started = time.perf_counter()
    try:
        async with session.get(
            f"{mlflow_url}/health", timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            error = None if response.status == 200 else f"/health answered {response.status}"
    except TimeoutError:
        error = f"no answer within {timeout:g}s"
    except aiohttp.ClientError as exc:
        error = f"unreachable at {mlflow_url}: {type(exc).__name__}"
    return ProbeResult("mlflow", error is None, round((time.perf_counter() - started) * 1000, 1), error)


async def probe_all(
    engine: Engine, client: aiohttp.ClientSession, mlflow_url: str, timeout: float
) -> list[ProbeResult]:
    """Both probes at once, so /ready takes as long as the slowest, not the sum."""
    return list(
        await asyncio.gather(probe_database(engine, timeout), probe_mlflow(client, mlflow_url, timeout))
    )
