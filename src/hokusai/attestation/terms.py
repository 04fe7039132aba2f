"""Contribution terms: the EIP-712 statement a contributor's wallet signs when it offers data to a model.

"Wallet W offers the data of SHA-256 D to platform model M under licence L, allowing commercial use C
and derivatives V, requiring attribution A; the offer expires at T"::

    domain  {name: "HokusaiContributionTerms", version: "1", chainId, verifyingContract (when set)}
    ContributionTerms(bytes32 datasetHash,string model,string license,bool commercialUse,
                      bool derivatives,bool attribution,uint256 deadline)

The domain is the one the platform's attestations are signed under (``HOKUSAI_CHAIN_ID`` and the
``DeltaVerifier`` contract that pays), so an offer is bound to where it is paid. ``license`` is an SPDX
identifier (``CC-BY-4.0``, ``CC0-1.0``, ``LicenseRef-…``) or a terms document by its SHA-256
(``sha256:<64 hex>``). The terms' hash is the EIP-712 digest of the signed message (``0x`` + 64 hex): what
the API stores and what each run's evaluation report records per contribution, so anyone holding the
attestation and the signed terms recomputes it (:func:`terms_hash`) and recovers the wallet that signed it.

:class:`TermsRequirement` is what a model's benchmark spec requires of every offer; :func:`shortfalls`
names what an offer lacks. :data:`LICENCE_FAMILIES` says what known SPDX licence families imply of the
rights, and :func:`contradictions` names where an offer's flags deny its own licence (a non-commercial
licence offered for commercial use, say). :func:`check_offer` is the whole admission rule, one error code
per reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hokusai.attestation.eip712 import canonical_signature, domain_type, recover, typed_data_digest
from hokusai.errors import Forbidden, HokusaiError, InvalidData, InvalidInput
from hokusai.wallet import checksum_address

DOMAIN_NAME = "HokusaiContributionTerms"
DOMAIN_VERSION = "1"
PRIMARY_TYPE = "ContributionTerms"
TYPES: dict[str, list[dict[str, str]]] = {
    PRIMARY_TYPE: [
        {"name": "datasetHash", "type": "bytes32"},
        {"name": "model", "type": "string"},
        {"name": "license", "type": "string"},
        {"name": "commercialUse", "type": "bool"},
        {"name": "derivatives", "type": "bool"},
        {"name": "attribution", "type": "bool"},
        {"name": "deadline", "type": "uint256"},
    ]
}
LICENSE_PATTERN = r"^(?:[A-Za-z0-9][A-Za-z0-9.+-]{0,63}|sha256:[0-9a-f]{64})$"
DEADLINE_MAX = 2**53 - 1  # canonical JSON (the report) holds integers up to here
_HASH = re.compile(r"^0x[0-9a-f]{64}$")
# Known SPDX licence families and the right each fixes: (pattern of the id, the Terms field, the value the
# licence implies, why). SPDX ids match case-insensitively; LicenseRef-/DocumentRef- ids and terms by hash
# are the parties' own and imply nothing. CC0-1.0 is in no family: a contributor may still ask attribution.
LICENCE_FAMILIES: tuple[tuple[re.Pattern[str], str, bool, str], ...] = (
    (re.compile(r"^CC-BY(?:-|$)", re.I), "attribution", True,
     "Creative Commons BY licences require attribution"),
    (re.compile(r"^ODC-By-", re.I), "attribution", True,
     "the Open Data Commons Attribution licence requires it"),
    (re.compile(r"^CC-BY(?:-[A-Z]+)*-NC(?:-|$)", re.I), "commercial_use", False,
     "non-commercial (NC) licences forbid commercial use"),
    (re.compile(r"^PolyForm-Noncommercial-", re.I), "commercial_use", False,
     "the PolyForm Noncommercial licence forbids commercial use"),
    (re.compile(r"^CC-BY(?:-[A-Z]+)*-ND(?:-|$)", re.I), "derivatives", False,
     "no-derivatives (ND) licences forbid derived works"),
)  # fmt: skip


License = Annotated[str, Field(pattern=LICENSE_PATTERN)]


class Terms(BaseModel):
    """One offer's values (the message of :data:`TYPES`, in snake case)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the contributed file.")
    model: str = Field(min_length=1, max_length=128, description="The platform model's name.")
    license: str = Field(
        pattern=LICENSE_PATTERN, description="An SPDX id, or a terms document as sha256:<hex>."
    )
    commercial_use: bool = Field(description="The data may be used commercially.")
    derivatives: bool = Field(description="Derived works (trained models) may be made and shared.")
    attribution: bool = Field(description="Uses must credit the contributor.")
    deadline: int = Field(ge=0, le=DEADLINE_MAX, description="Unix time after which the offer expires.")


