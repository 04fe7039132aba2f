"""Verification against a platform's history of published signers and domains: what was signed under an
earlier domain or key stays valid; a domain or signer never published, or a signer retired before the
document's time, is INVALID with the reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from eth_account import Account

from hokusai.attestation.signing import REPORT_FIELD, PublishedSigner, Signer, attestation_domain
from hokusai.attestation.verify import verify_attestation
from tests.unit.attestation.conftest import KEY, Sealed, make_sealed

CONTRACT = "0x" + "de" * 20
OTHER_CONTRACT = "0x" + "ba" * 20
T0, T1, T2 = (datetime(2026, m, 1, tzinfo=UTC) for m in (1, 6, 9))
K1 = Account.from_key(KEY)
K2 = Account.create()


def _sealed(account: object, domain: dict, timestamp: str = "2026-03-01T00:00:00Z") -> Sealed:
    return make_sealed(Signer(account, domain), timestamp=timestamp)  # type: ignore[arg-type]


# K1 signed on chain 1 without a contract until T1; then K2 with the DeltaVerifier, still published
HISTORY = [
    PublishedSigner(K1.address, 1, None, T0, T1),
    PublishedSigner(K2.address, 1, CONTRACT.upper().replace("0X", "0x"), T1, None),
]


def _failed(sealed: Sealed, history: list[PublishedSigner] = HISTORY) -> dict[str, str]:
    verdict = verify_attestation(sealed.document, report=sealed.report, published=history)
    return {c.name: c.reason for c in verdict.failed}


def test_a_document_signed_under_an_earlier_domain_and_key_stays_valid() -> None:
    assert _failed(_sealed(K1, attestation_domain(1))) == {}


def test_a_document_signed_under_todays_domain_is_valid_and_contract_case_does_not_matter() -> None:
    assert _failed(_sealed(K2, attestation_domain(1, CONTRACT), "2026-10-01T00:00:00Z")) == {}


def test_a_domain_never_published_is_invalid_even_when_signed_by_a_published_key() -> None:
    failed = _failed(_sealed(K2, attestation_domain(1, OTHER_CONTRACT)))
    assert list(failed) == ["domain", "signer"]
    assert "never published" in failed["domain"] and OTHER_CONTRACT in failed["domain"]


@pytest.mark.parametrize(
    "domain",
    [
        attestation_domain(5),  # another chain
        {**attestation_domain(1), "name": "Other App"},  # another application's domain
    ],
    ids=["chain", "name"],
)
def test_a_domain_that_differs_in_any_field_is_not_the_published_one(domain: dict) -> None:
    failed = _failed(_sealed(K1, domain))
    assert "domain" in failed


def test_a_published_key_under_a_domain_published_only_for_another_key_is_invalid() -> None:
    failed = _failed(_sealed(K1, attestation_domain(1, CONTRACT)))
    assert list(failed) == ["signer"]
    assert "never a published signer for this domain" in failed["signer"] and K2.address in failed["signer"]


def test_a_key_never_published_is_invalid() -> None:
    failed = _failed(_sealed(Account.create(), attestation_domain(1, CONTRACT)))
    assert list(failed) == ["signer"]


def test_a_document_dated_after_its_signer_was_retired_is_invalid() -> None:
    failed = _failed(_sealed(K1, attestation_domain(1), timestamp=T2.isoformat()))
    assert list(failed) == ["signer"] and "retired" in failed["signer"]


def test_a_recorded_domain_with_an_extra_field_is_not_the_published_one() -> None:
    sealed = _sealed(K1, attestation_domain(1))
    sealed.report[REPORT_FIELD]["salt"] = "0x" + "00" * 32
    assert "never published" in _failed(sealed)["domain"]


def test_a_report_without_a_recorded_domain_is_never_a_published_one() -> None:
    legacy = _sealed(K1, attestation_domain(1))
    del legacy.report[REPORT_FIELD]  # as reports sealed before domains had a chain id
    failed = _failed(legacy, [*HISTORY, PublishedSigner(K1.address, 1, None)])
    assert "legacy" in failed["domain"]


def test_published_and_a_pinned_signer_are_not_mixed() -> None:
    sealed = _sealed(K1, attestation_domain(1))
    with pytest.raises(ValueError):
        verify_attestation(sealed.document, report=sealed.report, published=HISTORY, signer=K1.address)
