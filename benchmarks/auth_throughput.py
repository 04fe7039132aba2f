"""P4: requests/s of an API-key-authenticated GET divided by the unauthenticated /health, same server.

One API (real uvicorn, SQLite) serves both; a load generator in a separate process keeps N keep-alive
connections busy (raw HTTP/1.1 over asyncio streams, so the client is cheaper than the server).
Rounds alternate /health and GET /api/v1/me with `Authorization: Bearer <key>`; medians of each.
The key has a per-key limit high enough not to refuse, so the limiter's cost is in the figure.
Usage: python benchmarks/auth_throughput.py [--rounds 3] [--seconds 3] [--connections 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import median, print_ratio


async def _connection(host: str, port: int, request: bytes, deadline: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"unexpected answer: {head[:60]!r}")
            counts[0] += 1
    finally:
        writer.close()


async def _load(port: int, path: str, header: str, seconds: float, connections: int) -> dict[str, float]:
    extra = f"{header}\r\n" if header else ""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}\r\n".encode()
    counts = [0]
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(_connection("127.0.0.1", port, request, deadline, counts) for _ in range(connections))
    )
    return {"rps": counts[0] / (time.perf_counter() - started), "requests": counts[0]}


def measure(port: int, path: str, header: str, seconds: float, connections: int) -> tuple[float, float]:
    """(requests/s, requests per server CPU-second) from a separate load-generator process.

    The server is the only busy thread of this process while the load runs, so this process's CPU time
    is the server's: the second figure is what one core buys, unaffected by other load on the machine.
    """
    command = [sys.executable, __file__, "--load", str(port), path, header, str(seconds), str(connections)]
    cpu = time.process_time()
    out = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    cpu = time.process_time() - cpu
    return float(out["rps"]), out["requests"] / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()

    from hokusai.server.app import create_app
    from hokusai.server.db import upgrade_database
    from hokusai.server.services.keys import create_key
    from hokusai.stack import first_start_notice
    from tests.support.api import ServedApp
    from tests.support.mlflow import mlflow_settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = mlflow_settings(Path(tmp))
        upgrade_database(str(settings.database_url))
        app = create_app(settings)
        first_start_notice(app)
        with app.state.hokusai.sessions() as session:
            key = create_key(session, actor=None, name="bench", scopes=frozenset({"read"}), live=False,
                             principal_name="bench", rate_limit_per_minute=1_000_000).key  # fmt: skip
            session.commit()  # services never commit (docs/architecture.md): whoever opens the session does
        cases = {"health": ("/health", ""), "keyed": ("/api/v1/me", f"Authorization: Bearer {key}")}
        wall: dict[str, list[float]] = {name: [] for name in cases}
        per_cpu: dict[str, list[float]] = {name: [] for name in cases}
        with ServedApp(app) as served:
            for path, header in cases.values():  # warm-up: imports, caches, first key look-up
                measure(served.port, path, header, 0.5, args.connections)
            for i in range(args.rounds):
                for name, (path, header) in cases.items():
                    rps, cpu_rps = measure(served.port, path, header, args.seconds, args.connections)
                    wall[name].append(rps)
                    per_cpu[name].append(cpu_rps)
                health, keyed = wall["health"][-1], wall["keyed"][-1]
                print(f"round {i + 1}: /health {health:.0f}/s, API-key GET {keyed:.0f}/s", flush=True)
    print_ratio(
        "P4: API-key-authenticated GET /api/v1/me vs unauthenticated GET /health (same server, wall clock)",
        [("GET /api/v1/me with API key", wall["keyed"], "req/s"), ("GET /health", wall["health"], "req/s")],
        median(wall["keyed"]) / median(wall["health"]),
        ">= 0.8",
    )
    print_ratio(
        "P4 per server CPU-second (insensitive to other load on the machine)",
        [("GET /api/v1/me with API key", per_cpu["keyed"], "req/cpu-s"),
         ("GET /health", per_cpu["health"], "req/cpu-s")],
        median(per_cpu["keyed"]) / median(per_cpu["health"]),
        ">= 0.8",
    )  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--load":
        port, path, header, seconds, connections = sys.argv[2:7]
        result = asyncio.run(_load(int(port), path, header, float(seconds), int(connections)))
        print(json.dumps(result))
    else:
        main()
