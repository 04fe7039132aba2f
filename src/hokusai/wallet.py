"""Ethereum addresses: format and EIP-55 checksum checks with one clear error."""

from __future__ import annotations

import re

from eth_utils import to_checksum_address

from hokusai.errors import InvalidInput

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def checksum_address(value: str, *, require_checksum: bool = False) -> str:
    """The EIP-55 form of ``value``.

    Mixed-case input must carry a valid checksum (a typo is caught, not silently fixed). All-lower or
    all-upper input has no checksum and is accepted unless ``require_checksum`` is set.
    """
    if not isinstance(value, str) or not _ADDRESS.match(value):
        raise InvalidInput(
            f"{value!r} is not an Ethereum address (0x followed by 40 hex digits)", code="invalid_address"
        )
    checksummed = to_checksum_address(value)
    body = value[2:]
    has_case = body != body.lower() and body != body.upper()
    if (has_case or require_checksum) and value != checksummed:
        raise InvalidInput(
            f"address {value} has a wrong EIP-55 checksum (expected {checksummed}); "
            "copy it again from the wallet",
            code="bad_checksum",
        )
    return checksummed