class TermsRequirement(BaseModel):
    """What a model's benchmark spec requires of every contribution's signed terms (defaults: anything)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    licenses: tuple[License, ...] = Field(
        (), max_length=32, description="Licences accepted (SPDX ids or sha256:<hex>); empty: any."
    )
    commercial_use: bool = Field(False, description="Contributions must allow commercial use.")
    derivatives: bool = Field(False, description="Contributions must allow derivatives.")
    accepts_attribution: bool = Field(
        True, description="Contributions may require attribution (false: only terms that do not)."
    )


def terms_domain(chain_id: int, verifying_contract: str | None = None) -> dict[str, Any]:
    """The terms' EIP-712 domain on a chain (and for the paying contract when there is one)."""
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id < 1:
        raise InvalidInput(f"chain id must be a positive integer, not {chain_id!r}", code="terms_invalid")
    domain: dict[str, Any] = {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id}
    if verifying_contract:
        domain["verifyingContract"] = checksum_address(verifying_contract)
    return domain


def terms_message(terms: Terms, domain: Mapping[str, Any]) -> dict[str, Any]:
    """The full ``eth_signTypedData_v4`` JSON of an offer."""
    return {
        "types": {"EIP712Domain": domain_type(domain), **TYPES},
        "primaryType": PRIMARY_TYPE,
        "domain": dict(domain),
        "message": {
            "datasetHash": "0x" + terms.dataset_hash,
            "model": terms.model,
            "license": terms.license,
            "commercialUse": terms.commercial_use,
            "derivatives": terms.derivatives,
            "attribution": terms.attribution,
            "deadline": terms.deadline,
        },
    }


def parse_message(typed_data: Any) -> tuple[Terms, dict[str, Any]]:
    """The offer and the domain of a typed-data JSON object; anything but a ``ContributionTerms`` message
    (other types, unknown or missing fields, bad values) is ``InvalidInput`` ``terms_invalid``."""
    if not isinstance(typed_data, Mapping) or not isinstance(typed_data.get("message"), Mapping):
        raise InvalidInput(
            "the terms must be an EIP-712 typed-data object with a message", code="terms_invalid"
        )
    if typed_data.get("primaryType") != PRIMARY_TYPE:
        raise InvalidInput(f"the terms' primaryType must be {PRIMARY_TYPE!r}", code="terms_invalid")
    types = typed_data.get("types")
    if not isinstance(types, Mapping) or types.get(PRIMARY_TYPE) != TYPES[PRIMARY_TYPE]:
        raise InvalidInput(f"the terms' types are not {PRIMARY_TYPE}'s", code="terms_invalid")
    domain = typed_data.get("domain")
    if not isinstance(domain, Mapping) or (domain.get("name"), domain.get("version")) != (
        DOMAIN_NAME,
        DOMAIN_VERSION,
    ):
        raise InvalidInput(
            f"the terms' domain is not {DOMAIN_NAME!r} version {DOMAIN_VERSION}", code="terms_invalid"
        )
    message = dict(typed_data["message"])
    dataset_hash = message.get("datasetHash")
    values = {
        "dataset_hash": dataset_hash.removeprefix("0x").lower()
        if isinstance(dataset_hash, str)
        else dataset_hash,
        "model": message.get("model"),
        "license": message.get("license"),
        "commercial_use": message.get("commercialUse"),
        "derivatives": message.get("derivatives"),
        "attribution": message.get("attribution"),
        "deadline": message.get("deadline"),
    }
    if set(message) - {
        "datasetHash",
        "model",
        "license",
        "commercialUse",
        "derivatives",
        "attribution",
        "deadline",
    }:
        raise InvalidInput("the terms' message has fields ContributionTerms does not", code="terms_invalid")
    try:
        terms = Terms.model_validate(values, strict=True)
        rebuilt = terms_domain(domain.get("chainId"), domain.get("verifyingContract"))  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise InvalidInput(f"terms {where}: {first['msg']}", code="terms_invalid") from None
    except HokusaiError as exc:
        raise InvalidInput(f"the terms' domain: {exc.message}", code="terms_invalid") from None
    if set(domain) - set(rebuilt):
        raise InvalidInput("the terms' domain has fields it may not", code="terms_invalid")
    return terms, rebuilt


def terms_hash(typed_data: Mapping[str, Any]) -> str:
    """The terms' hash: the EIP-712 digest of the message (``0x`` + 64 hex), what a wallet signs."""
    return "0x" + typed_data_digest(typed_data).hex()


def sign_terms(account: Any, typed_data: Mapping[str, Any]) -> str:
    """0x-hex 65-byte signature (low ``s``) of ``typed_data`` by an eth-account ``LocalAccount``."""
    signed = account.unsafe_sign_hash(typed_data_digest(typed_data))
    return "0x" + canonical_signature(signed.r, signed.s, signed.v).hex()


