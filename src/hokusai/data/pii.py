"""PII detection in text columns, with column-name hints; reports counts and rows, never the text.

Kinds (in priority order; a span claimed by one kind is not counted again by a later one):

- ``eth_private_key``: ``0x`` + 64 hex digits that form a valid secp256k1 scalar (bare 64-hex only
  in columns named like a key/secret/seed; a bare SHA-256 digest is not a key);
- ``mnemonic``: 12 or more consecutive BIP-39 English words;
- ``email``: ``local@domain.tld``;
- ``card``: 13-19 digits (spaces/dashes allowed), issuer digit 2-6, Luhn-valid; also integer columns;
- ``ssn``: ``AAA-GG-SSSS`` with a valid area (not 000, 666, 9xx), group (not 00) and serial (not 0000);
- ``ipv4`` (every octet ≤ 255) and ``ipv6`` (parsed by ``ipaddress``);
- ``phone``: E.164 (``+`` and 8-15 digits), North American ``(415) 555-2671``/``415-555-2671``, and
  national trunk-0 forms such as ``020 7946 0958``; bare digit runs are not phone numbers.

Column-name hints (``email``, ``phone``, ``ssn``, ``dob``, ``name``, ``address``) flag every value
of a text, integer or date column so named (``product_name``, ``filename``, ``ip_address`` are not hints).

Each text column is first filtered with one RE2 pass (pyarrow); only rows with a candidate are
confirmed in Python (checksums, ranges, overlaps).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hokusai.data.profile import EXAMPLE_ROWS
from hokusai.data.report import FindingSink
from hokusai.data.values import is_text, plain

Span = tuple[int, int, str]
Method = Literal["mask", "hash"]
KIND_LABELS = {
    "eth_private_key": "Ethereum private keys",
    "mnemonic": "mnemonic-like phrases (12+ BIP-39 words)",
    "email": "e-mail addresses",
    "card": "payment card numbers (Luhn-valid)",
    "ssn": "US social security numbers",
    "ipv4": "IPv4 addresses",
    "ipv6": "IPv6 addresses",
    "phone": "phone numbers",
}
HINT_KINDS = ("email", "phone", "ssn", "dob", "name", "address")
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
REDACTION_TOKEN = r"^\[(?:REDACTED:[a-z0-9_]+|HMAC:[a-z0-9_]+:[a-z2-7]{16})\]$"


@cache
def bip39_words() -> frozenset[str]:
    """The BIP-39 English word list (shipped with eth-account)."""
    spec = importlib.util.find_spec("eth_account")  # locate the package without importing it (slow)
    assert spec is not None and spec.origin is not None
    text = (Path(spec.origin).parent / "hdaccount" / "wordlist" / "english.txt").read_text("utf-8")
    return frozenset(text.split())


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _eth_key(match: re.Match[str]) -> tuple[int, int] | None:
    value = int(match.group().removeprefix("0x"), 16)
    return match.span() if 0 < value < _SECP256K1_N else None


def _mnemonic(match: re.Match[str]) -> tuple[int, int] | None:
    words = bip39_words()
    run: list[re.Match[str]] = []
    best: list[re.Match[str]] = []
    for word in re.finditer(r"[a-z]+", match.group()):
        run = [*run, word] if word.group() in words else []
        if len(run) > len(best):
            best = run
    if len(best) < 12:
        return None
    return match.start() + best[0].start(), match.start() + best[-1].end()


def _card(match: re.Match[str]) -> tuple[int, int] | None:
    digits = re.sub(r"\D", "", match.group())
    ok = 13 <= len(digits) <= 19 and digits[0] in "23456" and _luhn(digits)
    return match.span() if ok else None


def _ssn(match: re.Match[str]) -> tuple[int, int] | None:
    area, group, serial = match.group(1), match.group(2), match.group(3)
    ok = area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"
    return match.span() if ok else None


def _ipv4(match: re.Match[str]) -> tuple[int, int] | None:
    return match.span() if all(int(octet) <= 255 for octet in match.group().split(".")) else None


def _ipv6(match: re.Match[str]) -> tuple[int, int] | None:
    text = match.group()
    if ("::" not in text and text.count(":") != 7) or sum(1 for group in text.split(":") if group) < 2:
        return None
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return None
    return match.span()


def _phone(match: re.Match[str]) -> tuple[int, int] | None:
    text = match.group()
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        ok = 8 <= len(digits) <= 15
    elif text.startswith("0"):
        ok = 9 <= len(digits) <= 12
    else:  # North American numbering plan: area code and exchange start with 2-9
        ok = len(digits) == 10 and digits[0] not in "01" and digits[3] not in "01"
    return match.span() if ok else None


@dataclass(frozen=True)
class Detector:
    """A PII kind: an RE2 prefilter (pyarrow), the Python pattern, and a confirmation step."""

    kind: str
    prefilter: str
    pattern: re.Pattern[str]
    confirm: Callable[[re.Match[str]], tuple[int, int] | None] | None = None


_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
DETECTORS: tuple[Detector, ...] = (
    Detector(
        "eth_private_key",
        r"0x[0-9a-fA-F]{64}",
        re.compile(r"(?<![0-9A-Za-z])0x[0-9a-fA-F]{64}(?![0-9A-Za-z])"),
        _eth_key,
    ),
    Detector(
        "mnemonic",
        r"(?:[a-z]{3,8}\s+){11}[a-z]{3,8}",
        re.compile(r"(?<![A-Za-z])(?:[a-z]{3,8}\s+){11,}[a-z]{3,8}(?![A-Za-z])"),
        _mnemonic,
    ),
    Detector("email", _EMAIL, re.compile(_EMAIL)),
    Detector(
        "card", r"\d(?:[ -]?\d){12,18}", re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-]|\.\d)"), _card
    ),
    Detector("ssn", r"\d{3}-\d{2}-\d{4}", re.compile(r"(?<![\w-])(\d{3})-(\d{2})-(\d{4})(?![\w-])"), _ssn),
    Detector(
        "ipv4",
        r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}",
        re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)"),
        _ipv4,
    ),
    Detector(
        "ipv6",
        r"[0-9A-Fa-f]::|::[0-9A-Fa-f]|[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7}",
        re.compile(r"(?<![\w:])[0-9A-Fa-f:]{2,39}(?![\w:])"),
        _ipv6,
    ),
    Detector(
        "phone",
        r"\+[1-9]\d|\d{3}[ .-]\d{4}|\(\d{3}\)|0[1-9]\d{0,3}[ /-]\d{2}",
        re.compile(
            r"(?<![\w+])\+[1-9][\d .()-]{6,22}\d(?!\d)"
            r"|(?<![\w.+-])(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-]|\.\d)"
            r"|(?<![\w.+-])0[1-9]\d{0,3}(?:[ /-]\d{2,8}){1,4}(?![\w-]|\.\d)"
        ),
        _phone,
    ),
)
_BARE_KEY = Detector(
    "eth_private_key",
    r"[0-9a-fA-F]{64}",
    re.compile(r"(?<![0-9A-Za-z])(?:0x)?[0-9a-fA-F]{64}(?![0-9A-Za-z])"),
    _eth_key,
)
_CARD = next(d for d in DETECTORS if d.kind == "card")


def _tokens(column: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", column).lower()
    return [token for token in re.split(r"[^a-z0-9]+", spaced) if token]


_PERSON = {
    "first",
    "last",
    "full",
    "given",
    "middle",
    "maiden",
    "family",
    "sur",
    "customer",
    "user",
    "patient",
    "person",
    "contact",
    "client",
    "employee",
    "member",
    "owner",
    "holder",
    "cardholder",
    "legal",
}
_NAME_WORDS = {
    "firstname",
    "lastname",
    "fullname",
    "surname",
    "givenname",
    "middlename",
    "maidenname",
    "familyname",
    "forename",
}
_NOT_POSTAL = {
    "ip",
    "ipv4",
    "ipv6",
    "mac",
    "wallet",
    "eth",
    "contract",
    "memory",
    "web",
    "url",
    "server",
    "host",
    "btc",
    "bitcoin",
    "email",
    "mail",
    "token",
    "hardware",
}


def name_hint(column: str) -> str | None:
    """The PII kind a column's name suggests: email, phone, ssn, dob, name, address (or None)."""
    tokens = _tokens(column)
    words, joined = set(tokens), "".join(tokens)
    if (
        "email" in words
        or "emails" in words
        or joined in ("email", "emailaddress", "mail")
        or "email" in joined
    ):
        return "email"
    if words & {"phone", "telephone", "tel", "mobile", "cellphone", "fax", "msisdn"} or joined.endswith(
        ("phonenumber", "mobilenumber", "cellnumber")
    ):
        return "phone"
    if "ssn" in words or "socialsecurity" in joined:
        return "ssn"
    if (
        "dob" in words
        or "birth" in words
        or any(w in joined for w in ("birthdate", "dateofbirth", "birthday"))
    ):
        return "dob"
    if (
        tokens == ["name"]
        or joined in _NAME_WORDS
        or (len(tokens) >= 2 and tokens[-1] == "name" and tokens[-2] in _PERSON)
    ):
        return "name"
    if words & {"address", "addr", "street"} and not words & _NOT_POSTAL:
        return "address"
    return None


