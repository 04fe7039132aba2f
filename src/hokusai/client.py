"""The Python SDK: a typed client over the platform's REST API (httpx).

``hokusai.setup(api_key=..., url=...)`` or ``hokusai.Client(...)``; resources hang off the client:
``client.models``, ``client.datasets``, ``client.contributions``, ``client.runs``, ``client.attestations``,
``client.contributors``, ``client.keys``, ``client.benchmarks``, ``client.webhooks``.
``hokusai.configure_mlflow()`` points the stock MLflow client at the platform's authenticated proxy.
A server error becomes the matching ``HokusaiError`` subclass carrying the server's ``code`` and ``details``.
"""

from __future__ import annotations

import base64
import builtins
import json
import os
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from hokusai.client_config import config_file, resolve_config
from hokusai.errors import (
    ConfigError,
    Conflict,
    Forbidden,
    HokusaiError,
    InvalidData,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
)
from hokusai.schemas import (
    Benchmark,
    Contribution,
    Dataset,
    Delivery,
    Impact,
    Lineage,
    Me,
    MintRequest,
    Model,
    NewKey,
    RetentionSweep,
    Run,
    Signers,
    UploadedDataset,
    Verdict,
    Webhook,
    Withdrawal,
)
from hokusai.schemas import KeyInfo as ApiKey

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

_ERRORS: dict[int, type[HokusaiError]] = {
    400: InvalidInput, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
    413: PayloadTooLarge, 422: InvalidData, 503: ServiceUnavailable,
}  # fmt: skip
SIGN_IN_MINUTES = 55
__all__ = [
    "ApiKey", "Benchmark", "Client", "Contribution", "Dataset", "Delivery", "Impact", "Lineage", "Me",
    "MintRequest", "Model", "NewKey", "Run", "Signers", "UploadedDataset", "Verdict", "Webhook",
    "configure_mlflow", "default_client", "raise_for_error", "setup",
]  # fmt: skip


def raise_for_error(response: httpx.Response) -> None:
    """Turn an error response (the platform's error shape, or anything else) into a ``HokusaiError``."""
    if response.is_success:
        return
    try:
        error = response.json()["error"]
        code, message, details = error["code"], error["message"], error.get("details")
    except (ValueError, KeyError, TypeError):
        code, message, details = "http_error", f"HTTP {response.status_code}: {response.text[:200]}", None
    if response.status_code == 429:
        raise RateLimited(message, retry_after=int(response.headers.get("Retry-After", "1")), details=details)
    kind = _ERRORS.get(response.status_code, HokusaiError)
    raise kind(message, code=code, details=details)


