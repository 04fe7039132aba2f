"""Every number and time in an EIP-4361 message is ASCII digits (ABNF DIGIT): any other Unicode digit,
wherever it stands, makes the message ``message_malformed`` (never a crash, never read as its value)."""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hokusai.errors import Unauthorized
from hokusai.siwe import parse_siwe
from tests.unit.auth.test_siwe import EIP_EXAMPLE

ASCII_DIGITS = "0123456789"
# every character Python reads as a digit somewhere: int() (decimal), isdigit (², ①), isnumeric, re's \d
UNICODE_DIGITS = [
    c
    for c in map(chr, range(sys.maxunicode + 1))
    if c not in ASCII_DIGITS
    and (c.isdecimal() or c.isdigit() or c.isnumeric() or re.fullmatch(r"\d", c) is not None)
]
# where a number or a time sits in the example message, and the ASCII digit each Unicode one replaces
FIELDS = {"chain id": "Chain ID: 1", "nonce": "Nonce: 32891756", "issued at": "Issued At: 2021-09-30T16"}


def _malformed(text: str) -> str:
    with pytest.raises(Unauthorized) as refused:
        parse_siwe(text)
    return refused.value.code


def _look_alike(c: str) -> str:
    """The ASCII digit ``c`` stands for (``'1'`` when it has no digit value, e.g. '½')."""
    value = unicodedata.digit(c, None)
    return str(value) if value is not None else "1"


def test_there_are_many_unicode_digits_to_try() -> None:
    assert len(UNICODE_DIGITS) > 1500 and {"²", "\u0661", "\uff16", "①"} <= set(UNICODE_DIGITS)


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_every_non_ascii_digit_in_a_number_or_time_is_message_malformed(field: str) -> None:
    line = FIELDS[field]
    assert parse_siwe(EIP_EXAMPLE)  # the untouched message parses
    accepted = []
    for c in UNICODE_DIGITS:
        digit = _look_alike(c)
        position = line.rindex("1") if "1" in line.split(": ", 1)[1] else len(line) - 1
        forged = line[:position] + c + line[position + 1 :]
        try:
            parse_siwe(EIP_EXAMPLE.replace(line, forged))
        except Unauthorized as exc:
            assert exc.code == "message_malformed", (c, exc.code)
        else:
            accepted.append(f"U+{ord(c):04X} (for {digit})")
    assert accepted == []


@pytest.mark.parametrize("c", ["²", "\u0661", "\uff16", "①", "\U0001d7d9"])
def test_a_chain_id_of_one_unicode_digit_is_malformed_not_a_crash(c: str) -> None:
    assert _malformed(EIP_EXAMPLE.replace("Chain ID: 1", f"Chain ID: {c}")) == "message_malformed"


@given(st.text(max_size=90))
def test_ascii_decimal_reads_only_ascii_digits(text: str) -> None:
    from hokusai.siwe import ascii_decimal

    value = ascii_decimal(text)
    if re.fullmatch(r"[0-9]{1,78}", text, flags=re.ASCII):
        assert value == int(text)
    else:
        assert value is None


@given(st.text(max_size=40))
def test_any_chain_id_text_is_parsed_as_ascii_or_refused_as_malformed(text: str) -> None:
    candidate = EIP_EXAMPLE.replace("Chain ID: 1", f"Chain ID: {text}")
    try:
        message = parse_siwe(candidate)
    except Unauthorized as exc:
        assert exc.code == "message_malformed"
    else:
        assert re.fullmatch(r"[0-9]+", text, flags=re.ASCII) and message.chain_id == int(text)


def test_a_chain_id_longer_than_a_uint256_is_malformed_not_a_crash() -> None:
    assert _malformed(EIP_EXAMPLE.replace("Chain ID: 1", "Chain ID: " + "9" * 5000)) == "message_malformed"


@pytest.mark.parametrize(
    "issued", ["2021-09-30 16:25:24Z", "20210930T162524Z", "2021-09-30T16:25:24", "2021-09-30"]
)
def test_times_other_than_rfc_3339_are_malformed(issued: str) -> None:
    assert _malformed(EIP_EXAMPLE.replace("2021-09-30T16:25:24Z", issued)) == "message_malformed"


def test_lower_case_rfc_3339_separators_are_accepted() -> None:
    assert (
        parse_siwe(EIP_EXAMPLE.replace("2021-09-30T16:25:24Z", "2021-09-30t16:25:24z")).issued_at.hour == 16
    )
