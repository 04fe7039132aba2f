"""A webhook receiver as an integrator writes one: a real HTTP server on 127.0.0.1 that checks each request's
signature with its own copy of the secret (docs/architecture.md's recipe, written here independently of the
platform's code) and answers a scripted status."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from tests.support.net import free_port

TOLERANCE_SECONDS = 300


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: float = TOLERANCE_SECONDS) -> bool:
    """A receiver's check: a fresh timestamp, and the HMAC-SHA256 of ``timestamp + "." + body``."""
    timestamp = headers.get("x-hokusai-timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + expected, headers.get("x-hokusai-signature", ""))


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it, and what it answered."""

    at: float  # time.monotonic()
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    valid: bool
    answered: int


class Receiver:
    """``with Receiver(statuses=[500, 500]) as r: r.secret = ...``: answers 401 to a bad signature, else the
    next scripted status (200 once the script is used up); ``received`` lists every request."""

    def __init__(self, port: int | None = None, statuses: Iterable[int] = ()) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.secret: str | None = None
        self.statuses = list(statuses)
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with receiver._lock:
                    valid = receiver.secret is not None and verify(receiver.secret, headers, body)
                    status = (receiver.statuses.pop(0) if receiver.statuses else 200) if valid else 401
                    receiver.received.append(
                        Received(time.monotonic(), self.path, headers, body, valid, status)
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, name=f"receiver-{self.port}", daemon=True
        )

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(
        self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
    ) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Received]:
        """The first ``count`` requests, once they have arrived (AssertionError after ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return self.received[:count]
            time.sleep(0.05)
        raise AssertionError(f"{len(self.received)} of {count} requests reached {self.url} in {timeout:g}s")
