"""Acceptance events and webhooks: the ``deltaone.accepted`` event, the outbox, signed at-least-once delivery.

* **The event.** When a run is accepted, the run worker writes the event to ``hk_outbox`` and one pending
  ``hk_webhook_deliveries`` row per matching active webhook, in the transaction that records the run's
  result (``record_accepted``): an event exists exactly when the result does. Its body is
  ``accepted_event``'s payload, described by ``schemas/deltaone.accepted.json`` (``event_schema``).
* **Webhooks.** An owner registers a URL (for one of its models, or for all of them); the platform makes the
  signing secret, shows it once and keeps only its Fernet encryption (``WebhookCipher``, key
  ``HOKUSAI_WEBHOOK_KEY``; in development a key file created once in the data dir, mode 0600).
* **SSRF.** A URL must be http(s) on a port 1-65535 and its host must resolve only to public addresses
  (``check_url``): not loopback, private, link-local (cloud metadata at 169.254.169.254), multicast, reserved
  or unspecified, nor an IPv6 address that carries such an IPv4 address (IPv4-mapped, 6to4, Teredo, NAT64,
  IPv4-compatible or -translated: ``embedded_ipv4``); checked at registration and again before every
  attempt, and the attempt connects to the address that was checked (no DNS rebinding).
  ``HOKUSAI_WEBHOOK_ALLOW_PRIVATE=true`` lifts the address rule (tests, local setups), never the port rule.
* **Delivery** (``Dispatcher``, run by the API): due deliveries are claimed with a lease by a conditional
  UPDATE (two API processes never send one at once), POSTed with the event as RFC 8785 canonical JSON and
  ``X-Hokusai-Signature: sha256=HMAC-SHA256(secret, "<timestamp>.<body>")``; a 2xx answer delivers it,
  anything else is retried after ``base * 2^(attempts-1)`` seconds (at most the cap) until the attempt limit
  marks it ``failed``. Every attempt is logged on the delivery. All state is in the database, so a restart
  loses nothing (at least once: an attempt cut short by a crash is sent again).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

import httpx
from cryptography.fernet import Fernet, InvalidToken
from jsonschema import Draft202012Validator
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from hokusai import __version__, schemas
from hokusai.attestation.attesters import DEPLOYED
from hokusai.attestation.mint import attestation_hash, idempotency_key, weight_bps
from hokusai.config import Settings, env_name
from hokusai.errors import ConfigError, InvalidInput, NotFound
from hokusai.files import create_secret_file, read_secret_file
from hokusai.hashing import canonical_json
from hokusai.schemas import DELTAONE_ACCEPTED, EVENT_TYPES
from hokusai.server import policy
from hokusai.server.db.models import Attestation, Model, OutboxEvent, Run, Webhook, WebhookDelivery, utcnow
from hokusai.server.policy import ADMIN_ROLE
from hokusai.server.principal import Principal
from hokusai.server.services.access import model_subject, webhook_subject
from hokusai.server.services.audit import record_event
from hokusai.server.services.models import get_model
from hokusai.wallet import checksum_address

log = logging.getLogger("hokusai.webhooks")

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
SIGNATURE_HEADER = "X-Hokusai-Signature"
ATTEMPT_LOG_MAX = 50  # the delivery log keeps the last this many attempts
CLAIM_BATCH = 20  # deliveries one dispatcher pass claims at most
SEND_THREADS = 4  # deliveries sent at once (a slow receiver does not hold up the others)
LEASE_MARGIN_SECONDS = 30.0  # a claim outlives the attempt's timeout by this much
KEY_FILE = "webhook.key"
SCHEMA_FILE = "deltaone.accepted.json"
Resolver = Callable[..., Sequence[tuple[Any, ...]]]


# --- secrets at rest ----------------------------------------------------------------------------------------


def new_secret() -> str:
    """A fresh signing secret (``whsec_`` + 256 random bits); the HMAC key is its UTF-8 bytes."""
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookCipher:
    """Encrypts signing secrets for storage (Fernet: AES-128-CBC + HMAC-SHA256) with the platform key."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, ValueError):
            raise ConfigError(
                f"a webhook secret does not decrypt with this platform's key ({env_name('webhook_key')} "
                "changed?); delete the webhook and register it again"
            ) from None

    def __repr__(self) -> str:
        return "WebhookCipher(<key hidden>)"


