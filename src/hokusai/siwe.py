"""EIP-4361 ("Sign-In with Ethereum") messages: parse, format, and recover the signer (EIP-191).

Parsing follows the EIP's ABNF line by line; anything else is ``message_malformed``. Its ``DIGIT`` is ASCII
``0-9`` only: every number and time is read by ``ascii_decimal`` or the ASCII ``_RFC3339`` pattern, never by
``str.isdigit``/``int`` alone, which also take U+00B2 (superscript two), U+0661 (Arabic-Indic one) or
U+FF16 (fullwidth six). Signature recovery
goes through eth-account (its eth-keys backend is coincurve when installed, ~50x faster than pure Python).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from eth_account import Account
from eth_account.messages import encode_defunct

from hokusai.errors import Unauthorized

HEADER_SUFFIX = " wants you to sign in with your Ethereum account:"
_DOMAIN = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://)?([A-Za-z0-9.\-\[\]:@%_~!$&'()*+,;=]+)$")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_NONCE = re.compile(r"[A-Za-z0-9]{8,64}")
_SIGNATURE = re.compile(r"(0x)?[0-9a-fA-F]{130}")
_DECIMAL = re.compile(r"[0-9]+")  # ABNF DIGIT; re's \d and str.isdigit also match other scripts' digits
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
MAX_DECIMAL_DIGITS = 78  # a uint256 (EIP-155 chain ids are at most that) has 78 decimal digits
_FIELDS_REQUIRED = ("URI", "Version", "Chain ID", "Nonce", "Issued At")
_FIELDS_OPTIONAL = ("Expiration Time", "Not Before", "Request ID")


def _malformed(reason: str) -> Unauthorized:
    return Unauthorized(
        f"the sign-in message is not a valid EIP-4361 message: {reason}", code="message_malformed"
    )


def ascii_decimal(text: str, max_digits: int = MAX_DECIMAL_DIGITS) -> int | None:
    """The value of ``text`` when it is 1 to ``max_digits`` ASCII digits (ABNF ``1*DIGIT``), else None.

    The one parser of untrusted decimal text here: ``int`` reads U+0661 (Arabic-Indic one) as 1 and
    ``str.isdigit`` accepts U+00B2 (superscript two), which ``int`` then refuses with a ValueError.
    """
    if len(text) > max_digits or not _DECIMAL.fullmatch(text):
        return None
    return int(text)


def _timestamp(name: str, value: str) -> datetime:
    try:
        if not _RFC3339.fullmatch(value):
            raise ValueError(value)
        parsed = datetime.fromisoformat(value.upper())
    except ValueError:
        raise _malformed(
            f"{name} {value!r} is not an RFC 3339 time (YYYY-MM-DDTHH:MM:SS, then Z or a time zone "
            "offset, in ASCII digits)"
        ) from None
    return parsed


def _rfc3339(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class SiweMessage:
    """The fields of one EIP-4361 message (times are timezone-aware)."""

    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: datetime
    statement: str | None = None
    version: str = "1"
    expiration_time: datetime | None = None
    not_before: datetime | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = field(default=())
    scheme: str | None = None

    def to_text(self) -> str:
        """The message exactly as a wallet shows and signs it (EIP-4361 layout)."""
        origin = f"{self.scheme}://{self.domain}" if self.scheme else self.domain
        lines = [origin + HEADER_SUFFIX, self.address, ""]
        if self.statement is not None:
            lines += [self.statement, ""]
        else:
            lines += [""]
        lines += [
            f"URI: {self.uri}",
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {_rfc3339(self.issued_at)}",
        ]
        if self.expiration_time is not None:
            lines.append(f"Expiration Time: {_rfc3339(self.expiration_time)}")
        if self.not_before is not None:
            lines.append(f"Not Before: {_rfc3339(self.not_before)}")
        if self.request_id is not None:
            lines.append(f"Request ID: {self.request_id}")
        if self.resources:
            lines += ["Resources:", *(f"- {resource}" for resource in self.resources)]
        return "\n".join(lines)


def _header(line: str) -> tuple[str | None, str]:
    if not line.endswith(HEADER_SUFFIX):
        raise _malformed("the first line must end with 'wants you to sign in with your Ethereum account:'")
    origin = line[: -len(HEADER_SUFFIX)]
    match = _DOMAIN.match(origin)
    if match is None or not match.group(1):
        raise _malformed(f"{origin!r} is not a domain")
    scheme = origin.split("://", 1)[0] if "://" in origin else None
    return scheme, match.group(1)


def _statement(lines: list[str]) -> tuple[str | None, int]:
    """The optional statement and the index of the ``URI:`` line (tolerates the blank-line variants)."""
    if len(lines) > 3 and lines[3].startswith("URI: "):
        return None, 3
    if len(lines) > 4 and lines[3] == "" and lines[4].startswith("URI: "):
        return None, 4
    if len(lines) > 5 and lines[3] and lines[4] == "" and lines[5].startswith("URI: "):
        return lines[3], 5
    raise _malformed("expected an optional statement, a blank line, then 'URI: ...'")


def parse_siwe(text: str) -> SiweMessage:
    """Parse an EIP-4361 message; anything off the grammar raises ``Unauthorized(message_malformed)``."""
    lines = text.split("\n")
    if len(lines) < 8 or "\r" in text:
        raise _malformed("too few lines (or CR line endings)")
    scheme, domain = _header(lines[0])
    address = lines[1]
    if not _ADDRESS.fullmatch(address):
        raise _malformed("the second line must be the 0x-prefixed Ethereum address")
    if lines[2] != "":
        raise _malformed("a blank line must follow the address")
    statement, index = _statement(lines)
    values: dict[str, str] = {}
    for name in _FIELDS_REQUIRED:
        prefix = f"{name}: "
        if index >= len(lines) or not lines[index].startswith(prefix):
            raise _malformed(f"expected '{name}: ...' on line {index + 1}")
        values[name] = lines[index][len(prefix) :]
        index += 1
    for name in _FIELDS_OPTIONAL:
        prefix = f"{name}: "
        if index < len(lines) and lines[index].startswith(prefix):
            values[name] = lines[index][len(prefix) :]
            index += 1
    resources: list[str] = []
    if index < len(lines) and lines[index] == "Resources:":
        index += 1
        while index < len(lines) and lines[index].startswith("- "):
            resources.append(lines[index][2:])
            index += 1
    if index != len(lines):
        raise _malformed(f"unexpected content on line {index + 1}")
    if values["Version"] != "1":
        raise _malformed(f"version {values['Version']!r} is not 1")
    chain_id = ascii_decimal(values["Chain ID"])
    if chain_id is None:
        raise _malformed(f"chain id {values['Chain ID']!r} is not a number of ASCII digits 0-9")
    if not _NONCE.fullmatch(values["Nonce"]):
        raise _malformed("the nonce must be 8 to 64 letters and digits")
    if not values["URI"] or any(c.isspace() for c in values["URI"]):
        raise _malformed("the URI is empty or contains spaces")
    return SiweMessage(
        domain=domain,
        address=address,
        uri=values["URI"],
        chain_id=chain_id,
        nonce=values["Nonce"],
        issued_at=_timestamp("Issued At", values["Issued At"]),
        statement=statement,
        expiration_time=_timestamp("Expiration Time", values["Expiration Time"])
        if "Expiration Time" in values
        else None,
        not_before=_timestamp("Not Before", values["Not Before"]) if "Not Before" in values else None,
        request_id=values.get("Request ID"),
        resources=tuple(resources),
        scheme=scheme,
    )


SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


def recover_signer(message: str, signature: str) -> str:
    """The EIP-55 address whose key made the EIP-191 ``personal_sign`` ``signature`` over ``message``.

    High-s signatures are refused (EIP-2): for every signature (r, s) the twin (r, n - s) is valid too, so
    only the low-s one is accepted, as Ethereum transactions and OpenZeppelin's ECDSA do.
    """
    if not _SIGNATURE.fullmatch(signature):
        raise Unauthorized(
            "X-ETH-Signature must be a 65-byte hex signature (0x + 130 hex digits)",
            code="signature_malformed",
        )
    if int(signature.removeprefix("0x")[64:128], 16) > SECP256K1_HALF_N:
        raise Unauthorized(
            "the signature has a high s value; EIP-2 allows only low-s signatures", code="signature_high_s"
        )
    try:
        return Account.recover_message(encode_defunct(text=message), signature=signature)
    except Exception:  # eth-keys rejects an out-of-range r/s/v with various exception types
        raise Unauthorized(
            "the signature is not a valid secp256k1 signature", code="signature_malformed"
        ) from None
