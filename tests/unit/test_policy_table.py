"""The policy table is the one place authorization is decided, and docs/api.md shows all of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from hokusai.errors import Forbidden, NotFound, Unauthorized
from hokusai.server import policy
from hokusai.server.policy import Access, Subject
from hokusai.server.principal import Principal

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_docs_list_every_action_and_endpoint_of_the_table() -> None:
    text = DOCS.read_text()
    for action in policy.RULES:
        assert f"`{action}`" in text, action
    for method, path in policy.ENDPOINTS:
        assert f"`{method} {path}`" in text, (method, path)


def test_every_endpoint_names_a_known_action() -> None:
    assert set(policy.ENDPOINTS.values()) <= set(policy.RULES)


def test_an_endpoint_without_a_row_is_refused() -> None:
    with pytest.raises(Forbidden) as caught:
        policy.rule_for("GET", "/api/v1/not-in-the-table")
    assert caught.value.code == "no_policy"


OWNER = Principal("o", "api_key", frozenset({"read", "write"}), role="owner")
READER = Principal("o", "api_key", frozenset({"read"}), role="owner")
STRANGER = Principal("s", "api_key", frozenset({"read", "write"}), role="owner")
WALLET = Principal("w", "wallet", frozenset({"read", "write"}), role="contributor", wallet_address="0xW")
ADMIN = Principal("a", "api_key", frozenset({"read", "write", "admin"}), role="admin")
CONTRIBUTION = Subject("contribution", "c1", owners=frozenset({"o"}), wallets=frozenset({"0xW"}))


@pytest.mark.parametrize(
    ("principal", "action", "refusal"),
    [
        (None, "contribution.read", Unauthorized),
        (WALLET, "contribution.read", None),
        (OWNER, "contribution.read", None),
        (READER, "contribution.read", None),
        (STRANGER, "contribution.read", NotFound),  # never confirm it exists
        (ADMIN, "contribution.read", None),
        (READER, "run.submit", Forbidden),  # a read-only key changes nothing
        (WALLET, "model.register", Forbidden),  # a contributor registers no model
    ],
)
def test_require_refuses_as_the_table_says(
    principal: Principal | None, action: str, refusal: type[Exception] | None
) -> None:
    if refusal is None:
        policy.require(principal, action, CONTRIBUTION)
    else:
        with pytest.raises(refusal):
            policy.require(principal, action, CONTRIBUTION)


def test_a_public_object_is_readable_without_a_credential_and_a_private_one_is_not_found() -> None:
    policy.require(None, "attestation.read", Subject("attestation", "a", public=True))
    with pytest.raises(NotFound):
        policy.require(None, "attestation.read", Subject("attestation", "a", public=False))


def test_an_object_readable_by_all_but_owned_by_another_is_forbidden_not_hidden() -> None:
    model = Subject("model", "m1", owners=frozenset({"o"}), readable=Access.ANY)
    with pytest.raises(Forbidden) as caught:
        policy.require(STRANGER, "model.write", model)
    assert caught.value.code == "not_owner"
