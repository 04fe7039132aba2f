"""Who may do what: the one policy table every route, service and the MLflow proxy asks.

Three roles (``Principal.role``): ``contributor`` (every wallet by default), ``owner`` (user principals an
admin creates, and wallets granted ``owner``) and ``admin``. A credential's scopes (``read``, ``write``,
``admin``) cap what it may do within its principal's role, so a read-only key of an owner only reads.

``RULES`` maps each action to a ``Rule``: the scope it needs, the roles that may attempt it, and how the
caller must relate to the object (``Access``). ``ENDPOINTS`` maps every HTTP endpoint to its action; a route
missing from it is refused (and fails the test suite). Objects are described by ``Subject`` (who owns it,
who takes part in it, whether it is public); ``require`` decides and raises the one error:

* no credential where one is needed: 401 ``credentials_missing``;
* a role or scope the action does not allow: 403 ``role_required`` / ``insufficient_scope``;
* an object the caller may not even read: 404 (its existence is never confirmed);
* an object the caller reads but may not change: 403 ``not_owner``.

MLflow objects follow MLflow's own permission levels (``MlflowLevel``): the creator of an experiment or
registered model gets MANAGE, a platform model's owner MANAGE on its registered model and experiment,
everyone else NO_PERMISSIONS unless granted; admins hold MANAGE everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Literal

from hokusai.errors import Forbidden, NotFound, Unauthorized
from hokusai.schemas import GRANTABLE_ROLES as GRANTABLE_ROLES  # the API's vocabulary
from hokusai.schemas import MLFLOW_RESOURCE_TYPES as MLFLOW_RESOURCE_TYPES
from hokusai.server.principal import ADMIN, READ, WRITE, Principal

Role = Literal["contributor", "owner", "admin"]
CONTRIBUTOR: Role = "contributor"
OWNER: Role = "owner"
ADMIN_ROLE: Role = "admin"
ROLES: tuple[Role, ...] = (CONTRIBUTOR, OWNER, ADMIN_ROLE)
EVERYONE = frozenset(ROLES)
OWNERS = frozenset({OWNER, ADMIN_ROLE})
ADMINS = frozenset({ADMIN_ROLE})


class Access(StrEnum):
    """How the caller must relate to the object an action touches."""

    PUBLIC = "public"  # no credential needed
    ANY = "any"  # any authenticated caller whose role allows the action
    OWNER = "owner"  # the object's owner (admins always)
    PARTICIPANT = (
        "participant"  # its owner, or someone taking part (a contribution's wallet, a run's submitter)
    )
    CONTRIBUTOR = "contributor"  # only who takes part (a contribution's wallet, its submitter): not its owner
    WORKER = "worker"  # the run worker, with its one-run token (no principal)
    PROXY = "proxy"  # the MLflow proxy's own routes: they authenticate themselves (Basic credentials too)


@dataclass(frozen=True)
class Rule:
    """What an action needs: a scope (None: any credential), the roles allowed, the relation to the object."""

    scope: str | None
    roles: frozenset[Role]
    access: Access
    summary: str


R = Rule
RULES: dict[str, Rule] = {
    "health.read": R(None, EVERYONE, Access.PUBLIC, "liveness, readiness, metrics and the API reference"),
    "me.read": R(None, EVERYONE, Access.ANY, "who the credential belongs to"),
    "auth.nonce": R(None, EVERYONE, Access.PUBLIC, "a sign-in nonce (rate-limited per IP)"),
    "auth.logout": R(None, EVERYONE, Access.ANY, "end a wallet sign-in (and its keys with all=true)"),
    "grant.read": R(ADMIN, ADMINS, Access.ANY, "wallet role grants"),
    "grant.write": R(ADMIN, ADMINS, Access.ANY, "grant or remove a wallet's role"),
    "principal.read": R(ADMIN, ADMINS, Access.ANY, "principals and their roles"),
    "principal.write": R(ADMIN, ADMINS, Access.ANY, "a principal's trusted_pickle flag"),
    "audit.read": R(ADMIN, ADMINS, Access.ANY, "the audit log"),
    "key.create": R(WRITE, EVERYONE, Access.OWNER, "mint a key for yourself (admins: for anyone)"),
    "key.read": R(READ, EVERYONE, Access.OWNER, "your keys (admins: every key)"),
    "key.write": R(WRITE, EVERYONE, Access.OWNER, "revoke or rotate your key (admins: any key)"),
    "dataset.upload": R(WRITE, OWNERS, Access.ANY, "upload training data or a benchmark"),
    "dataset.read": R(READ, EVERYONE, Access.OWNER, "a dataset you uploaded"),
    "model.register": R(WRITE, OWNERS, Access.ANY, "register a baseline model"),
    "model.read": R(READ, EVERYONE, Access.ANY, "the model catalogue (what owners publish)"),
    "model.write": R(WRITE, OWNERS, Access.OWNER, "change a model's settings"),
    "model.lineage": R(READ, EVERYONE, Access.ANY, "a model's versions (non-owners: accepted ones)"),
    "benchmark.read": R(READ, EVERYONE, Access.ANY, "benchmark specs (the contract runs are held to)"),
    "benchmark.write": R(WRITE, OWNERS, Access.OWNER, "change your model's benchmark spec"),
    "contribution.submit": R(WRITE, EVERYONE, Access.ANY, "contribute data to a model that accepts it"),
    "contribution.read": R(READ, EVERYONE, Access.PARTICIPANT, "your contributions (owners: their models')"),
    "contribution.withdraw": R(WRITE, EVERYONE, Access.CONTRIBUTOR, "withdraw yours: deletes its raw data"),
    "me.export": R(READ, EVERYONE, Access.ANY, "everything the platform holds about you, as one archive"),
    "retention.sweep": R(ADMIN, ADMINS, Access.ANY, "list (dry run) or delete data past retention"),
    "run.submit": R(WRITE, EVERYONE, Access.PARTICIPANT, "evaluate your contributions (owners: any)"),
    "run.read": R(READ, EVERYONE, Access.PARTICIPANT, "runs you submitted or take part in"),
    "run.mint": R(WRITE, OWNERS, Access.OWNER, "an accepted run's signed mint request (your models')"),
    "run.sign": R(None, EVERYONE, Access.WORKER, "the run worker asks the platform to sign its document"),
    "attestation.read": R(None, EVERYONE, Access.PUBLIC, "accepted attestations (others: participants)"),
    "attestation.verify": R(None, EVERYONE, Access.PUBLIC, "verify any attestation; the published signers"),
    "impact.read": R(READ, EVERYONE, Access.PARTICIPANT, "a wallet's own impact"),
    "webhook.create": R(WRITE, OWNERS, Access.ANY, "register a webhook for your models' events"),
    "webhook.read": R(READ, OWNERS, Access.OWNER, "your webhooks and their delivery logs (admins: all)"),
    "webhook.write": R(WRITE, OWNERS, Access.OWNER, "delete your webhook"),
    "permission.read": R(READ, OWNERS, Access.OWNER, "who may use an MLflow resource you manage"),
    "permission.write": R(WRITE, OWNERS, Access.OWNER, "grant or revoke MLflow permissions you manage"),
    "mlflow.enter": R(None, EVERYONE, Access.PROXY, "the MLflow UI's entry redirect"),
    "mlflow.read": R(READ, EVERYONE, Access.ANY, "read MLflow resources you hold READ on"),
    "mlflow.write": R(WRITE, OWNERS, Access.ANY, "change MLflow resources you hold EDIT or MANAGE on"),
    "mlflow.admin": R(ADMIN, ADMINS, Access.ANY, "MLflow endpoints outside the allowlist"),
    "ui.public": R(None, EVERYONE, Access.PUBLIC, "the results pages' sign-in form, styles, script, icon"),
    "ui.signout": R(None, EVERYONE, Access.ANY, "end a results-pages session"),
}  # fmt: skip

# Every HTTP endpoint of the API and the action it is checked as.
ENDPOINTS: dict[tuple[str, str], str] = {
    ("GET", "/health"): "health.read",
    ("GET", "/ready"): "health.read",
    ("GET", "/metrics"): "health.read",
    ("GET", "/openapi.json"): "health.read",
    ("GET", "/docs"): "health.read",
    ("GET", "/docs/oauth2-redirect"): "health.read",
    ("GET", "/redoc"): "health.read",
    ("GET", "/docs/assets/{name}"): "health.read",
    ("GET", "/api/v1/me"): "me.read",
    ("GET", "/api/v1/auth/nonce"): "auth.nonce",
    ("POST", "/api/v1/auth/logout"): "auth.logout",
    ("GET", "/api/v1/auth/grants"): "grant.read",
    ("POST", "/api/v1/auth/grants"): "grant.write",
    ("DELETE", "/api/v1/auth/grants/{address}/{role}"): "grant.write",
    ("GET", "/api/v1/principals"): "principal.read",
    ("PATCH", "/api/v1/principals/{principal_id}"): "principal.write",
    ("GET", "/api/v1/audit"): "audit.read",
    ("POST", "/api/v1/keys"): "key.create",
    ("GET", "/api/v1/keys"): "key.read",
    ("DELETE", "/api/v1/keys/{key_id}"): "key.write",
    ("POST", "/api/v1/keys/{key_id}/rotate"): "key.write",
    ("POST", "/api/v1/datasets"): "dataset.upload",
    ("GET", "/api/v1/datasets/{dataset_id}"): "dataset.read",
    ("POST", "/api/v1/models"): "model.register",
    ("GET", "/api/v1/models"): "model.read",
    ("GET", "/api/v1/models/{name}"): "model.read",
    ("PATCH", "/api/v1/models/{name}"): "model.write",
    ("GET", "/api/v1/models/{name}/lineage"): "model.lineage",
    ("GET", "/api/v1/benchmarks"): "benchmark.read",
    ("POST", "/api/v1/benchmarks"): "benchmark.write",
    ("GET", "/api/v1/benchmarks/{spec_id}"): "benchmark.read",
    ("PATCH", "/api/v1/benchmarks/{spec_id}"): "benchmark.write",
    ("POST", "/api/v1/models/{name}/contributions"): "contribution.submit",
    ("GET", "/api/v1/models/{name}/contributions"): "contribution.read",
    ("GET", "/api/v1/contributions/{contribution_id}"): "contribution.read",
    ("POST", "/api/v1/contributions/{contribution_id}/withdraw"): "contribution.withdraw",
    ("GET", "/api/v1/me/export"): "me.export",
    ("POST", "/api/v1/retention/sweep"): "retention.sweep",
    ("POST", "/api/v1/runs"): "run.submit",
    ("GET", "/api/v1/runs"): "run.read",
    ("GET", "/api/v1/runs/{run_id}"): "run.read",
    ("GET", "/api/v1/runs/{run_id}/mint-request"): "run.mint",
    ("POST", "/api/v1/runs/{run_id}/sign"): "run.sign",
    ("GET", "/api/v1/attestations/signers"): "attestation.verify",
    ("GET", "/api/v1/attestations/{attestation_id}"): "attestation.read",
    ("GET", "/api/v1/attestations/{attestation_id}/report"): "attestation.read",
    ("POST", "/api/v1/attestations/verify"): "attestation.verify",
    ("GET", "/api/v1/contributors/{address}/impact"): "impact.read",
    ("POST", "/api/v1/webhooks"): "webhook.create",
    ("GET", "/api/v1/webhooks"): "webhook.read",
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): "webhook.write",
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): "webhook.read",
    ("GET", "/api/v1/permissions"): "permission.read",
    ("PUT", "/api/v1/permissions"): "permission.write",
    ("DELETE", "/api/v1/permissions"): "permission.write",
    **{
        (method, "/mlflow"): "mlflow.enter" for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    },
    # the results pages: each page is checked as the JSON endpoint whose object it shows
    ("GET", "/favicon.ico"): "ui.public",
    ("GET", "/ui/"): "ui.public",
    ("POST", "/ui/sign-in"): "ui.public",
    ("POST", "/ui/sign-out"): "ui.signout",
    ("GET", "/ui/static/{name}"): "ui.public",
    ("GET", "/ui/models"): "model.read",
    ("GET", "/ui/models/{name}"): "model.read",
    ("GET", "/ui/runs/{run_id}"): "run.read",
    ("GET", "/ui/runs/{run_id}/state"): "run.read",
    ("GET", "/ui/runs/{run_id}/plots/{name}"): "run.read",
    ("GET", "/ui/attestations/{attestation_id}"): "attestation.read",
    ("GET", "/ui/attestations/{attestation_id}/attestation.json"): "attestation.read",
    ("GET", "/ui/attestations/{attestation_id}/report.json"): "attestation.read",
    ("GET", "/ui/attestations/{attestation_id}/verify"): "attestation.verify",
    ("GET", "/ui/contributors/{address}"): "impact.read",
}


def rule_for(method: str, path: str) -> Rule:
    """The rule of an endpoint (``path`` is the route template); an endpoint missing from the table is
    refused, so a new route cannot be reachable before someone decides who may call it."""
    method = method.upper()
    action = ENDPOINTS.get(("GET" if method == "HEAD" else method, path))
    if action is None:
        raise Forbidden(f"{method} {path} has no row in the policy table", code="no_policy")
    return RULES[action]


@dataclass(frozen=True)
class Subject:
    """An object as the policy sees it: its kind and id, who owns it, who takes part in it.

    ``owners`` and ``participants`` are principal ids; ``wallets`` are addresses that take part (a
    contribution's wallet, the wallets of a run's contributions). ``public`` objects are readable by anyone
    (accepted attestations). ``readable`` says who may read it, deciding 404 versus 403 on a refusal.
    """

    kind: str
    id: str
    owners: frozenset[str] = field(default_factory=frozenset)
    participants: frozenset[str] = field(default_factory=frozenset)
    wallets: frozenset[str] = field(default_factory=frozenset)
    public: bool = False
    readable: Access = Access.PARTICIPANT

    def relation_holds(self, principal: Principal | None, access: Access) -> bool:
        """Whether ``principal`` relates to this object as ``access`` demands."""
        if access is Access.PUBLIC and self.public:
            return True
        if principal is None:
            return False
        if principal.role == ADMIN_ROLE or access is Access.ANY:
            return True
        if access is Access.CONTRIBUTOR:
            return principal.id in self.participants or (
                principal.wallet_address is not None and principal.wallet_address in self.wallets
            )
        if principal.id in self.owners:
            return True
        if access is Access.PARTICIPANT or access is Access.PUBLIC:
            return principal.id in self.participants or (
                principal.wallet_address is not None and principal.wallet_address in self.wallets
            )
        return False


def _not_found(subject: Subject) -> NotFound:
    return NotFound(f"no {subject.kind.replace('_', ' ')} {subject.id!r}", code=f"{subject.kind}_not_found")


def check_caller(principal: Principal | None, rule: Rule) -> None:
    """Role and scope of the caller for ``rule`` (no object yet): 401 or 403."""
    if rule.access in (Access.PUBLIC, Access.WORKER, Access.PROXY):
        return
    if principal is None:
        raise Unauthorized(
            "this needs a credential: an API key or a wallet sign-in", code="credentials_missing"
        )
    if principal.role not in rule.roles:
        allowed = " or ".join(sorted(rule.roles))
        raise Forbidden(
            f"this needs the {allowed} role; you are a {principal.role}", code="role_required",
            details={"required": sorted(rule.roles), "role": principal.role},
        )  # fmt: skip
    if rule.scope is not None and not principal.has_scope(rule.scope):
        raise Forbidden(
            f"this needs the {rule.scope!r} scope; the credential has {', '.join(sorted(principal.scopes))}",
            code="insufficient_scope",
            details={"required": rule.scope, "granted": sorted(principal.scopes)},
        )


def allows(principal: Principal | None, action: str, subject: Subject) -> bool:
    """Whether ``principal`` may do ``action`` on ``subject`` (no exception; for filtering lists)."""
    rule = RULES[action]
    if rule.access is Access.PUBLIC and subject.public:
        return True
    try:
        check_caller(principal, rule)
    except (Unauthorized, Forbidden):
        return False
    return subject.relation_holds(principal, rule.access)


def require(principal: Principal | None, action: str, subject: Subject) -> None:
    """Raise the one refusal unless ``principal`` may do ``action`` on ``subject``."""
    rule = RULES[action]
    if rule.access is Access.PUBLIC and subject.public:
        return
    if principal is None and rule.access is Access.PUBLIC:
        raise _not_found(subject)  # a non-public object does not exist for the anonymous
    check_caller(principal, rule)
    if subject.relation_holds(principal, rule.access):
        return
    if not subject.relation_holds(principal, subject.readable):
        raise _not_found(subject)
    if rule.access is Access.CONTRIBUTOR:
        raise Forbidden(
            f"only the contributor of this {subject.kind.replace('_', ' ')} (or an admin) may do this",
            code="not_contributor",
        )
    raise Forbidden(
        f"only the owner of this {subject.kind.replace('_', ' ')} (or an admin) may do this", code="not_owner"
    )


def visible(principal: Principal | None, action: str, subjects: Iterable[tuple[Subject, object]]) -> list:
    """The objects of ``(subject, object)`` pairs that ``principal`` may ``action`` (list filtering)."""
    return [item for subject, item in subjects if allows(principal, action, subject)]


class MlflowLevel(IntEnum):
    """MLflow's permission levels, ordered (READ < EDIT < MANAGE)."""

    NO_PERMISSIONS = 0
    READ = 1
    EDIT = 2
    MANAGE = 3


def mlflow_level_needed(operation: Literal["read", "update", "delete", "manage"]) -> MlflowLevel:
    """The level an MLflow operation needs: reads READ, changes EDIT, deleting and sharing MANAGE."""
    return {"read": MlflowLevel.READ, "update": MlflowLevel.EDIT, "delete": MlflowLevel.MANAGE,
            "manage": MlflowLevel.MANAGE}[operation]  # fmt: skip


def mlflow_allows(principal: Principal, held: MlflowLevel, needed: MlflowLevel) -> bool:
    """Whether a caller holding ``held`` on a resource may do what needs ``needed`` (admins: always)."""
    if principal.role == ADMIN_ROLE and principal.has_scope(READ if needed <= MlflowLevel.READ else WRITE):
        return True
    return held >= needed
