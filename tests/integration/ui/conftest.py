"""One real ``hokusai up`` (its own MLflow server, local run workers), seeded by the flow its users follow,
and Debian's chromium driven by Playwright against it.

Seeded: an admin; owners ``owner1`` (model ``m1``, registered from a model directory archive, with an
on-chain id so its mint request can be signed) and ``owner2``; wallets A and B, each with an API key minted
under its wallet sign-in (how a contributor signs in to the pages); wallet A's contribution and its
accepted run. Wallet B's contribution is left for the test that follows a run while it runs.

The browser is headless chromium from Debian (``executable_path``; no browser is downloaded). Every
request it makes is routed through ``Traffic``: the platform's origin passes, anything else is aborted
and recorded, so a page that reached for a CDN fails the suite.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pandas as pd
import pytest
from eth_account import Account

import hokusai
from hokusai.api_keys import generate_key
from hokusai.pipeline.demo import TARGET, prepare_demo
from tests.integration.authorization.conftest import sign_in
from tests.support.stack import UpProcess, up_env

REPO = Path(__file__).resolve().parents[3]
SCREENSHOTS = REPO / "artifacts" / "ui-screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
VERIFIER = "0x" + "de" * 20
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Platform:
    """The seeded stack: its URL, the keys of its users and the ids of what they made."""

    url: str
    keys: dict[str, str] = field(default_factory=dict)  # actor -> API key
    wallets: dict[str, Any] = field(default_factory=dict)  # actor -> LocalAccount
    ids: dict[str, Any] = field(default_factory=dict)

    def api(self, actor: str) -> httpx.Client:
        """The JSON API as ``actor`` (what each page is compared with)."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.keys[actor]}"}, timeout=60
        )

    def get(self, actor: str, path: str) -> Any:
        with self.api(actor) as client:
            return client.get(path).raise_for_status().json()


@pytest.fixture(scope="package")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    workdir = tmp_path_factory.mktemp("ui")
    admin = generate_key(live=False)
    env = up_env(
        workdir,
        HOKUSAI_ENVIRONMENT="test",
        HOKUSAI_JOB_WORKERS="2",
        HOKUSAI_BOOTSTRAP_ADMIN_KEY_HASH=f"{admin.key_id}:{admin.key_hash}",
        HOKUSAI_RATE_LIMIT_PER_MINUTE="100000",
        HOKUSAI_DELTA_VERIFIER_ADDRESS=VERIFIER,  # mint requests are signed; no chain is needed
    )
    up = UpProcess(workdir / "up", env)
    try:
        up.wait_ready(180)
        world = Platform(url=up.api_url, keys={"admin": admin.key})
        with hokusai.Client(url=world.url, api_key=admin.key) as root:
            for name in ("owner1", "owner2"):
                world.keys[name] = root.keys.create(f"{name} key", ["read", "write"], principal_name=name).key
        for name in ("walletA", "walletB"):
            account = Account.create()
            world.wallets[name] = account
            with httpx.Client(base_url=world.url, headers=sign_in(world.url, account), timeout=30) as wallet:
                answer = wallet.post(
                    "/api/v1/keys", json={"name": f"{name} pages", "scopes": ["read", "write"]}
                )
                world.keys[name] = answer.raise_for_status().json()["key"]
        spec = prepare_demo(workdir / "demo")
        with hokusai.Client(url=world.url, api_key=world.keys["owner1"]) as owner:
            train, benchmark = owner.datasets.upload(spec.train), owner.datasets.upload(spec.benchmark)
            owner.models.register(  # no cooldown: wallet B's run follows wallet A's acceptance
                "m1", target=TARGET, train=train, benchmark=benchmark, archive=spec.baseline,
                spec={"cooldown_seconds": 0},
            )  # fmt: skip
        with hokusai.Client(url=world.url, api_key=admin.key) as root:
            root.models.set_onchain_id("m1", 7)  # an admin binds it (an owner needs a signature)
        rows = pd.read_csv(spec.contributions[0].path)
        half_a, half_b = workdir / "a.csv", workdir / "b.csv"
        rows.iloc[: len(rows) // 2 + 40].to_csv(half_a, index=False)
        rows.iloc[len(rows) // 2 + 40 :].to_csv(half_b, index=False)
        with hokusai.Client(url=world.url, api_key=world.keys["walletA"]) as wallet_a:
            # an API key minted under a wallet sign-in holds no private key: the wallet signs the terms
            terms = wallet_a.contributions.terms("m1", half_a, world.wallets["walletA"])
            contribution = wallet_a.contributions.submit("m1", half_a, signed_terms=terms)
            run = wallet_a.runs.wait(
                wallet_a.runs.submit("m1", [contribution.id]).id, timeout=600, interval=0.5
            )
            assert run.state == "succeeded" and run.outcome == "accepted", run.error
        with hokusai.Client(url=world.url, api_key=world.keys["walletB"]) as wallet_b:
            terms = wallet_b.contributions.terms("m1", half_b, world.wallets["walletB"])
            world.ids["contribution_b"] = wallet_b.contributions.submit("m1", half_b, signed_terms=terms).id
        world.ids.update(contribution=contribution.id, run=run.id, attestation=run.attestation_id)
        yield world
    finally:
        up.kill()


@dataclass
class Traffic:
    """Every request the browser made: those to the platform, and those blocked for going elsewhere."""

    origin: str
    allowed: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="package")
def traffic(platform: Platform) -> Traffic:
    parts = urlsplit(platform.url)
    return Traffic(origin=f"{parts.scheme}://{parts.netloc}")


@pytest.fixture(scope="package")
def screenshots() -> Path:
    """Where the pages' screenshots go (a CI artefact; git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots of the results pages: {SCREENSHOTS}")
    return SCREENSHOTS


class Browsing:
    """New browser contexts (each its own cookie jar) whose requests stay on the platform."""

    def __init__(self, browser: Any, platform: Platform, traffic: Traffic) -> None:
        self.browser, self.platform, self.traffic = browser, platform, traffic
        self.contexts: list[Any] = []

    def context(self, viewport: dict[str, int] = DESKTOP) -> Any:
        context = self.browser.new_context(viewport=viewport, base_url=self.platform.url)
        context.set_default_timeout(30_000)

        def route(route: Any) -> None:
            url = route.request.url
            if url.startswith(self.traffic.origin + "/"):
                self.traffic.allowed.append(url)
                route.continue_()
            else:
                self.traffic.blocked.append(url)
                route.abort()

        context.route("**/*", route)
        self.contexts.append(context)
        return context

    def page(self, actor: str | None = None, viewport: dict[str, int] = DESKTOP) -> Any:
        """A page of a new context, signed in through the form as ``actor`` (None: signed out)."""
        page = self.context(viewport).new_page()
        if actor is not None:
            page.goto("/ui/")
            page.get_by_label("API key").fill(self.platform.keys[actor])
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/ui/models")
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def browse(browser: Any, platform: Platform, traffic: Traffic) -> Iterator[Browsing]:
    browsing = Browsing(browser, platform, traffic)
    yield browsing
    browsing.close()