def load_cipher(settings: Settings) -> WebhookCipher:
    """The cipher of ``HOKUSAI_WEBHOOK_KEY``; unset, in development and test, the key file
    ``<data dir>/keys/webhook.key`` (created once, mode 0600). Staging and production refuse to start
    without the setting (a deployed process must not invent a key its replicas do not share)."""
    if settings.webhook_key is not None:
        return WebhookCipher(settings.webhook_key.get_secret_value().encode())
    if settings.environment in DEPLOYED:
        raise ConfigError(
            f"{env_name('webhook_key')} is not set and {settings.environment} never creates a key: set it to "
            "a Fernet key (python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'), from your secret store"
        )
    path = settings.data_dir / "keys" / KEY_FILE
    if not path.exists():
        create_secret_file(path, Fernet.generate_key().decode() + "\n")
    text = read_secret_file(path, "webhook key file").strip()
    try:
        return WebhookCipher(text.encode())
    except ValueError:
        raise ConfigError(f"webhook key file {path} does not hold a Fernet key") from None


# --- where a webhook may point ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A checked webhook URL and the address its host resolved to (the one an attempt connects to)."""

    url: httpx.URL
    address: str


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.IPv6Network(
    "64:ff9b::/96"
)  # RFC 6052 well-known prefix: the IPv4 address is the last 32 bits
NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215 local use: where the IPv4 sits is local
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d
IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # SIIT ::ffff:0:a.b.c.d


def embedded_ipv4(address: IPAddress) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address reaches through a transition mechanism, each with its name:
    6to4 (2002::/16), Teredo (2001::/32: server and client), NAT64 (64:ff9b::/96), IPv4-compatible
    (::/96) and IPv4-translated (::ffff:0:0:0/96). IPv4-mapped addresses are unwrapped by ``_refusal``."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    if address.sixtofour is not None:
        found.append(("6to4", address.sixtofour))
    if address.teredo is not None:
        server, client = address.teredo
        found += [("Teredo server", server), ("Teredo client", client)]
    for network, kind in ((NAT64, "NAT64"), (IPV4_COMPATIBLE, "IPv4-compatible"),
                          (IPV4_TRANSLATED, "IPv4-translated")):  # fmt: skip
        if address in network:
            found.append((kind, low32))
    return found


def _kind(address: IPAddress) -> str | None:
    """What kind of non-public address this is itself (None: a public one)."""
    for test, kind in (
        ("is_unspecified", "an unspecified"), ("is_loopback", "a loopback"),
        ("is_link_local", "a link-local (cloud metadata)"), ("is_multicast", "a multicast"),
        ("is_private", "a private"), ("is_reserved", "a reserved"),
    ):  # fmt: skip
        if getattr(address, test):
            return f"{kind} address"
    if not address.is_global:
        return "a non-public address"
    return None