class Client:
    """A session with one Hokusai server, authenticated by an API key or a wallet (EIP-4361)."""

    def __init__(
        self,
        api_key: str | None = None,
        url: str | None = None,
        *,
        wallet: LocalAccount | None = None,
        domain: str | None = None,
        timeout: float = 60.0,
        sign_in_hint: str = "or pass a wallet (Client(wallet=...))",
    ) -> None:
        config = resolve_config(api_key, url)
        self.url, self.api_key = config.url, None if wallet is not None else config.api_key
        self.key_source, self.sign_in_hint = config.key_source, sign_in_hint
        self.wallet, self.domain = wallet, domain
        self._wallet_headers: dict[str, str] = {}
        self._signed_until = datetime.min.replace(tzinfo=UTC)
        self.http = httpx.Client(base_url=self.url, timeout=timeout)
        self.datasets = Datasets(self)
        self.models = Models(self)
        self.benchmarks = Benchmarks(self)
        self.contributions = Contributions(self)
        self.runs = Runs(self)
        self.attestations = Attestations(self)
        self.contributors = Contributors(self)
        self.keys = Keys(self)
        self.webhooks = Webhooks(self)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _auth_headers(self) -> dict[str, str]:
        if self.wallet is not None:
            if datetime.now(UTC) >= self._signed_until:
                self.sign_in()
            return self._wallet_headers
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def sign_in(self) -> None:
        """Sign an EIP-4361 message for a nonce from the server (valid 55 minutes).

        The message names the domain the server expects (from the nonce answer) unless ``domain`` was given.
        """
        from eth_account.messages import encode_defunct

        from hokusai.siwe import SiweMessage

        assert self.wallet is not None
        response = self.http.get("/api/v1/auth/nonce")
        raise_for_error(response)
        now = datetime.now(UTC).replace(microsecond=0)
        issued = response.json()
        message = SiweMessage(
            domain=self.domain or issued["domain"], address=self.wallet.address,
            uri=issued.get("uri", self.url), chain_id=min(issued.get("chain_ids") or [1]),
            nonce=issued["nonce"], issued_at=now, statement="Sign in to Hokusai.",
            expiration_time=now + timedelta(minutes=SIGN_IN_MINUTES),
        ).to_text()  # fmt: skip
        signature = self.wallet.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
        self._wallet_headers = {
            "X-ETH-Address": self.wallet.address,
            "X-ETH-Signature": signature,
            "X-ETH-Message": base64.b64encode(message.encode()).decode(),
        }
        self._signed_until = now + timedelta(minutes=SIGN_IN_MINUTES - 1)

    def logout(self) -> None:
        """Burn the wallet sign-in's nonce on the server."""
        if self.wallet is not None and self._wallet_headers:
            self.request("POST", "/api/v1/auth/logout")
            self._wallet_headers, self._signed_until = {}, datetime.min.replace(tzinfo=UTC)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send an authenticated request; the decoded JSON answer, or the matching ``HokusaiError``."""
        headers = {**self._auth_headers(), **kwargs.pop("headers", {})}
        try:
            response = self.http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"cannot reach Hokusai at {self.url}: {type(exc).__name__}") from None
        if response.status_code == 401:
            self._explain_unauthorized(response)
        raise_for_error(response)
        return response.json() if response.content else None

    def _explain_unauthorized(self, response: httpx.Response) -> None:
        """A 401 in the words of this client's settings: which credential is missing or was refused."""
        try:
            error = response.json()["error"]
            reason, code = str(error["message"]), str(error["code"])
        except (ValueError, KeyError, TypeError):
            reason, code = response.text[:200], "unauthorized"
        if self.wallet is None and not self.api_key:
            raise Unauthorized(
                f"{self.url} needs a credential: set HOKUSAI_API_KEY (or api_key in {config_file()}), "
                f"{self.sign_in_hint}",
                code=code,
            )
        if self.wallet is None:
            raise Unauthorized(f"{self.url} refused the API key ({self.key_source}): {reason}", code=code)

    def export(self, path: str | Path) -> Path:
        """Save everything the platform holds about you (one zip archive, streamed) to ``path``."""
        target = Path(path)
        try:
            with self.http.stream("GET", "/api/v1/me/export", headers=self._auth_headers()) as response:
                if response.status_code >= 400:
                    response.read()
                    raise_for_error(response)
                partial = target.with_name(f".{target.name}.partial")
                with partial.open("wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        out.write(chunk)
                partial.replace(target)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"cannot reach Hokusai at {self.url}: {type(exc).__name__}") from None
        return target

    def me(self) -> Me:
        """Who the server says this client is (principal, method, scopes, wallet)."""
        return Me.model_validate(self.request("GET", "/api/v1/me"))


class _Api:
    def __init__(self, client: Client) -> None:
        self.client = client


@contextmanager
def _file_part(field: str, path: str | Path) -> Iterator[dict[str, Any]]:
    file = Path(path)
    if not file.is_file():
        raise NotFound(f"{file}: no such file", code="file_not_found")
    with file.open("rb") as handle:
        yield {field: (file.name, handle)}


class Datasets(_Api):
    def upload(self, path: str | Path) -> UploadedDataset:
        """Upload a data file (training data or benchmark); the same bytes again give the same dataset."""
        with _file_part("file", path) as files:
            return UploadedDataset.model_validate(
                self.client.request("POST", "/api/v1/datasets", files=files)
            )

    def get(self, dataset_id: str) -> Dataset:
        return Dataset.model_validate(self.client.request("GET", f"/api/v1/datasets/{dataset_id}"))