def is_key_column(column: str) -> bool:
    """A column named like a secret key, where a bare 64-hex value counts as a private key."""
    words = set(_tokens(column))
    return bool(words & {"private", "privkey", "secret", "seed"}) or "privatekey" in "".join(_tokens(column))


@dataclass(frozen=True)
class ColumnPlan:
    """How one column is scanned: ``text`` (all kinds), ``int`` (cards only), or only by its name."""

    role: Literal["text", "int", "other"]
    hint: str | None
    key_column: bool

    @property
    def detectors(self) -> tuple[Detector, ...]:
        if self.role == "int":
            return (_CARD,)
        if self.role == "text":
            return (_BARE_KEY, *DETECTORS[1:]) if self.key_column else DETECTORS
        return ()


def column_plan(name: str, data_type: pa.DataType) -> ColumnPlan | None:
    """The scan plan of a column, or None when nothing in it can be PII (numbers, booleans)."""
    role: Literal["text", "int", "other"]
    if is_text(data_type):
        role = "text"
    elif pa.types.is_integer(data_type):
        role = "int"
    elif pa.types.is_timestamp(data_type) or pa.types.is_date(data_type) or pa.types.is_null(data_type):
        role = "other"
    else:
        return None
    plan = ColumnPlan(role, name_hint(name), is_key_column(name))
    return plan if plan.detectors or plan.hint else None