def _refusal(address: IPAddress) -> str | None:
    """Why an address is no place for a webhook (None: a public address, and so is every IPv4 address it
    carries: an IPv6 address that wraps 127.0.0.1 or 169.254.169.254 reaches them through a relay)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback or address.is_unspecified:  # ::1 and :: are not IPv4-compatible addresses
        return _kind(address)
    for mechanism, inner in embedded_ipv4(address):
        reason = _kind(inner)
        if reason is not None:
            return f"the {mechanism} form of {inner}, {reason}"
    if isinstance(address, ipaddress.IPv6Address) and address in NAT64_LOCAL:
        return "a NAT64 local-use address (RFC 8215)"
    return _kind(address)


def _url_refused(message: str, url: str) -> InvalidInput:
    return InvalidInput(message, code="webhook_url_refused", details={"url": url})


def check_url(url: str, *, allow_private: bool, resolve: Resolver = socket.getaddrinfo) -> Target:
    """The URL as a webhook may use it, or a readable 400 ``webhook_url_refused``: http(s), a host, no
    credentials in it, and (unless ``allow_private``) a host whose every address is public."""
    try:
        parsed = httpx.URL(url)
        port = parsed.port if parsed.port is not None else (443 if parsed.scheme == "https" else 80)
        host = parsed.raw_host.decode("ascii")
    except (httpx.InvalidURL, TypeError, ValueError):
        raise _url_refused(f"{url!r} is not a URL", url) from None
    if parsed.scheme not in ("http", "https") or not host:
        raise _url_refused(f"a webhook URL is http:// or https:// with a host, not {url!r}", url)
    if not 0 < port < 65536:
        raise _url_refused(f"the port of {url!r} is not a TCP port (1-65535)", url)
    if parsed.userinfo:
        raise _url_refused(
            "a webhook URL carries no user name or password: receivers check the signature", url
        )
    try:
        found = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        raise _url_refused(f"the host {host!r} of the webhook URL does not resolve", url) from None
    addresses = list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in found))
    if not addresses:
        raise _url_refused(f"the host {host!r} of the webhook URL does not resolve", url)
    if not allow_private:
        for text in addresses:
            reason = _refusal(ipaddress.ip_address(text))
            if reason is not None:
                raise _url_refused(
                    f"the webhook host {host!r} resolves to {text}, {reason}: webhooks go to public "
                    f"addresses only (an operator can allow others with {env_name('webhook_allow_private')})",
                    url,
                )
    return Target(parsed, addresses[0])


# --- signatures ---------------------------------------------------------------------------------------------


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``"<timestamp>." + body`` under the secret's UTF-8 bytes."""
    mac = hmac.new(secret.encode(), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def delivery_headers(
    secret: str, event_type: str, delivery_id: str, body: bytes, now: float
) -> dict[str, str]:
    """The headers of one attempt: event type, delivery id (stable across retries), timestamp, signature."""
    timestamp = str(int(now))
    return {
        "Content-Type": "application/json",
        "User-Agent": f"hokusai-webhooks/{__version__}",
        "X-Hokusai-Event": event_type,
        "X-Hokusai-Delivery": delivery_id,
        "X-Hokusai-Timestamp": timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def event_body(payload: dict[str, Any]) -> bytes:
    """The bytes a receiver gets (and the signature covers): the payload as RFC 8785 canonical JSON."""
    return canonical_json(payload)


# --- the event ----------------------------------------------------------------------------------------------


@cache
def event_schema() -> dict[str, Any]:
    """The JSON Schema of ``deltaone.accepted`` (shipped in the package: ``server/schemas/``)."""
    text = resources.files("hokusai.server").joinpath("schemas", SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def event_errors(payload: Any, limit: int = 5) -> list[str]:
    """Up to ``limit`` readable violations of the event schema (``path: message``); empty when valid."""
    validator = Draft202012Validator(event_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(payload), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{'/'.join(map(str, e.absolute_path)) or '(event)'}: {e.message}" for e in errors[:limit]]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def accepted_event(
    run: Run, model: Model, attestation: Attestation, *, event_id: str, created_at: datetime
) -> dict[str, Any]:
    """The ``deltaone.accepted`` payload of an accepted run: its scores, gain and interval (the report's
    primary metric), contributors and weights, and the attestation hash and idempotency key exactly as its
    mint request computes them (the key is null while the model has no on-chain id)."""
    document, report = attestation.document, attestation.report or {}
    outcome = report["outcome"]
    primary = outcome["primary_metric"]
    results = document["evaluation_results"]
    digest = attestation_hash(document)
    return {
        "id": event_id,
        "type": DELTAONE_ACCEPTED,
        "created_at": _iso(created_at),
        "data": {
            "run_id": run.id,
            "model": model.name,
            "onchain_id": model.onchain_id,
            "primary_metric": primary,
            "unit": outcome["unit"],
            "baseline_score": results["baseline_metrics"][primary],
            "candidate_score": results["new_metrics"][primary],
            "gain": outcome["gain"],
            "ci_low": outcome["ci_low"],
            "ci_high": outcome["ci_high"],
            "delta_one_score": outcome["delta_one_score"],
            "contributors": [
                {"wallet": checksum_address(c["wallet_address"]), "weight_bps": weight_bps(c["weight"])}
                for c in document["contributors"]
            ],
            "attestation_id": attestation.id,
            "attestation_hash": digest,
            "idempotency_key": None
            if model.onchain_id is None
            else idempotency_key(int(model.onchain_id), digest),
        },
    }


def matching_webhooks(session: Session, model: Model, event_type: str) -> list[Webhook]:
    """Active webhooks for ``event_type`` on ``model``: those for this model, and its owner's for all."""
    rows = session.scalars(
        select(Webhook)
        .where(
            Webhook.active.is_(True),
            or_(
                Webhook.model_id == model.id,
                (Webhook.model_id.is_(None)) & (Webhook.owner_id == model.owner_id),
            ),
        )
        .order_by(Webhook.created_at, Webhook.id)
    )
    return [row for row in rows if event_type in (row.events or [])]


def record_accepted(session: Session, run: Run, model: Model) -> OutboxEvent:
    """Add the run's ``deltaone.accepted`` event and a pending delivery per matching webhook to ``session``
    (the caller commits them with the run's result: the same transaction)."""
    attestation = session.get(Attestation, run.attestation_id) if run.attestation_id else None
    if attestation is None:
        raise NotFound(f"run {run.id} has no stored attestation", code="attestation_not_found")
    now = utcnow()
    event_id = uuid.uuid4().hex
    payload = accepted_event(run, model, attestation, event_id=event_id, created_at=now)
    event = OutboxEvent(
        id=event_id, event_type=DELTAONE_ACCEPTED, model_id=model.id, payload=payload, created_at=now
    )
    session.add(event)
    session.flush()  # the event row first: deliveries refer to it
    for webhook in matching_webhooks(session, model, DELTAONE_ACCEPTED):
        session.add(
            WebhookDelivery(
                id=uuid.uuid4().hex, webhook_id=webhook.id, event_id=event_id, state=PENDING, attempts=0,
                next_attempt_at=now, attempt_log=[], created_at=now,
            )
        )  # fmt: skip
    return event


# --- webhooks, as their owners manage them ------------------------------------------------------------------


def webhook_view(session: Session, row: Webhook, secret: str | None = None) -> schemas.Webhook:
    """A webhook as its owner sees it (its ``secret`` only in the answer that creates it)."""
    model = session.get(Model, row.model_id) if row.model_id else None
    return schemas.Webhook(
        id=row.id,
        url=row.url,
        model=model.name if model else None,
        events=list(row.events),
        active=row.active,
        owner_id=row.owner_id,
        created_at=row.created_at,
        secret=secret,
    )


def create_webhook(
    session: Session,
    principal: Principal,
    settings: Settings,
    cipher: WebhookCipher,
    *,
    url: str,
    model_name: str | None = None,
    events: Sequence[str] = EVENT_TYPES,
) -> tuple[Webhook, str]:
    """A new webhook of ``principal`` and its secret (to show once; only its encryption is stored). A webhook
    for one model needs that model to be the caller's (admins: any)."""
    check_url(url, allow_private=settings.webhook_allow_private)
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown or not events:
        raise InvalidInput(
            f"unknown event type(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(EVENT_TYPES)}",
            code="unknown_event",
        )
    model = None
    if model_name is not None:
        model = get_model(session, model_name)
        policy.require(principal, "model.write", model_subject(model))
    secret = new_secret()
    row = Webhook(
        id=uuid.uuid4().hex, owner_id=principal.id, url=url, secret=cipher.encrypt(secret),
        model_id=model.id if model else None, events=list(dict.fromkeys(events)), active=True,
        created_at=utcnow(),
    )  # fmt: skip
    session.add(row)
    record_event(
        session, "webhook_created", principal_id=principal.id, key_id=principal.key_id,
        wallet_address=principal.wallet_address, resource=f"webhook:{row.id}",
        details={"host": httpx.URL(url).host, "model": model_name, "events": row.events},
    )  # fmt: skip
    return row, secret


def list_webhooks(session: Session, principal: Principal) -> list[Webhook]:
    """The caller's active webhooks (admins: everyone's)."""
    query = select(Webhook).where(Webhook.active.is_(True)).order_by(Webhook.created_at, Webhook.id)
    if principal.role != ADMIN_ROLE:
        query = query.where(Webhook.owner_id == principal.id)
    rows = session.scalars(query)
    return policy.visible(principal, "webhook.read", ((webhook_subject(row), row) for row in rows))


def get_webhook(session: Session, principal: Principal, webhook_id: str, action: str) -> Webhook:
    """A webhook the caller may ``action`` (404 ``webhook_not_found`` for another owner's)."""
    row = session.get(Webhook, webhook_id)
    if row is None:
        raise NotFound(f"no webhook {webhook_id!r}", code="webhook_not_found")
    policy.require(principal, action, webhook_subject(row))
    return row


def delete_webhook(session: Session, principal: Principal, webhook_id: str) -> Webhook:
    """Deactivate a webhook for good (idempotent): its secret is erased, its pending deliveries fail, its
    delivery log stays readable."""
    row = get_webhook(session, principal, webhook_id, "webhook.write")
    if row.active:
        row.active, row.secret = False, ""
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == row.id, WebhookDelivery.state == PENDING)
            .values(state=FAILED, last_error="the webhook was deleted", lease_until=None)
        )
        record_event(
            session, "webhook_deleted", principal_id=principal.id, key_id=principal.key_id,
            wallet_address=principal.wallet_address, resource=f"webhook:{row.id}",
        )  # fmt: skip
    return row


def delivery_view(row: WebhookDelivery, event: OutboxEvent | None) -> schemas.Delivery:
    """One delivery and its attempts, as the webhook's owner reads them."""
    return schemas.Delivery(
        id=row.id,
        event_id=row.event_id,
        event_type=event.event_type if event else None,
        run_id=((event.payload or {}).get("data") or {}).get("run_id") if event else None,
        state=row.state,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.state == PENDING else None,
        last_status=row.last_status,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
        created_at=row.created_at,
        log=list(row.attempt_log or []),
    )


def list_deliveries(session: Session, principal: Principal, webhook_id: str) -> list[schemas.Delivery]:
    """A webhook's deliveries, newest first, each with its attempt log (its owner, admins)."""
    row = get_webhook(session, principal, webhook_id, "webhook.read")
    deliveries = session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == row.id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
    )
    return [delivery_view(d, session.get(OutboxEvent, d.event_id)) for d in deliveries]


