"""How CLI commands that talk to a server get their SDK client: API key, or a wallet (never a flag).

A command that a contributor needs takes ``--wallet``/``--keystore`` (``WalletOption``/``KeystoreOption``,
defined here once) and builds a ``Credential``; its "next:" hints carry the same flags
(``Credential.flags``), so the command printed works as printed for the credential in use.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from hokusai.errors import InvalidInput

WALLET_KEY_ENV = "HOKUSAI_WALLET_KEY"
KEYSTORE_PASSWORD_ENV = "HOKUSAI_KEYSTORE_PASSWORD"
WALLET_SIGN_IN = f"or sign in with a wallet: --wallet (its key in {WALLET_KEY_ENV}) or --keystore FILE"
"""What a command that takes the wallet flags adds to the SDK's missing-credential error."""

UrlOption = Annotated[str | None, typer.Option("--url", help="Server URL (else HOKUSAI_URL, config file).")]
KeystoreOption = Annotated[
    Path | None,
    typer.Option(
        "--keystore",
        help=f"Sign in with this wallet keystore (password from {KEYSTORE_PASSWORD_ENV} or a prompt).",
    ),
]
WalletOption = Annotated[
    bool,
    typer.Option("--wallet", help=f"Sign in with the wallet whose private key is in {WALLET_KEY_ENV}."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
console = Console(stderr=True)


def load_wallet(keystore: Path | None, from_env: bool) -> Any:
    """The wallet account from a keystore file or ``HOKUSAI_WALLET_KEY`` (private keys never go in flags)."""
    from eth_account import Account

    if keystore is not None:
        if not keystore.is_file():
            raise InvalidInput(f"{keystore}: no such keystore file")
        password = os.environ.get(KEYSTORE_PASSWORD_ENV) or typer.prompt("keystore password", hide_input=True)
        try:
            return Account.from_key(Account.decrypt(json.loads(keystore.read_text()), password))
        except (ValueError, KeyError) as exc:
            raise InvalidInput(f"cannot open the keystore {keystore}: {exc}") from None
    if from_env:
        secret = os.environ.get(WALLET_KEY_ENV)
        if not secret:
            raise InvalidInput(f"--wallet needs the private key in {WALLET_KEY_ENV}")
        try:
            return Account.from_key(secret)
        except (ValueError, TypeError):
            raise InvalidInput(f"{WALLET_KEY_ENV} is not a valid private key") from None
    return None


@dataclass(frozen=True)
class Credential:
    """How a command signs in (``--url``, ``--wallet``, ``--keystore`` as the user gave them)."""

    url: str | None = None
    keystore: Path | None = None
    wallet: bool = False

    @property
    def flags(self) -> str:
        """The flags that sign the next command in the same way (empty for the API key), each quoted."""
        given = ["--url", self.url] if self.url else []
        if self.keystore is not None:
            given += ["--keystore", str(self.keystore)]
        elif self.wallet:
            given.append("--wallet")
        return "".join(f" {shlex.quote(part)}" for part in given)

    def client(self) -> Any:
        """An SDK client signed in with the wallet when asked, else with the API key."""
        from hokusai.client import Client

        wallet = load_wallet(self.keystore, self.wallet)
        return Client(url=self.url, wallet=wallet, sign_in_hint=WALLET_SIGN_IN)


def make_client(url: str | None) -> Any:
    """An SDK client with the API key, for commands that take no wallet (owners' and admins' commands)."""
    from hokusai.client import Client

    return Client(url=url)
