"""Signed contribution terms for tests that post contributions with raw HTTP (the SDK signs its own)."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import httpx

from hokusai.attestation.terms import Terms, sign_terms, terms_domain, terms_message


def terms_fields(url: str, account: Any, model: str, data: bytes, **values: Any) -> dict[str, str]:
    """The form fields ``terms`` and ``terms_signature``: ``account``'s ContributionTerms for these bytes
    and ``model``, under the domain the platform at ``url`` publishes (``values`` override the offer)."""
    published = httpx.get(f"{url}/api/v1/attestations/signers", timeout=30).raise_for_status().json()
    offer = {
        "dataset_hash": hashlib.sha256(data).hexdigest(), "model": model, "license": "CC-BY-4.0",
        "commercial_use": True, "derivatives": True, "attribution": True, "deadline": int(time.time()) + 600,
        **values,
    }  # fmt: skip
    typed = terms_message(
        Terms(**offer), terms_domain(published["chain_id"], published["verifying_contract"])
    )
    return {"terms": json.dumps(typed), "terms_signature": sign_terms(account, typed)}
