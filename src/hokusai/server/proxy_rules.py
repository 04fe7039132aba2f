"""What the MLflow proxy lets through: safe paths, the scope each request needs, which headers pass.

Pure functions (no FastAPI), so the rules are tested on their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote

from hokusai.errors import InvalidInput

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# MLflow endpoints that read but use POST (search bodies are too big for a query string).
READ_ONLY_POSTS = (
    "/mlflow/experiments/search",
    "/mlflow/runs/search",
    "/mlflow/logged-models/search",
    "/mlflow/model-versions/search",
    "/mlflow/registered-models/search",
    "/mlflow/traces/search",
    "/mlflow/metrics/get-history-bulk-interval",
)
READ_ONLY_PATHS = ("graphql",)  # the UI's GraphQL endpoint only runs queries

# Never forwarded upstream: hop-by-hop headers and the client's own credentials.
_DROP_REQUEST = frozenset({
    "host", "connection", "keep-alive", "proxy-authorization", "proxy-authenticate", "te", "trailer",
    "transfer-encoding", "upgrade", "authorization", "x-api-key", "cookie", "x-eth-address",
    "x-eth-signature", "x-eth-message",
})  # fmt: skip
HOP_BY_HOP_RESPONSE = frozenset(  # never passed back: hop-by-hop headers
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "server"}
)
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


def required_scope(method: str, path: str) -> str:
    """``read`` for reads (MLflow's read-only POST searches included), ``write`` for state changes."""
    if method.upper() in SAFE_METHODS:
        return "read"
    normalized = "/" + path.strip("/")
    if method.upper() == "POST" and (
        normalized.endswith(READ_ONLY_POSTS) or normalized.strip("/") in READ_ONLY_PATHS
    ):
        return "read"
    return "write"


def request_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers to send upstream: everything but hop-by-hop headers and the caller's credentials."""
    return [(k, v) for k, v in headers if k.lower() not in _DROP_REQUEST]