def find_spans(text: str, detectors: Iterable[Detector] = DETECTORS) -> list[Span]:
    """``(start, end, kind)`` of every confirmed PII match in ``text``, without overlaps."""
    spans: list[Span] = []
    for detector in detectors:
        for match in detector.pattern.finditer(text):
            span = detector.confirm(match) if detector.confirm else match.span()
            if span and not any(start < span[1] and span[0] < end for start, end, _ in spans):
                spans.append((span[0], span[1], detector.kind))
    return spans


def _mask(values: pa.Array) -> np.ndarray:
    return values.fill_null(False).to_numpy(zero_copy_only=False)


def candidate_rows(column: pa.Array, detectors: tuple[Detector, ...]) -> np.ndarray:
    """Row indices where any detector's RE2 prefilter matches."""
    if not len(column) or column.null_count == len(column):
        return np.empty(0, dtype=np.int64)
    pattern = "|".join(f"(?:{d.prefilter})" for d in detectors)
    return np.flatnonzero(_mask(pc.match_substring_regex(column, pattern)))


def scan_text(column: pa.Array, detectors: tuple[Detector, ...]) -> dict[str, list[int]]:
    """Row indices (within ``column``) per PII kind found in a text column."""
    found: dict[str, list[int]] = {}
    rows = candidate_rows(column, detectors)
    if not len(rows):
        return found
    for row, text in zip(rows, column.take(pa.array(rows)).to_pylist(), strict=True):
        for kind in dict.fromkeys(kind for _, _, kind in find_spans(text, detectors)):
            found.setdefault(kind, []).append(int(row))
    return found


_POW10 = np.array([10**k for k in range(20)], dtype=np.uint64)


