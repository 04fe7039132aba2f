"""PII scan: each kind is found, its look-alike is not; counts and rows are reported, never the text."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hokusai.data import Schema, name_hint, validate

Writer = Callable[[str, str | bytes], Path]
PRIVATE_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
SHA256 = "9df6a457cbe94d44f3cdafd5e467741e30057b7e680f1404cc0f361e22e7924c"
MNEMONIC = "abandon ability able about above absent absorb abstract absurd abuse access accident"


def _csv(rows: list[dict[str, object]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _pii(write: Writer, texts: list[str], column: str = "note") -> dict[str, tuple[int, list[int]]]:
    """{rule: (count, rows)} of the PII findings in a one-text-column CSV holding ``texts``."""
    rows = [{"id": i, column: text} for i, text in enumerate(texts)]
    report = validate(write("d.csv", _csv(rows)), thresholds={"max_duplicate_ratio": 1})
    return {f.rule: (f.count, f.rows) for f in report.findings if f.rule.startswith("pii.")}


POSITIVE = {
    "email": ["contact jane.doe@example.org soon", "BOB+tag@mail.co.uk"],
    "phone": ["+14155552671", "call (415) 555-2671", "office 020 7946 0958", "+44 20 7946 0958"],
    "ssn": ["ssn 123-45-6789 on file", "078-05-1120"],
    "card": ["4111 1111 1111 1111", "paid with 5500-0000-0000-0004", "4012888888881881"],
    "ipv4": ["from 192.168.1.20", "8.8.8.8."],
    "ipv6": ["2001:db8::8a2e:370:7334", "host fe80::1 up", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"],
    "eth_private_key": [f"key={PRIVATE_KEY}"],
    "mnemonic": [f"my words: {MNEMONIC}", MNEMONIC.replace(" ", "  ") + " abandon ability"],
}
LOOK_ALIKES = {
    "email": ["support@localhost", "follow @hokusai", "a@b"],
    "phone": [
        "order 1234567890",
        "2024-01-15",
        "07/08/2019",
        "555-123-4567",
        "3.14159265",
        "+12",
        "000-12-3456",
    ],
    "ssn": ["000-12-3456", "900-12-3456", "666-12-3456", "123-00-4567", "123-456-7890"],
    "card": ["4111111111111112", "1234 5678 9012 3456", "4111 1111 1111"],
    "ipv4": ["999.10.1.1", "version 1.2.3.4.5", "v1.2.3.4", "1.2.3"],
    "ipv6": ["12:30:45", "00:1A:2B:3C:4D:5E", "std::vector", "a :: b"],
    "eth_private_key": [f"tx {PRIVATE_KEY[:42]}", SHA256, "0x" + "f" * 64, PRIVATE_KEY + "00"],
    "mnemonic": [
        "the quick brown fox jumps over the lazy dog and then runs away home",
        " ".join(MNEMONIC.split()[:11]),
    ],
}


@pytest.mark.parametrize("kind", sorted(POSITIVE))
def test_each_pii_kind_is_found_with_its_rows(write: Writer, kind: str) -> None:
    texts = ["nothing here", *POSITIVE[kind]]
    found = _pii(write, texts)
    assert found[f"pii.{kind}"] == (len(POSITIVE[kind]), list(range(2, len(texts) + 1)))


@pytest.mark.parametrize("kind", sorted(LOOK_ALIKES))
def test_look_alikes_of_each_kind_are_not_pii(write: Writer, kind: str) -> None:
    assert _pii(write, LOOK_ALIKES[kind]) == {}


def test_five_digit_product_codes_and_zip_like_numbers_are_not_pii(write: Writer) -> None:
    rows = [{"sku": f"SKU {10000 + i}", "code": 90210 + i, "qty": i} for i in range(50)]
    report = validate(write("products.csv", _csv(rows)))
    assert [f.rule for f in report.findings if f.rule.startswith("pii.")] == []


def test_card_numbers_stored_as_integers_are_found(write: Writer) -> None:
    rows = [{"n": 4111111111111111}, {"n": 4111111111111112}, {"n": 12345}, {"n": 5500000000000004}]
    report = validate(write("cards.csv", _csv(rows)))
    assert [(f.column, f.rule, f.count, f.rows) for f in report.findings] == [("n", "pii.card", 2, [1, 4])]


def test_bare_hex_key_counts_only_in_a_column_named_like_a_key(write: Writer) -> None:
    assert _pii(write, [SHA256], column="checksum") == {}
    assert _pii(write, [SHA256], column="private_key") == {"pii.eth_private_key": (1, [1])}


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("email", "email"), ("EmailAddress", "email"), ("phone_number", "phone"), ("mobile", "phone"),
        ("ssn", "ssn"), ("dob", "dob"), ("date_of_birth", "dob"), ("name", "name"), ("first_name", "name"),
        ("customerName", "name"), ("address", "address"), ("home_address", "address"),
    ],
)  # fmt: skip
def test_column_names_hint_at_pii(column: str, kind: str) -> None:
    assert name_hint(column) == kind


@pytest.mark.parametrize(
    "column",
    ["product_name", "filename", "hostname", "username", "ip_address", "wallet_address", "age", "named"],
)
def test_look_alike_column_names_are_not_hints(column: str) -> None:
    assert name_hint(column) is None


def test_a_hinted_text_column_counts_every_value(write: Writer) -> None:
    rows = [{"id": 1, "full_name": "Ann Lee"}, {"id": 2, "full_name": ""}, {"id": 3, "full_name": "Bo"}]
    report = validate(write("people.csv", _csv(rows)))
    assert [(f.column, f.rule, f.count, f.rows) for f in report.findings if f.rule.startswith("pii")] == [
        ("full_name", "pii.column_name.name", 2, [1, 3])
    ]


def test_a_date_of_birth_column_is_pii_but_a_boolean_email_flag_is_not(write: Writer) -> None:
    rows = [{"dob": "1990-01-02", "email": "true"}, {"dob": "1985-03-04", "email": "false"}]
    report = validate(write("d.csv", _csv(rows)))
    assert {(f.column, f.rule) for f in report.findings if f.rule.startswith("pii")} == {
        ("dob", "pii.column_name.dob")
    }


def test_pii_makes_the_data_invalid_and_allow_pii_makes_it_a_warning(write: Writer) -> None:
    path = write("d.csv", _csv([{"id": 1, "note": "jane@example.org"}, {"id": 2, "note": "ok"}]))
    strict, lenient = validate(path), validate(path, allow_pii=True)
    assert (strict.valid, [f.severity for f in strict.findings]) == (False, ["error"])
    assert (lenient.valid, [f.severity for f in lenient.findings]) == (True, ["warning"])


def test_a_schema_can_exempt_a_column_from_the_scan(write: Writer) -> None:
    path = write("d.csv", _csv([{"tx": PRIVATE_KEY, "n": 1}, {"tx": PRIVATE_KEY, "n": 2}]))
    schema = Schema.model_validate(
        {"columns": {"tx": {"type": "string", "pii": False}, "n": {"type": "int"}}}
    )
    assert validate(path, schema=schema).valid


def test_pii_is_found_in_parquet_and_json_too(write: Writer, tmp_path: Path) -> None:
    records = [{"note": "mail jane@example.org"}, {"note": "none"}]
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "d.parquet")
    paths = [tmp_path / "d.parquet", write("d.json", json.dumps(records))]
    for path in paths:
        assert [(f.rule, f.rows) for f in validate(path).findings] == [("pii.email", [1])], path


def test_the_report_never_contains_the_matched_text(cli: Callable, write: Writer) -> None:
    secret = "jane.doe@example.org"
    path = write("d.csv", _csv([{"id": 1, "note": f"write to {secret}"}, {"id": 2, "note": "x"}]))
    result = cli("validate", path, "--json")
    assert result.code == 1
    assert result.json()["findings"][0]["rule"] == "pii.email"
    assert secret not in result.out + result.err
