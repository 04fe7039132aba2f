"""What the MLflow proxy lets through: safe paths and which headers pass (pure functions, tested alone).

Who may call which MLflow endpoint on which resource is ``mlflow_access`` (the allowlist and permissions).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote

from hokusai.errors import InvalidInput

# Never forwarded upstream: hop-by-hop headers, the client's own credentials, and what a client could say
# about where it comes from (X-Forwarded-For is set to the real peer instead).
_DROP_REQUEST = frozenset({
    "host", "connection", "keep-alive", "proxy-authorization", "proxy-authenticate", "te", "trailer",
    "transfer-encoding", "upgrade", "authorization", "x-api-key", "cookie", "x-eth-address",
    "x-eth-signature", "x-eth-message", "forwarded", "x-forwarded-for", "x-real-ip", "x-forwarded-host",
    "x-forwarded-proto", "x-forwarded-port", "x-hokusai-run-token",
})  # fmt: skip
# Never passed back: hop-by-hop headers, MLflow's cookies (the platform is the only one that sets any).
HOP_BY_HOP_RESPONSE = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "server", "set-cookie"}
)
# What describes the client's body: dropped when the proxy sends its own (a re-serialised message) or none.
_BODY_HEADERS = frozenset({"content-length", "content-type", "content-encoding", "transfer-encoding"})
_ARTIFACT_PARAMS = frozenset({"path", "artifact_path", "artifact_uri", "root_uri"})


def _has_traversal(value: str) -> bool:
    parts = value.replace("\\", "/").split("/")
    return any(part in ("..", ".") for part in parts) or "\x00" in value


def upstream_path(path: str, raw_path: bytes, query: str) -> str:
    """The path to request from MLflow (without leading slash); refuses traversal anywhere.

    ``path`` is the decoded path after ``/mlflow/``; ``raw_path`` is the request's raw path, checked
    too so that ``%2e%2e`` cannot slip through; artifact query parameters are checked the same way.
    """
    raw = raw_path.decode("latin-1")
    if _has_traversal(path) or _has_traversal(raw) or _has_traversal(unquote(raw)):
        raise InvalidInput(
            "path traversal ('..' or '.') is not allowed in MLflow proxy paths", code="bad_path"
        )
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in _ARTIFACT_PARAMS and _has_traversal(value):
            raise InvalidInput(f"'..' is not allowed in the {name!r} parameter", code="bad_path")
    return path


def request_headers(
    headers: Iterable[tuple[str, str]], peer: str, own_body: bool = False
) -> list[tuple[str, str]]:
    """Headers to send upstream: everything but hop-by-hop headers, the caller's credentials and its own
    forwarding claims; ``X-Forwarded-For`` is the peer the API saw. With ``own_body`` the headers that
    describe the client's body go too (the proxy sends a body of its own, or none)."""
    drop = _DROP_REQUEST | _BODY_HEADERS if own_body else _DROP_REQUEST
    return [*((k, v) for k, v in headers if k.lower() not in drop), ("X-Forwarded-For", peer)]