def card_rows_in_ints(column: pa.Array) -> np.ndarray:
    """Row indices of integers that are card numbers (13-19 digits, issuer 2-6, Luhn-valid)."""
    values = column.cast(pa.int64()).fill_null(0).to_numpy()
    rows = np.flatnonzero(values >= 10**12)
    if not len(rows):
        return rows
    numbers = values[rows].astype(np.uint64)
    length = 1 + sum((numbers >= _POW10[k]).astype(np.int64) for k in range(1, 19))
    total = np.zeros(len(numbers), dtype=np.int64)
    rest = numbers.copy()
    for position in range(19):
        digit = (rest % np.uint64(10)).astype(np.int64)
        rest //= np.uint64(10)
        if position % 2:
            digit = np.where(digit > 4, digit * 2 - 9, digit * 2)
        total += np.where(position < length, digit, 0)
    first = numbers // _POW10[length - 1]
    valid = (total % 10 == 0) & (length >= 13) & (first >= 2) & (first <= 6)
    return rows[valid]


def hinted_rows(column: pa.Array) -> np.ndarray:
    """Rows of a hinted column that hold a value (not null, not empty, not already redacted)."""
    present = ~column.is_null().to_numpy(zero_copy_only=False)
    if is_text(column.type):
        present &= _mask(pc.not_equal(pc.utf8_trim_whitespace(column), ""))
        present &= ~_mask(pc.match_substring_regex(column, REDACTION_TOKEN))
    return np.flatnonzero(present)


class PiiScanner:
    """Scans each batch of one file and reports PII counts per column and kind to a sink."""

    def __init__(
        self,
        arrow_schema: pa.Schema,
        file: str,
        sink: FindingSink,
        *,
        allow_pii: bool = False,
        exempt: Iterable[str] = (),
    ) -> None:
        self.file, self.sink = file, sink
        self.severity: Literal["error", "warning"] = "warning" if allow_pii else "error"
        skip = set(exempt)
        plans = {f.name: column_plan(f.name, f.type) for f in arrow_schema if f.name not in skip}
        self.plans = {name: plan for name, plan in plans.items() if plan is not None}

    def _report(
        self, column: str, rule: str, rows: Iterable[int], count: int, offset: int, what: str
    ) -> None:
        if count:
            examples = [int(row) + offset + 1 for row in list(rows)[:EXAMPLE_ROWS]]
            self.sink.add(self.file, column, rule, count, examples, self.severity, what)

    def add(self, batch: pa.RecordBatch, offset: int) -> None:
        for name, plan in self.plans.items():
            column = plain(batch.column(name))
            if plan.hint:
                rows = hinted_rows(column)
                self._report(
                    name,
                    f"pii.column_name.{plan.hint}",
                    rows,
                    len(rows),
                    offset,
                    f"the column name suggests {plan.hint} data",
                )
            if plan.role == "int":
                cards = card_rows_in_ints(column)
                self._report(name, "pii.card", cards, len(cards), offset, KIND_LABELS["card"])
            elif plan.role == "text":
                for kind, found in scan_text(column, plan.detectors).items():
                    self._report(name, f"pii.{kind}", found, len(found), offset, KIND_LABELS[kind])


def redaction_token(kind: str, text: str, method: Method, key: bytes | None) -> str:
    """What replaces a match: ``[REDACTED:kind]``, or ``[HMAC:kind:<16 base32>]`` keyed by ``key``."""
    if method == "mask":
        return f"[REDACTED:{kind}]"
    assert key is not None
    digest = hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()
    return f"[HMAC:{kind}:{base64.b32encode(digest[:10]).decode('ascii').lower()}]"


def redact_text(text: str, plan: ColumnPlan, method: Method, key: bytes | None) -> tuple[str, list[str]]:
    """``text`` with PII replaced per ``plan`` (a hinted column loses the whole value); the kinds hit."""
    if plan.hint and text.strip() and not re.match(REDACTION_TOKEN, text):
        return redaction_token(plan.hint, text, method, key), [plan.hint]
    spans = find_spans(text, plan.detectors)
    for start, end, kind in sorted(spans, reverse=True):
        text = text[:start] + redaction_token(kind, text[start:end], method, key) + text[end:]
    return text, [kind for _, _, kind in spans]
