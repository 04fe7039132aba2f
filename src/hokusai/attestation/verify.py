"""Verify an attestation: every hash recomputed, the signature recovered, the signer compared.

Checks, in order (each reported with its reason, all run even when one fails):
``schema``, ``report`` (the companion evaluation report belongs to this run), ``pipeline_run_id``
(recomputed from the hashes, wallets and options), ``hash_tree_root``, ``public_inputs_hash``,
``weights`` (the attested weights recomputed from the report's contributor values and standard errors;
all 0 when the report's outcome is not accepted: only an accepted run pays),
``domain`` (the EIP-712 domain the report records is the attestation domain, one the platform
published when a history of published signers is given), ``signature`` (the EIP-712 signature under
that recorded domain recovers the document's ``verification_key``), ``signer`` (that key is the expected
signer, or was published for that very domain and not retired before the document's time), one
``data:<file>`` per data file given (its SHA-256 is attested) and one ``terms:<n>`` per signed terms given
(their EIP-712 hash, recomputed, is the one the report records for a contribution, whose paid wallet
signed them, for that contribution's data).

The domain is never recomputed from today's settings: a document keeps verifying after the platform
changes its verifying contract or rotates its signer, because the platform's history still lists what
it published then; a domain or signer it never published is INVALID, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hokusai.attestation.content import hash_tree_root, identity_of, pipeline_run_id, public_inputs_hash
from hokusai.attestation.schema import schema_errors
from hokusai.attestation.signing import (
    DOMAIN_NAME,
    DOMAIN_VERSION,
    LEGACY_DOMAIN,
    REPORT_FIELD,
    PublishedSigner,
    attestation_domain,
    recorded_domain,
    recover_signer,
)
from hokusai.attestation.terms import parse_message, terms_hash, terms_signer
from hokusai.errors import HokusaiError, NotFound
from hokusai.evaluation.report import payable_bps
from hokusai.evaluation.weights import TOTAL_BPS, weights_from_values
from hokusai.hashing import file_sha256
from hokusai.wallet import checksum_address


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    reason: str


@dataclass(frozen=True)
class Verdict:
    """All checks; valid when every one passed."""

    checks: list[Check] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "checks": [vars(c) for c in self.checks]}


PAYABLE_SINCE = 4
"""The report version from which a run that is not accepted signs 0 bps (earlier reports signed the values'
shares, and still verify as they were signed)."""


def _run(name: str, check: Callable[[], tuple[bool, str]]) -> Check:
    """Run one check; a document too broken to compute it fails that check, not the verifier."""
    try:
        ok, reason = check()
    except HokusaiError as exc:
        return Check(name, False, exc.message)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        return Check(name, False, f"cannot be computed from this document: {type(exc).__name__} {exc}")
    return Check(name, ok, reason)


def _compare(what: str, stated: Any, recomputed: Any) -> tuple[bool, str]:
    if stated == recomputed:
        return True, f"{what} matches ({recomputed})"
    return False, f"{what} does not match: document says {stated}, recomputed {recomputed}"


def attested_data_hashes(document: Mapping[str, Any]) -> dict[str, str]:
    """Data hash -> what it is (train, benchmark, contribution N), from the document."""
    hashes = {
        document["models"]["baseline"]["training_metadata"]["data_manifest"][
            "data_hash"
        ]: "base training data",
        document["evaluation_results"]["benchmark_metadata"]["dataset_hash"]: "benchmark",
    }
    for i, c in enumerate(document["contributors"], 1):
        hashes.setdefault(c["data_hash"], f"contribution {i}")
    return hashes


def signing_domain(report: Mapping[str, Any] | None, expected: Mapping[str, Any] | None) -> dict[str, Any]:
    """The domain the signature is checked under: the report's, else (no report) the expected one."""
    if report is None:
        return dict(expected) if expected is not None else attestation_domain()
    return recorded_domain(report) or dict(LEGACY_DOMAIN)


def _domain_check(report: Mapping[str, Any] | None, expected: Mapping[str, Any] | None) -> tuple[bool, str]:
    if report is None:
        return True, f"no report: the signature is checked under {signing_domain(None, expected)}"
    recorded = recorded_domain(report)
    if recorded is None:
        legacy = "the report records no signing domain: signed under the legacy domain without chainId"
        if expected is not None:
            return False, f"{legacy}, valid on every chain; expected {dict(expected)}"
        return True, f"{legacy} (valid on every chain; nothing pinned)"
    if (recorded.get("name"), recorded.get("version")) != (DOMAIN_NAME, DOMAIN_VERSION):
        return False, f"{REPORT_FIELD} {recorded} is not the {DOMAIN_NAME!r} version {DOMAIN_VERSION} domain"
    if "chainId" not in recorded:
        return False, f"{REPORT_FIELD} {recorded} has no chainId"
    if expected is None:
        return True, f"signed for chain {recorded['chainId']} (not pinned: the report's domain was trusted)"
    return _compare("signing domain", recorded, dict(expected))


