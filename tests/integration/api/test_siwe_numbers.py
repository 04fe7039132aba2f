"""A served platform reads SIWE numbers as ASCII digits only: ``Chain ID: ²`` (once a 500) and every other
script's ``1`` (once accepted as chain 1) are a 401 ``message_malformed``, on SQLite and PostgreSQL."""

from __future__ import annotations

import sys
import unicodedata

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from tests.integration.api.conftest import PROBE, Api, assert_refused, siwe_message, wallet_headers

pytestmark = pytest.mark.realparts

# every character other than '1' that int() reads as 1 (Arabic-Indic, Devanagari, fullwidth, bold, ...)
ONES = [c for c in map(chr, range(sys.maxunicode + 1)) if c != "1" and unicodedata.decimal(c, None) == 1]


def _signed_in_with_chain(api: Api, wallet: LocalAccount, chain: str) -> httpx.Response:
    text = siwe_message(wallet, api.nonce()).to_text().replace("Chain ID: 1", f"Chain ID: {chain}")
    return httpx.get(api.url + PROBE, headers=wallet_headers(wallet, text), timeout=10)


def test_a_superscript_chain_id_is_401_message_malformed_not_500(api: Api, wallet: LocalAccount) -> None:
    assert_refused(_signed_in_with_chain(api, wallet, "²"), 401, "message_malformed", api)


def test_no_other_scripts_one_signs_in_as_chain_1(api: Api, wallet: LocalAccount) -> None:
    assert len(ONES) > 50 and "\u0661" in ONES
    answers = {c: _signed_in_with_chain(api, wallet, c) for c in ONES}
    wrong = {f"U+{ord(c):04X}": r.status_code for c, r in answers.items() if r.status_code != 401}
    assert wrong == {}
    assert {r.json()["error"]["code"] for r in answers.values()} == {"message_malformed"}
    assert api.hits == []
    assert _signed_in_with_chain(api, wallet, "1").status_code == 200  # the ASCII one still signs in