# --- delivery -----------------------------------------------------------------------------------------------


def retry_delay(attempts: int, base: float, cap: float) -> float:
    """The wait after the n-th failed attempt: ``base * 2^(n-1)`` seconds, at most ``cap``."""
    return min(cap, base * 2 ** max(0, attempts - 1))


@dataclass(frozen=True)
class Attempt:
    """What one attempt gave: the HTTP status (None without an answer) and, unless delivered, why not."""

    status: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Dispatcher:
    """Sends due deliveries: ``run_once`` claims up to ``CLAIM_BATCH`` of them (a lease by conditional
    UPDATE), sends them side by side, and records each attempt. Call it again and again (the API does, every
    ``POLL_SECONDS``); everything it knows is in the database."""

    POLL_SECONDS = 0.5
    PAUSE_AFTER_ERROR_SECONDS = 5.0  # the database is away: try again, without a log line per poll

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        cipher: WebhookCipher,
        *,
        resolve: Resolver = socket.getaddrinfo,
    ) -> None:
        self.sessions, self.settings, self.cipher, self.resolve = sessions, settings, cipher, resolve
        self.http = httpx.Client(
            timeout=settings.webhook_timeout_seconds, follow_redirects=False, trust_env=False
        )
        self._pool = ThreadPoolExecutor(SEND_THREADS, thread_name_prefix="webhook")
        self._closed = False

    def close(self) -> None:
        """Stop claiming, wait for the attempts in flight (each bounded by its timeout), close the client."""
        self._closed = True
        self._pool.shutdown(wait=True)
        self.http.close()

    async def run_forever(self) -> None:
        """``run_once`` in a thread, every ``POLL_SECONDS``, until cancelled (the API's lifespan runs it)."""
        while True:
            pause = self.POLL_SECONDS
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:  # the database may be away for a moment: a later pass tries again
                log.exception("the webhook dispatcher's pass failed; retrying")
                pause = self.PAUSE_AFTER_ERROR_SECONDS
            await asyncio.sleep(pause)

    def run_once(self) -> int:
        """Claim and send what is due now; returns how many attempts were made."""
        if self._closed:
            return 0
        claimed = self._claim()
        if claimed:
            list(self._pool.map(self._deliver_logged, claimed))
        return len(claimed)

    def _claim(self) -> list[str]:
        now = utcnow()
        free = or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now)
        due = (WebhookDelivery.state == PENDING, WebhookDelivery.next_attempt_at <= now, free)
        lease = now + timedelta(seconds=self.settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS)
        with self.sessions() as session:
            candidates = list(
                session.scalars(
                    select(WebhookDelivery.id)
                    .where(*due)
                    .order_by(WebhookDelivery.next_attempt_at)
                    .limit(CLAIM_BATCH)
                )
            )
            session.commit()  # end the read: each claim below is its own short write
            claimed = []
            for delivery_id in candidates:
                taken = session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id == delivery_id, *due)
                    .values(lease_until=lease)
                    .execution_options(synchronize_session=False)
                )
                session.commit()
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append(delivery_id)
        return claimed

    def _deliver_logged(self, delivery_id: str) -> None:
        try:
            self.deliver(delivery_id)
        except Exception:  # the lease runs out and the delivery is tried again
            log.exception("webhook delivery %s: the attempt could not be recorded", delivery_id)

    def deliver(self, delivery_id: str) -> Attempt | None:
        """One attempt of a claimed delivery, recorded on it (None: its webhook is gone, so it failed)."""
        with self.sessions() as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            webhook = session.get(Webhook, delivery.webhook_id) if delivery else None
            event = session.get(OutboxEvent, delivery.event_id) if delivery else None
            if delivery is None or delivery.state != PENDING:
                return None
            if webhook is None or event is None or not webhook.active:
                delivery.state, delivery.last_error = FAILED, "the webhook was deleted"
                delivery.lease_until = None
                session.commit()
                return None
            url, secret = webhook.url, self.cipher.decrypt(webhook.secret)
            event_type, body = event.event_type, event_body(event.payload)
        attempt = self.send(url, secret, event_type, delivery_id, body)
        self._record(delivery_id, attempt)
        return attempt

    def send(self, url: str, secret: str, event_type: str, delivery_id: str, body: bytes) -> Attempt:
        """POST ``body`` to ``url`` once, signed, to the address its host was checked to resolve to."""
        started = time.monotonic()

        def took() -> int:
            return round((time.monotonic() - started) * 1000)

        try:
            target = check_url(url, allow_private=self.settings.webhook_allow_private, resolve=self.resolve)
        except InvalidInput as exc:
            return Attempt(None, f"refused: {exc.message}"[:500], took())
        headers = delivery_headers(secret, event_type, delivery_id, body, time.time())
        headers["Host"] = target.url.netloc.decode("ascii")
        pinned = target.url.copy_with(host=target.address)
        sni = {"sni_hostname": target.url.raw_host.decode("ascii")} if target.url.scheme == "https" else {}
        try:
            with self.http.stream("POST", pinned, content=body, headers=headers, extensions=sni) as answer:
                status = answer.status_code  # the body is never read
        except httpx.HTTPError as exc:
            return Attempt(None, f"{type(exc).__name__}: {exc}"[:500], took())
        if 200 <= status < 300:
            return Attempt(status, None, took())
        note = " (redirects are not followed)" if 300 <= status < 400 else ""
        return Attempt(status, f"the receiver answered {status}{note}", took())

    def _record(self, delivery_id: str, attempt: Attempt) -> None:
        now = utcnow()
        settings = self.settings
        with self.sessions() as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is None:
                return
            delivery.attempts += 1
            entry = {"at": _iso(now), "status": attempt.status, "error": attempt.error,
                     "duration_ms": attempt.duration_ms}  # fmt: skip
            delivery.attempt_log = [*(delivery.attempt_log or []), entry][-ATTEMPT_LOG_MAX:]
            delivery.last_status, delivery.last_error = attempt.status, attempt.error
            delivery.lease_until = None
            if attempt.delivered:
                delivery.state, delivery.delivered_at = DELIVERED, now
            elif delivery.state == PENDING and delivery.attempts >= settings.webhook_max_attempts:
                delivery.state = FAILED
            elif delivery.state == PENDING:
                wait = retry_delay(
                    delivery.attempts, settings.webhook_retry_base_seconds, settings.webhook_retry_max_seconds
                )
                delivery.next_attempt_at = now + timedelta(seconds=wait)
            session.commit()
        log.info(
            "webhook delivery %s attempt %d: %s", delivery_id, delivery.attempts,
            "delivered" if attempt.delivered else attempt.error,
            extra={"status": attempt.status, "duration_ms": attempt.duration_ms},
        )  # fmt: skip