class Models(_Api):
    def register(
        self,
        name: str,
        *,
        target: str,
        train: str | Path | Dataset,
        benchmark: str | Path | Dataset,
        source_uri: str | None = None,
        archive: str | Path | None = None,
        model_type: str = "classification",
        spec: dict[str, Any] | None = None,
    ) -> Model:
        """Register a baseline from a logged MLflow model (``source_uri``) or a model directory/archive.

        ``train`` and ``benchmark`` are data files (uploaded first) or already uploaded ``Dataset``s;
        ``spec`` sets benchmark spec fields (seed, task, primary_metric, guardrails, threshold, …).
        """
        fields: dict[str, Any] = {
            "name": name, "target_column": target, "model_type": model_type,
            "train_dataset_id": self._dataset(train).id, "benchmark_dataset_id": self._dataset(benchmark).id,
        }  # fmt: skip
        if archive is None:
            body = {**fields, "source_uri": source_uri, **({"benchmark": spec} if spec else {})}
            return Model.model_validate(self.client.request("POST", "/api/v1/models", json=body))
        if spec:
            fields["benchmark"] = json.dumps(spec)
        with _archive(Path(archive)) as packed, _file_part("archive", packed) as files:
            return Model.model_validate(
                self.client.request("POST", "/api/v1/models", data=fields, files=files)
            )

    def _dataset(self, value: str | Path | Dataset) -> Dataset:
        return value if isinstance(value, Dataset) else self.client.datasets.upload(value)

    def list(self) -> list[Model]:
        return [Model.model_validate(m) for m in self.client.request("GET", "/api/v1/models")["models"]]

    def get(self, name: str) -> Model:
        return Model.model_validate(self.client.request("GET", f"/api/v1/models/{name}"))

    def lineage(self, name: str) -> Lineage:
        """Every version, baseline first, with contributions, contributors, deltas and attestation ids."""
        return Lineage.model_validate(self.client.request("GET", f"/api/v1/models/{name}/lineage"))

    def onchain_binding(self, name: str, onchain_id: int | str) -> dict[str, Any]:
        """The EIP-712 ``ModelBinding`` typed data (``eth_signTypedData_v4`` JSON) that binds ``onchain_id``
        to model ``name`` on the server's chain and DeltaVerifier: what the on-chain owner's wallet signs."""
        from hokusai.attestation.binding import binding_message

        model, published = self.get(name), self.client.attestations.signers()
        if published.verifying_contract is None:
            raise Conflict(
                "the server has no DeltaVerifier contract (HOKUSAI_DELTA_VERIFIER_ADDRESS) to bind to",
                code="mint_not_configured",
            )
        return binding_message(
            _uint256(onchain_id), model.id, model.name,
            chain_id=published.chain_id, verifying_contract=published.verifying_contract,
        )  # fmt: skip

    def set_onchain_id(
        self,
        name: str,
        onchain_id: int | str | None,
        *,
        signer: LocalAccount | None = None,
        wallet: str | None = None,
        signature: str | None = None,
    ) -> Model:
        """Bind model ``name`` to its on-chain id (None: unbind). An admin needs no signature; an owner
        gives the wallet that owns the model on-chain (``signer``, which signs :meth:`onchain_binding`),
        or that ``wallet``'s ``signature`` of it (signed elsewhere, e.g. a hardware wallet). An id names
        one model per chain and contract."""
        body: dict[str, Any] = {"onchain_id": None if onchain_id is None else str(_uint256(onchain_id))}
        if signer is not None and onchain_id is not None:
            from hokusai.attestation.binding import sign_binding

            signature = sign_binding(signer, self.onchain_binding(name, onchain_id))
            wallet = signer.address
        if signature is not None:
            body.update(onchain_signature=signature, onchain_wallet=wallet)
        return Model.model_validate(self.client.request("PATCH", f"/api/v1/models/{name}", json=body))


