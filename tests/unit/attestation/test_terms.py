"""Contribution terms: the hash is eth-account's EIP-712 digest, and the admission rule refuses each kind of
bad offer with its own code (the integration tests show three of them through a real ``hokusai up``)."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from hokusai.attestation.terms import (
    Terms,
    TermsRequirement,
    check_offer,
    sign_terms,
    terms_domain,
    terms_hash,
    terms_message,
)
from hokusai.errors import HokusaiError

WALLET = Account.from_key("0x" + "4c" * 32)
DOMAIN = terms_domain(1, "0x" + "de" * 20)
DATA = "ab" * 32
NOW = 1_700_000_000


def _offer(**change: Any) -> dict[str, Any]:
    return terms_message(Terms(**{**_values(), **change}), DOMAIN)


def _with(typed: dict[str, Any], **message: Any) -> dict[str, Any]:
    """``typed`` with message fields changed (values a Terms would refuse)."""
    return {**typed, "message": {**typed["message"], **message}}


def _check(typed: Any, signature: Any = None, required: TermsRequirement | None = None) -> Any:
    if signature is None and isinstance(typed, dict):
        signature = sign_terms(WALLET, typed)
    return check_offer(
        typed, signature, domain=DOMAIN, contributor=WALLET.address, dataset_hash=DATA, model="m1",
        required=required or TermsRequirement(), now=NOW,
    )  # fmt: skip


def test_the_terms_hash_is_eth_accounts_eip712_digest_and_what_is_stored() -> None:
    typed = _offer()
    signed = WALLET.sign_message(encode_typed_data(full_message=typed))
    terms, stored = _check(typed)
    assert terms_hash(typed) == "0x" + signed.message_hash.hex() == stored["hash"]
    assert (terms.license, stored["typed_data"]) == ("CC-BY-4.0", typed)


def _tampered() -> tuple[dict[str, Any], str]:
    typed = _offer()
    signature = sign_terms(WALLET, typed)
    typed["message"]["attribution"] = False  # changed after signing: another wallet "signed" it
    return typed, signature


@pytest.mark.parametrize(
    ("case", "code"),
    [
        (lambda: (None, None, None), "terms_required"),
        (lambda: ({**_offer(), "primaryType": "Mail"}, "0x" + "11" * 65, None), "terms_invalid"),
        (lambda: (_with(_offer(), license="CC BY"), "0x" + "11" * 65, None), "terms_invalid"),
        (lambda: (_offer(model="m2"), None, None), "terms_mismatch"),
        (lambda: (terms_message(Terms(**_values()), terms_domain(5)), None, None), "terms_mismatch"),
        (lambda: (_offer(), "0x" + "00" * 65, None), "terms_signature_invalid"),
        (lambda: (*_tampered(), None), "terms_signer_mismatch"),
        (lambda: (_offer(deadline=NOW - 1), None, None), "terms_expired"),
        (lambda: (_offer(), None, TermsRequirement(licenses=("CC0-1.0",))), "terms_insufficient"),
        (lambda: (_offer(), None, TermsRequirement(accepts_attribution=False)), "terms_insufficient"),
    ],
)
def test_each_bad_offer_is_refused_with_its_reason(case: Any, code: str) -> None:
    typed, signature, required = case()
    with pytest.raises(HokusaiError) as refused:
        _check(typed, signature, required)
    assert refused.value.code == code, refused.value.message


def _values() -> dict[str, Any]:
    return {
        "dataset_hash": DATA, "model": "m1", "license": "CC-BY-4.0", "commercial_use": True,
        "derivatives": True, "attribution": True, "deadline": NOW + 60,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("license", "change", "named"),
    [
        ("CC-BY-NC-4.0", {"commercial_use": True, "derivatives": True}, ["commercial_use true"]),
        ("cc-by-nc-sa-4.0", {"commercial_use": True, "derivatives": True}, ["commercial_use true"]),
        ("CC-BY-ND-4.0", {"commercial_use": True, "derivatives": True}, ["derivatives true"]),
        ("CC-BY-NC-ND-4.0", {"derivatives": True}, ["commercial_use true", "derivatives true"]),
        ("CC-BY-4.0", {"attribution": False}, ["attribution false"]),
        ("CC-BY-SA-4.0", {"attribution": False}, ["attribution false"]),
        ("PolyForm-Noncommercial-1.0.0", {}, ["commercial_use true"]),
    ],
)
def test_flags_that_contradict_the_licence_are_refused_naming_the_contradiction(
    license: str, change: dict[str, Any], named: list[str]
) -> None:
    with pytest.raises(HokusaiError) as refused:
        _check(_offer(license=license, **change))
    assert refused.value.code == "terms_invalid"
    contradictions = refused.value.details["contradictions"]
    assert [c.split(": ")[0] for c in contradictions] == [f"licence {license} with {n}" for n in named]
    assert all(c in refused.value.message for c in contradictions)


@pytest.mark.parametrize(
    ("license", "change"),
    [
        ("CC-BY-4.0", {}),  # the SDK's and the CLI's default offer
        ("CC0-1.0", {"attribution": True}),  # attribution may be asked of public-domain data
        ("CC0-1.0", {"attribution": False}),
        ("CC-BY-NC-ND-4.0", {"commercial_use": False, "derivatives": False}),
        ("CC-BY-NC-SA-4.0", {"commercial_use": False}),
        ("LicenseRef-NC-ND", {}),  # the parties' own licence: nothing implied
        ("sha256:" + "ab" * 32, {"attribution": False}),
    ],
)
def test_flags_consistent_with_the_licence_are_admitted(license: str, change: dict[str, Any]) -> None:
    terms, _ = _check(_offer(license=license, **change))
    assert terms.license == license


def test_the_sdk_default_offer_is_consistent_with_its_licence() -> None:
    import inspect

    from hokusai.attestation.terms import contradictions
    from hokusai.client import Contributions

    defaults = {
        name: p.default for name, p in inspect.signature(Contributions.terms).parameters.items()
        if name in ("license", "commercial_use", "derivatives", "attribution")
    }  # fmt: skip
    assert contradictions(Terms(**{**_values(), **defaults})) == []
