"""P5: wallet-authenticated verifications/s divided by raw coincurve public-key recovery of the same
signature, in the same process.

One EIP-4361 message, signed once (EIP-191), its nonce issued by a real app on SQLite. Measured, in
interleaved rounds:
- raw recovery: ``coincurve.PublicKey.from_signature_and_message`` on the EIP-191 hash (the baseline);
- served: ``Authenticator.authenticate`` on the three X-ETH-* headers, as every request after the first
  runs it (header checks, base64, EIP-55, SHA-256 of the triple, cached verdict, rate limit);
- first verification: read the headers, parse and check the message, recover the signer through
  eth-account (coincurve backend): what the first request with a message costs before the database;
- uncached, with database: the whole verification including the nonce look-up (HOKUSAI_AUTH_CACHE_SECONDS=0).
Usage: python benchmarks/wallet_verify.py [--rounds 5] [--seconds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import console, median, print_ratio


def rate(step: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``step`` over about ``seconds``."""
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            step()
        count += 100
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()

    import coincurve
    from eth_account import Account
    from eth_account.messages import _hash_eip191_message, encode_defunct
    from starlette.datastructures import Headers

    from hokusai.server.app import create_app
    from hokusai.server.auth.credentials import decode_wallet, read_credential
    from hokusai.server.auth.resolve import check_message, verify_wallet
    from hokusai.server.db import upgrade_database
    from hokusai.server.services.nonces import issue_nonce
    from hokusai.siwe import SiweMessage, parse_siwe, recover_signer
    from tests.support.mlflow import mlflow_settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = mlflow_settings(Path(tmp), public_domain="hokusai.test", rate_limit_per_minute=1_000_000)
        upgrade_database(str(settings.database_url))
        app = create_app(settings)
        state = app.state.hokusai
        with state.sessions() as session:
            nonce = issue_nonce(session).nonce
        account = Account.create()
        now = datetime.now(UTC).replace(microsecond=0)
        expires = now + timedelta(minutes=50)
        text = SiweMessage(domain="hokusai.test", address=account.address, uri="https://hokusai.test/login",
                           chain_id=1, nonce=nonce, issued_at=now, expiration_time=expires,
                           statement="Sign in to Hokusai.").to_text()  # fmt: skip
        signable = encode_defunct(text=text)
        signature = account.sign_message(signable).signature
        headers = Headers({
            "x-eth-address": account.address,
            "x-eth-signature": signature.to_0x_hex(),
            "x-eth-message": base64.b64encode(text.encode()).decode(),
        })  # fmt: skip
        digest = _hash_eip191_message(signable)
        compact = bytes(signature[:64]) + bytes([signature[64] - 27])
        assert coincurve.PublicKey.from_signature_and_message(compact, digest, hasher=None)

        loop = asyncio.new_event_loop()

        async def served_rate(seconds: float) -> float:
            count, started = 0, time.perf_counter()
            while time.perf_counter() < started + seconds:
                for _ in range(100):
                    await state.auth.authenticate(headers, "127.0.0.1")
                count += 100
            return count / (time.perf_counter() - started)

        def first_verification() -> object:
            credential = read_credential(headers)
            address, text = decode_wallet(credential)
            check_message(parse_siwe(text), address, settings)
            return recover_signer(text, credential.signature)

        session = state.sessions()

        def uncached() -> object:
            return verify_wallet(session, read_credential(headers), settings)

        steps: dict[str, Callable[[float], float]] = {
            "raw": lambda s: rate(
                lambda: coincurve.PublicKey.from_signature_and_message(compact, digest, hasher=None), s
            ),
            "served": lambda s: loop.run_until_complete(served_rate(s)),
            "first": lambda s: rate(first_verification, s),
            "uncached": lambda s: rate(uncached, s),
        }
        principal = loop.run_until_complete(state.auth.authenticate(headers, "127.0.0.1"))
        assert principal.wallet_address == account.address
        results: dict[str, list[float]] = {name: [] for name in steps}
        for i in range(args.rounds):
            for name, measure in steps.items():
                results[name].append(measure(args.seconds))
            console.print(f"round {i + 1}: " + ", ".join(f"{n} {v[-1]:.0f}/s" for n, v in results.items()))
        session.close()
        loop.close()

    raw = median(results["raw"])
    rows = [
        ("served wallet request (cached verdict)", results["served"], "verif/s"),
        ("first verification (parse + checks + eth-account recovery)", results["first"], "verif/s"),
        ("uncached, with nonce look-up (SQLite)", results["uncached"], "verif/s"),
        ("raw coincurve recovery (baseline)", results["raw"], "recov/s"),
    ]
    print_ratio("P5: wallet verification vs raw coincurve recovery (same signature, same process)",
                rows, median(results["served"]) / raw, ">= 0.8 (served request)")  # fmt: skip
    console.print(f"first verification / raw = {median(results['first']) / raw:.3f}; "
                  f"uncached with database / raw = {median(results['uncached']) / raw:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