def _published_domain_check(
    report: Mapping[str, Any] | None, published: Sequence[PublishedSigner]
) -> tuple[bool, str]:
    if report is None:
        return False, "needs the evaluation report (it records the signing domain)"
    recorded = recorded_domain(report)
    if recorded is None:
        return False, "the report records no signing domain (legacy, valid on every chain): never published"
    if any(entry.covers(recorded) for entry in published):
        return True, f"signed under {recorded}, a domain the platform published"
    known = "; ".join(
        sorted({f"chain {e.chain_id}, {e.verifying_contract or 'no contract'}" for e in published})
    )
    return False, f"signed under {recorded}, a domain the platform never published (it published: {known})"


def _document_time(document: Mapping[str, Any]) -> datetime:
    moment = datetime.fromisoformat(str(document["metadata"]["timestamp"]))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _published_signer_check(
    document: Mapping[str, Any], report: Mapping[str, Any] | None, published: Sequence[PublishedSigner]
) -> tuple[bool, str]:
    actual = str(document["attestation"]["verification_key"])
    recorded = recorded_domain(report or {}) or {}
    entries = [e for e in published if e.covers(recorded) and e.signer.lower() == actual.lower()]
    if not entries:
        names = sorted({e.signer for e in published if e.covers(recorded)})
        return False, (
            f"signed by {actual}, never a published signer for this domain "
            f"(published for it: {', '.join(names) or 'none'})"
        )
    signed_at = _document_time(document)
    live = [e for e in entries if e.valid_to is None or signed_at <= e.valid_to]
    if not live:
        retired = max(e.valid_to for e in entries if e.valid_to is not None)
        return (
            False,
            f"{entries[0].describe()} was retired at {retired.isoformat()}, before {signed_at.isoformat()}",
        )
    entry = live[0]
    since = entry.valid_from.isoformat() if entry.valid_from else "the start"
    until = entry.valid_to.isoformat() if entry.valid_to else "now"
    contract = entry.verifying_contract or "no verifying contract"
    return True, (
        f"signed by {actual}, one of the published signers (chain {entry.chain_id}, {contract}; "
        f"published from {since} to {until})"
    )


def terms_check(
    document: Mapping[str, Any], report: Mapping[str, Any] | None, signed: Mapping[str, Any]
) -> tuple[bool, str]:
    """Signed terms (``{typed_data, signature}``, as a contribution's ``terms``) against an attestation:
    their recomputed hash is a contribution's recorded terms hash, signed by the wallet that contribution
    pays, for its data. Needs nothing but the three documents (no platform)."""
    if report is None:
        return False, "needs the evaluation report (it records each contribution's terms hash)"
    typed = signed["typed_data"]
    offer, _domain = parse_message(typed)
    digest = terms_hash(typed)
    if signed.get("hash") is not None and signed["hash"] != digest:
        return False, f"the terms state hash {signed['hash']}, but their message hashes to {digest}"
    signer = terms_signer(typed, str(signed["signature"]))
    positions = [i for i, c in enumerate(report["contributions"]) if c.get("terms_hash") == digest]
    if not positions:
        return False, f"terms {digest} (signed by {signer}) are not recorded for any contribution of this run"
    i = positions[0]
    paid = document["contributors"][i]
    if checksum_address(paid["wallet_address"]) != signer:
        return (
            False,
            f"terms {digest} are signed by {signer}, but contribution {i + 1} pays {paid['wallet_address']}",
        )
    if paid["data_hash"] != offer.dataset_hash:
        return (
            False,
            f"terms {digest} are for data {offer.dataset_hash}, "
            f"not contribution {i + 1}'s {paid['data_hash']}",
        )
    granted = ", ".join(
        f"{name} {'yes' if value else 'no'}"
        for name, value in (
            ("commercial use", offer.commercial_use),
            ("derivatives", offer.derivatives),
            ("attribution", offer.attribution),
        )
    )
    return True, f"contribution {i + 1}: terms {digest} signed by {signer}: {offer.license} ({granted})"