def _uint256(value: int | str) -> int:
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or int(text) >= 2**256:
        raise InvalidInput(f"an on-chain id is a uint256 in decimal, not {value!r}", code="bad_onchain_id")
    return int(text)


class Benchmarks(_Api):
    def list(self, model: str | None = None) -> list[Benchmark]:
        """Every benchmark spec version (of ``model``)."""
        params = {"model": model} if model else None
        answer = self.client.request("GET", "/api/v1/benchmarks", params=params)
        return [Benchmark.model_validate(b) for b in answer["benchmarks"]]

    def get(self, spec_id: str) -> Benchmark:
        return Benchmark.model_validate(self.client.request("GET", f"/api/v1/benchmarks/{spec_id}"))

    def current(self, model: str) -> Benchmark:
        """The spec ``model``'s next run is evaluated under."""
        return next(b for b in self.list(model) if b.current)

    def change(self, model: str, **fields: Any) -> Benchmark:
        """Change ``model``'s current spec (its owner): a new version if a run used it, else in place."""
        body = {"model": model, **fields}
        return Benchmark.model_validate(self.client.request("POST", "/api/v1/benchmarks", json=body))


@contextmanager
def _archive(path: Path) -> Iterator[Path]:
    """A model directory packed as .tar.gz (an existing archive is used as it is)."""
    if path.is_file():
        yield path
        return
    if not (path / "MLmodel").is_file():
        raise InvalidInput(f"{path} is not an MLflow model directory (no MLmodel file)")
    with tempfile.TemporaryDirectory() as tmp:
        packed = Path(tmp) / f"{path.name or 'model'}.tar.gz"
        with tarfile.open(packed, "w:gz") as tar:
            tar.add(path, arcname=path.name or "model")
        yield packed


DEFAULT_LICENSE = "CC-BY-4.0"
TERMS_VALID_SECONDS = 3600


class Contributions(_Api):
    def terms(
        self,
        model: str,
        path: str | Path,
        signer: LocalAccount,
        *,
        license: str = DEFAULT_LICENSE,
        commercial_use: bool = True,
        derivatives: bool = True,
        attribution: bool = True,
        valid_for: float = TERMS_VALID_SECONDS,
    ) -> dict[str, Any]:
        """``signer``'s signed ContributionTerms (``{typed_data, signature, hash}``) offering the file at
        ``path`` to ``model`` under the platform's chain and contract, valid for ``valid_for`` seconds."""
        from hokusai.attestation.terms import Terms, sign_terms, signed_terms, terms_domain, terms_message
        from hokusai.hashing import file_sha256

        file = Path(path)
        if not file.is_file():
            raise NotFound(f"{file}: no such file", code="file_not_found")
        published = self.client.attestations.signers()
        offer = Terms(
            dataset_hash=file_sha256(file), model=model, license=license, commercial_use=commercial_use,
            derivatives=derivatives, attribution=attribution, deadline=int(time.time() + valid_for),
        )  # fmt: skip
        typed = terms_message(offer, terms_domain(published.chain_id, published.verifying_contract))
        return signed_terms(typed, sign_terms(signer, typed))

    def submit(
        self,
        model: str,
        path: str | Path,
        *,
        license: str = DEFAULT_LICENSE,
        commercial_use: bool = True,
        derivatives: bool = True,
        attribution: bool = True,
        valid_for: float = TERMS_VALID_SECONDS,
        signer: LocalAccount | None = None,
        signed_terms: dict[str, Any] | None = None,
        contributor_address: str | None = None,
    ) -> Contribution:
        """Contribute a data file to ``model`` under terms signed by the contributor's wallet: this client's
        wallet, or ``signer`` (then credited to it), or ``signed_terms`` signed elsewhere (``terms``). An
        admin credits another wallet with ``contributor_address`` (or ``signer``)."""
        account = signer or self.client.wallet
        if signed_terms is None and account is not None:  # else the server names what is missing
            signed_terms = self.terms(
                model, path, account, license=license, commercial_use=commercial_use,
                derivatives=derivatives, attribution=attribution, valid_for=valid_for,
            )  # fmt: skip
        own = self.client.wallet.address if self.client.wallet is not None else None
        if contributor_address is None and signer is not None and signer.address != own:
            contributor_address = signer.address
        data = {"contributor_address": contributor_address} if contributor_address else {}
        if signed_terms is not None:
            data.update(
                terms=json.dumps(signed_terms["typed_data"]), terms_signature=signed_terms["signature"]
            )
        with _file_part("file", path) as files:
            answer = self.client.request(
                "POST", f"/api/v1/models/{model}/contributions", data=data, files=files
            )
        return Contribution.model_validate(answer)

    def list(self, model: str) -> list[Contribution]:
        answer = self.client.request("GET", f"/api/v1/models/{model}/contributions")
        return [Contribution.model_validate(c) for c in answer["contributions"]]

    def get(self, contribution_id: str) -> Contribution:
        return Contribution.model_validate(
            self.client.request("GET", f"/api/v1/contributions/{contribution_id}")
        )

    def withdraw(self, contribution_id: str) -> Withdrawal:
        """Withdraw your contribution: every copy of its raw data is deleted (idempotent); the answer says
        what stays (hashes, manifest, attestations) and which model versions were trained on it."""
        return Withdrawal.model_validate(
            self.client.request("POST", f"/api/v1/contributions/{contribution_id}/withdraw")
        )

    def retention(self, *, dry_run: bool = True) -> RetentionSweep:
        """(Admins) the contributions whose raw data is past retention; ``dry_run=False`` deletes it now."""
        return RetentionSweep.model_validate(
            self.client.request("POST", "/api/v1/retention/sweep", json={"dry_run": dry_run})
        )


