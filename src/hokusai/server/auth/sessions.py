"""Session tokens of the results pages (``/ui/``): stateless, HMAC-signed, holding no secret of the key.

A token is ``itsdangerous``'s signed, timestamped serialisation of the key id, the principal id, the
expiry and a random CSRF secret, signed with ``HOKUSAI_SESSION_KEY`` (HMAC-SHA256). Nothing is stored
on the server: every request carrying the cookie is checked against the key's current state
(``resolve.verify_session``), so a revoked or expired key stops its sessions at once. In development and
test the signing key is a file created once in the data directory (mode 0600); production refuses to start
without the setting. The token names the key, never carries it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from hokusai.config import Settings, env_name
from hokusai.errors import ConfigError, Unauthorized

COOKIE = "hokusai_session"
PATH = "/ui"  # the cookie's Path: the API under /api/v1 never sees it
SESSION_SECONDS = 8 * 3600  # a session lasts a working day at most (never past its key's expiry)
MAX_TOKEN_LENGTH = 1024
KEY_FILE = "session.key"
MIN_KEY_LENGTH = 32
_SALT = "hokusai.ui.session"
_FORM_SALT = "hokusai.ui.sign-in-form"


@dataclass(frozen=True, slots=True)
class SessionCredential:
    """A verified-signature session token: which key and principal, until when, and its CSRF secret.

    ``digest`` (SHA-256 of the token) is what the per-process credential cache compares.
    """

    key_id: str
    principal_id: str
    expires_at: float
    csrf: str
    digest: str

    @property
    def cache_key(self) -> str:
        return f"session:{self.digest}"


def session_key(settings: Settings) -> bytes:
    """The signing key: ``HOKUSAI_SESSION_KEY``, else ``<data dir>/keys/session.key`` (created once, 0600,
    outside production). Production without the setting is a ``ConfigError`` naming it."""
    if settings.session_key is not None and settings.session_key.get_secret_value():
        secret = settings.session_key.get_secret_value()
        if len(secret) < MIN_KEY_LENGTH:  # checked here, not in Settings: its error would quote the value
            raise ConfigError(
                f"{env_name('session_key')} is too short ({len(secret)} characters); use a random secret "
                f"of at least {MIN_KEY_LENGTH} (e.g. `openssl rand -hex 32`)"
            )
        return secret.encode()
    if settings.environment == "production":
        raise ConfigError(
            f"production needs {env_name('session_key')} (a random secret of at least 32 characters "
            "that signs the results pages' session cookies); none is set"
        )
    path = settings.data_dir / "keys" / KEY_FILE
    if not path.exists():
        _create_key_file(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"session key file {path} is readable by group or others (mode {mode:04o}); run: chmod 600 {path}"
        )
    return path.read_bytes().strip()


def _create_key_file(path: Path) -> None:
    """A fresh random key, written whole with mode 0600; a file another process made first is kept."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".session.", suffix=".tmp", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # atomic: readers see no file or the whole key
            os.link(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


class SessionTokens:
    """Issue and read session tokens with one signing key."""

    def __init__(self, key: bytes) -> None:
        self._serializer = URLSafeTimedSerializer(
            key, salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )

    def issue(self, key_id: str, principal_id: str, *, not_after: float | None = None) -> tuple[str, float]:
        """A new token for a signed-in key and its expiry (epoch seconds): ``SESSION_SECONDS`` from now, or
        ``not_after`` (the key's own expiry) if sooner."""
        expires = time.time() + SESSION_SECONDS
        if not_after is not None:
            expires = min(expires, not_after)
        payload = {"k": key_id, "p": principal_id, "e": int(expires), "c": secrets.token_urlsafe(24)}
        return self._serializer.dumps(payload), float(int(expires))

    def form_token(self, nonce: str) -> str:
        """The sign-in form's CSRF token: ``nonce`` (also in a cookie) signed and timestamped."""
        return self._serializer.dumps(nonce, salt=_FORM_SALT)

    def form_nonce(self, token: str, max_age: int) -> str | None:
        """The nonce a sign-in form's token was made for, if it is genuine and younger than ``max_age``."""
        try:
            nonce = self._serializer.loads(token[:MAX_TOKEN_LENGTH], salt=_FORM_SALT, max_age=max_age)
        except BadSignature:  # SignatureExpired is one
            return None
        return nonce if isinstance(nonce, str) else None

    def read(self, token: str) -> SessionCredential:
        """The credential in ``token``; ``Unauthorized`` (``session_invalid`` / ``session_expired``)
        otherwise. Only the signature and the expiry are checked here; the key's state is checked by
        ``resolve.verify_session``."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise _invalid()
        try:
            payload = self._serializer.loads(token, max_age=SESSION_SECONDS)
        except SignatureExpired:
            raise _expired() from None
        except BadSignature:
            raise _invalid() from None
        if not isinstance(payload, dict) or not all(isinstance(payload.get(k), str) for k in "kpc"):
            raise _invalid()
        expires = payload.get("e")
        if not isinstance(expires, int):
            raise _invalid()
        if expires <= time.time():
            raise _expired()
        digest = hashlib.sha256(token.encode()).hexdigest()
        return SessionCredential(payload["k"], payload["p"], float(expires), payload["c"], digest)


def _invalid() -> Unauthorized:
    return Unauthorized("the session cookie is not valid; sign in again", code="session_invalid")


def _expired() -> Unauthorized:
    return Unauthorized("the session has expired; sign in again", code="session_expired")