def verify_attestation(
    document: Mapping[str, Any],
    *,
    report: Mapping[str, Any] | None = None,
    data_paths: Iterable[str | Path] = (),
    terms: Sequence[Mapping[str, Any]] = (),
    signer: str | Collection[str] | None = None,
    expected_domain: Mapping[str, Any] | None = None,
    published: Sequence[PublishedSigner] | None = None,
) -> Verdict:
    """Verify ``document`` with its companion evaluation ``report``.

    ``published`` is the platform's history of published signers and domains: the document's recorded
    domain must be one of them and its signer published for it (not retired before the document's
    time); it replaces ``signer`` and ``expected_domain``. Otherwise ``signer`` is the address the document
    must be signed by, or a set of addresses; without it only the document's own ``verification_key`` is
    used, which proves integrity but not who signed. ``expected_domain`` pins one chain and contract;
    without it (and without ``published``) the report's recorded domain is trusted. ``terms``: signed
    contribution terms to check against the document (one ``terms:<n>`` check each).
    """
    if published is not None and (signer is not None or expected_domain is not None):
        raise ValueError("give published, or signer/expected_domain, not both")
    paths = [Path(p) for p in data_paths]
    for path in paths:
        if not path.is_file():
            raise NotFound(f"data file {path} does not exist")
    attestation = document.get("attestation") or {}
    run_id = (document.get("metadata") or {}).get("pipeline_run_id")

    def schema() -> tuple[bool, str]:
        errors = schema_errors(document)
        return (False, "; ".join(errors)) if errors else (True, "valid against zk_output_schema v1")

    def report_check() -> tuple[bool, str]:
        if report is None:
            return False, "the companion evaluation_report.json was not supplied (its hash is a tree leaf)"
        return _compare("report pipeline_run_id", run_id, report["pipeline_run_id"])

    def run_id_check() -> tuple[bool, str]:
        if report is None:
            return False, "needs the evaluation report (it holds the run options)"
        return _compare("pipeline_run_id", run_id, pipeline_run_id(identity_of(document, report)))

    def root() -> tuple[bool, str]:
        if report is None:
            return False, "needs the evaluation report (its hash is a leaf)"
        return _compare("hash_tree_root", attestation["hash_tree_root"], hash_tree_root(document, report))

    def inputs() -> tuple[bool, str]:
        stated = attestation["public_inputs_hash"]
        return _compare(
            "public_inputs_hash", stated, public_inputs_hash(document, attestation["hash_tree_root"])
        )

    def weights() -> tuple[bool, str]:
        if report is None:
            return False, "needs the evaluation report (it holds the contributors' values)"
        valuation = report.get("valuation")
        if not valuation:
            return False, "the report has no valuation section (values and standard errors) to recompute from"
        contributions = report["contributions"]
        accepted = bool(report["outcome"]["accepted"])
        recomputed = payable_bps(
            weights_from_values(
                [c["value_pp"] for c in contributions],
                stderr_pp=[c["value_se_pp"] for c in contributions],
                players=[bool(c["player"]) for c in contributions],
                accepted=accepted,
            ).bps,
            accepted or int(report.get("report_version") or 0) < PAYABLE_SINCE,
        )
        stated = [round(c["weight"] * TOTAL_BPS) for c in document["contributors"]]
        return _compare("weights (bps) from the report's values", stated, recomputed)

    def signature() -> tuple[bool, str]:
        recovered = recover_signer(
            str(run_id),
            attestation["hash_tree_root"],
            attestation["public_inputs_hash"],
            attestation["signature_blob"],
            signing_domain(report, expected_domain),
        )
        return _compare("recovered signer", attestation["verification_key"], recovered)

    def signer_check() -> tuple[bool, str]:
        if signer is None:
            return True, "not pinned: the document's own verification_key was trusted"
        actual = attestation["verification_key"]
        if isinstance(signer, str):
            expected = checksum_address(signer)
            if actual == expected:
                return True, f"signed by the expected signer {expected}"
            return False, f"signed by {actual}, not by the expected signer {expected}"
        published = sorted(checksum_address(s) for s in signer)
        if actual in published:
            return True, f"signed by {actual}, one of the published signers"
        return (
            False,
            f"signed by {actual}, not one of the published signers {', '.join(published) or '(none)'}",
        )

    checks = [
        _run("schema", schema),
        _run("report", report_check),
        _run("pipeline_run_id", run_id_check),
        _run("hash_tree_root", root),
        _run("public_inputs_hash", inputs),
        _run("weights", weights),
        _run(
            "domain",
            lambda: (
                _domain_check(report, expected_domain)
                if published is None
                else _published_domain_check(report, published)
            ),
        ),
        _run("signature", signature),
        _run(
            "signer",
            signer_check
            if published is None
            else lambda: _published_signer_check(document, report, published),
        ),
    ]
    for path in paths:

        def data_check(path: Path = path) -> tuple[bool, str]:
            digest = file_sha256(path)
            known = attested_data_hashes(document)
            if digest in known:
                return True, f"sha256 {digest} is the attested {known[digest]}"
            return False, f"sha256 {digest} is not among the attested data hashes"

        checks.append(_run(f"data:{path.name}", data_check))
    for n, signed in enumerate(terms, 1):

        def signed_check(signed: Mapping[str, Any] = signed) -> tuple[bool, str]:
            return terms_check(document, report, signed)

        checks.append(_run(f"terms:{n}", signed_check))
    return Verdict(checks)
