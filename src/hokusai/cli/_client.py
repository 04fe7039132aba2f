"""How CLI commands that talk to a server get their SDK client: API key, or a wallet (never a flag)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from hokusai.errors import InvalidInput

WALLET_KEY_ENV = "HOKUSAI_WALLET_KEY"
KEYSTORE_PASSWORD_ENV = "HOKUSAI_KEYSTORE_PASSWORD"

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


def make_client(url: str | None, keystore: Path | None = None, wallet: bool = False) -> Any:
    """An SDK client for the server, signed in with a wallet when asked, else with the API key."""
    from hokusai.client import Client

    return Client(url=url, wallet=load_wallet(keystore, wallet))