class Runs(_Api):
    def submit(
        self,
        model: str,
        contributions: list[str],
        *,
        options: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        """Queue an evaluation of ``contributions`` (ids) against ``model``."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        body = {"model": model, "contributions": contributions, "options": options or {}}
        return Run.model_validate(self.client.request("POST", "/api/v1/runs", json=body, headers=headers))

    def get(self, run_id: str) -> Run:
        return Run.model_validate(self.client.request("GET", f"/api/v1/runs/{run_id}"))

    def list(self, model: str) -> builtins.list[Run]:
        """``model``'s runs you may read (a wallet: those of its contributions), newest first."""
        answer = self.client.request("GET", "/api/v1/runs", params={"model": model})
        return [Run.model_validate(r) for r in answer["runs"]]

    def mint_request(self, run_id: str) -> MintRequest:
        """The signed mint request of an accepted run (owner or admin): ``{domain, types, primaryType,
        message, typedDataDigest, signatures, signerAddresses, submitCalldata}``."""
        return MintRequest.model_validate(self.client.request("GET", f"/api/v1/runs/{run_id}/mint-request"))

    def wait(
        self,
        run_id: str,
        *,
        timeout: float = 1800.0,
        interval: float = 1.0,
        on_progress: Callable[[Run], None] | None = None,
    ) -> Run:
        """Poll until the run succeeds or fails (its final ``Run``); ``TimeoutError`` after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.get(run_id)
            if on_progress is not None:
                on_progress(run)
            if run.finished:
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} is still {run.state} after {timeout:g}s")
            time.sleep(interval)


class Attestations(_Api):
    def get(self, attestation_id: str) -> dict[str, Any]:
        """The signed attestation document, as the JSON it was signed as (save it, verify it offline)."""
        return self.client.request("GET", f"/api/v1/attestations/{attestation_id}")

    def report(self, attestation_id: str) -> dict[str, Any]:
        """The evaluation report (intervals, sample sizes, reason code) behind an attestation."""
        return self.client.request("GET", f"/api/v1/attestations/{attestation_id}/report")

    def signers(self) -> Signers:
        """The published attesters (public): ``{signers, threshold, chain_id, verifying_contract}``."""
        return Signers.model_validate(self.client.request("GET", "/api/v1/attestations/signers"))

    def verify(self, document: dict[str, Any], report: dict[str, Any] | None = None) -> Verdict:
        """The server's verdict: schema, hash tree root, signature and signer."""
        body = {"attestation": document, "report": report}
        return Verdict.model_validate(self.client.request("POST", "/api/v1/attestations/verify", json=body))


class Contributors(_Api):
    def impact(self, address: str) -> Impact:
        """What a wallet's contributions achieved across finished runs."""
        return Impact.model_validate(self.client.request("GET", f"/api/v1/contributors/{address}/impact"))


class Keys(_Api):
    def create(self, name: str, scopes: list[str], **options: Any) -> NewKey:
        """A new key; its plaintext is in ``.key`` this once."""
        body = {"name": name, "scopes": scopes, **options}
        return NewKey.model_validate(self.client.request("POST", "/api/v1/keys", json=body))

    def list(self) -> list[ApiKey]:
        return [ApiKey.model_validate(k) for k in self.client.request("GET", "/api/v1/keys")["keys"]]

    def revoke(self, key_id: str) -> ApiKey:
        return ApiKey.model_validate(self.client.request("DELETE", f"/api/v1/keys/{key_id}"))

    def rotate(self, key_id: str) -> NewKey:
        """A new key replacing ``key_id`` (which works for the grace period); its plaintext in ``.key``."""
        return NewKey.model_validate(self.client.request("POST", f"/api/v1/keys/{key_id}/rotate"))


class Webhooks(_Api):
    def create(self, url: str, *, model: str | None = None, events: list[str] | None = None) -> Webhook:
        """Register a webhook for ``model`` (else all your models); its ``.secret`` is shown this once."""
        body: dict[str, Any] = {"url": url, "model": model}
        if events is not None:
            body["events"] = events
        return Webhook.model_validate(self.client.request("POST", "/api/v1/webhooks", json=body))

    def list(self) -> list[Webhook]:
        """Your active webhooks (admins: everyone's)."""
        return [Webhook.model_validate(w) for w in self.client.request("GET", "/api/v1/webhooks")["webhooks"]]

    def delete(self, webhook_id: str) -> Webhook:
        """Delete a webhook: no more deliveries; its log stays readable."""
        return Webhook.model_validate(self.client.request("DELETE", f"/api/v1/webhooks/{webhook_id}"))

    def deliveries(self, webhook_id: str) -> builtins.list[Delivery]:
        """Its deliveries, newest first: state, attempts, last status and error, and the log of attempts."""
        answer = self.client.request("GET", f"/api/v1/webhooks/{webhook_id}/deliveries")
        return [Delivery.model_validate(d) for d in answer["deliveries"]]


_default: Client | None = None


def setup(api_key: str | None = None, url: str | None = None) -> Client:
    """Configure and return the default client (``hokusai.client()`` gives it back later)."""
    global _default
    _default = Client(api_key=api_key, url=url)
    return _default


def default_client() -> Client:
    """The client made by ``setup()``, or one from the environment/config file."""
    return _default if _default is not None else setup()


def configure_mlflow(client: Client | None = None) -> str:
    """Point the stock MLflow client at the platform's authenticated proxy; returns the tracking URI.

    Sets ``MLFLOW_TRACKING_URI`` to ``<url>/mlflow`` and ``MLFLOW_TRACKING_TOKEN`` to the API key, so
    ``mlflow`` calls in this process (and its children) go through the platform's authentication.
    """
    import mlflow

    chosen = client or default_client()
    if not chosen.api_key:
        raise ConfigError("configure_mlflow needs an API key (argument, HOKUSAI_API_KEY or the config file)")
    uri = f"{chosen.url}/mlflow"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    os.environ["MLFLOW_TRACKING_TOKEN"] = chosen.api_key
    mlflow.set_tracking_uri(uri)
    return uri