def terms_signer(typed_data: Mapping[str, Any], signature: str) -> str:
    """The EIP-55 address that signed ``typed_data``; a malformed signature is ``terms_signature_invalid``."""
    try:
        return recover(typed_data_digest(typed_data), signature)
    except InvalidInput as exc:
        raise InvalidInput(
            f"the terms' signature is invalid: {exc.message}", code="terms_signature_invalid"
        ) from None


def shortfalls(terms: Terms, required: TermsRequirement) -> list[str]:
    """What the offer ``terms`` lacks against ``required`` (empty: it suffices)."""
    missing = []
    if required.licenses and terms.license not in required.licenses:
        missing.append(
            f"licence {terms.license} is not one the model accepts ({', '.join(required.licenses)})"
        )
    if required.commercial_use and not terms.commercial_use:
        missing.append("the model requires commercial use")
    if required.derivatives and not terms.derivatives:
        missing.append("the model requires derivatives")
    if not required.accepts_attribution and terms.attribution:
        missing.append("the model accepts no attribution requirement")
    return missing


def contradictions(terms: Terms) -> list[str]:
    """Where the offer's flags contradict its own licence, by :data:`LICENCE_FAMILIES` (empty: none)."""
    found = []
    for pattern, field, implied, why in LICENCE_FAMILIES:
        offered = getattr(terms, field)
        if pattern.search(terms.license) and offered != implied:
            found.append(f"licence {terms.license} with {field} {str(offered).lower()}: {why}")
    return found


def signed_terms(typed_data: Mapping[str, Any], signature: str) -> dict[str, Any]:
    """The stored (and downloadable) form of signed terms: what the bare-machine check reads."""
    return {"typed_data": dict(typed_data), "signature": signature, "hash": terms_hash(typed_data)}


def check_offer(
    typed_data: Any,
    signature: Any,
    *,
    domain: Mapping[str, Any],
    contributor: str,
    dataset_hash: str,
    model: str,
    required: TermsRequirement,
    now: float,
) -> tuple[Terms, dict[str, Any]]:
    """Admit an offer or refuse it with its reason: ``terms_required`` (none), ``terms_invalid`` (not a
    ContributionTerms message), ``terms_mismatch`` (for other data, another model, chain or contract),
    ``terms_signature_invalid``, ``terms_signer_mismatch`` (not ``contributor``'s signature: 403),
    ``terms_expired``, ``terms_insufficient`` (less than ``required``: 422). Returns the offer and its
    canonical signed form (typed data rebuilt from the parsed values, signature, hash)."""
    if typed_data is None or not signature:
        raise InvalidInput(
            "a contribution needs terms signed by the contributor's wallet (form fields terms and "
            "terms_signature: an EIP-712 ContributionTerms message and its signature)",
            code="terms_required",
        )
    terms, offered_domain = parse_message(typed_data)
    if not isinstance(signature, str):
        raise InvalidInput("the terms' signature must be a 0x-hex string", code="terms_signature_invalid")
    if offered_domain != dict(domain):
        raise InvalidInput(
            f"the terms are signed for {offered_domain}, not this platform's domain {dict(domain)}",
            code="terms_mismatch",
        )
    if (terms.dataset_hash, terms.model) != (dataset_hash, model):
        raise InvalidInput(
            f"the terms are for data {terms.dataset_hash} and model {terms.model!r}, not this upload "
            f"({dataset_hash}) to {model!r}",
            code="terms_mismatch",
        )
    canonical = terms_message(terms, domain)  # what is checked is what is stored
    signer = terms_signer(canonical, signature)
    if signer != checksum_address(contributor):
        raise Forbidden(
            f"the terms are signed by {signer}, not by the contributor {checksum_address(contributor)}",
            code="terms_signer_mismatch",
        )
    if terms.deadline < now:
        raise InvalidInput(f"the terms' offer expired at {terms.deadline} (unix time)", code="terms_expired")
    contradicted = contradictions(terms)
    if contradicted:
        raise InvalidInput(
            f"the terms contradict their licence: {'; '.join(contradicted)}",
            code="terms_invalid",
            details={"contradictions": contradicted},
        )
    missing = shortfalls(terms, required)
    if missing:
        raise InvalidData(
            f"the terms offer less than model {model!r} requires: {'; '.join(missing)}",
            code="terms_insufficient",
            details={"shortfalls": missing, "required": required.model_dump(mode="json")},
        )
    return terms, signed_terms(canonical, signature)


def is_terms_hash(value: Any) -> bool:
    """Whether ``value`` has the form of a terms hash (``0x`` + 64 lower-case hex)."""
    return isinstance(value, str) and bool(_HASH.match(value))
