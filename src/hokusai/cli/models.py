"""``hokusai models``: register a baseline, list, show and trace models on a server."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from hokusai.cli._client import (
    Credential,
    JsonOption,
    KeystoreOption,
    UrlOption,
    WalletOption,
    load_wallet,
    make_client,
)
from hokusai.cli.output import emit, line, model_summary, signed, table

app = typer.Typer(help="Models on a Hokusai server.", no_args_is_help=True)


@app.command("register")
def register(
    name: Annotated[str, typer.Argument(help="Model name (letters, digits, '.', '_', '-').")],
    target: Annotated[str, typer.Option(help="Target (label) column.")],
    train: Annotated[Path, typer.Option(help="The data the baseline was trained on.")],
    benchmark: Annotated[Path, typer.Option(help="The benchmark both models are scored on.")],
    source: Annotated[
        str | None, typer.Option(help="A logged model: runs:/RUN_ID/PATH or models:/NAME/V.")
    ] = None,
    archive: Annotated[
        Path | None, typer.Option(help="An MLflow model directory (or its .tar.gz/.zip).")
    ] = None,
    model_type: Annotated[str, typer.Option(help="classification or regression.")] = "classification",
    spec_file: Annotated[
        Path | None, typer.Option("--spec", help="Benchmark spec fields (JSON or YAML file).")
    ] = None,
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a baseline with its training data, benchmark and benchmark spec."""
    from hokusai.cli.benchmarks import read_fields

    spec = read_fields(spec_file, []) if spec_file else None
    with make_client(url) as client:
        model = client.models.register(
            name, target=target, train=train, benchmark=benchmark, source_uri=source, archive=archive,
            model_type=model_type, spec=spec,
        )  # fmt: skip
    emit(model, as_json, model_summary)


@app.command("list")
def index(
    wallet: WalletOption = False, keystore: KeystoreOption = None, url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:  # fmt: skip
    """All models."""
    with Credential(url, keystore, wallet).client() as client:
        models = client.models.list()
    if as_json:
        emit([m.model_dump() for m in models], True)
        return
    table(["name", "type", "target", "baseline"],
          [(m.name, m.model_type, m.target_column, m.baseline_uri) for m in models])  # fmt: skip


@app.command("get")
def show(
    name: str, wallet: WalletOption = False, keystore: KeystoreOption = None, url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:  # fmt: skip
    """One model."""
    credential = Credential(url, keystore, wallet)
    with credential.client() as client:
        emit(client.models.get(name), as_json, partial(model_summary, credential=credential))


@app.command("set-onchain-id")
def set_onchain_id(
    name: str,
    onchain_id: Annotated[
        str | None, typer.Argument(help="The model's uint256 id in the DeltaVerifier (decimal).")
    ] = None,
    keystore: KeystoreOption = None,
    wallet: WalletOption = False,
    unbind: Annotated[bool, typer.Option("--unbind", help="Remove the model's on-chain id.")] = False,
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Bind a model to its on-chain id: as an admin, or as its owner with the signature of the wallet that
    owns the model on-chain (--wallet or --keystore; you stay signed in with your API key)."""
    from hokusai.errors import InvalidInput

    if (onchain_id is None) != unbind:
        raise InvalidInput("give the on-chain id, or --unbind (not both)", code="bad_onchain_id")
    signer = load_wallet(keystore, wallet)
    with make_client(url) as client:
        model = client.models.set_onchain_id(name, onchain_id, signer=signer)
    emit(model, as_json, model_summary)


@app.command("lineage")
def show_lineage(
    name: str, wallet: WalletOption = False, keystore: KeystoreOption = None, url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:  # fmt: skip
    """Every version of a model, baseline first, with its contributors and deltas."""
    with Credential(url, keystore, wallet).client() as client:
        lineage = client.models.lineage(name)
    if as_json:
        emit(lineage, True)
        return
    rows = []
    for version in lineage.versions:
        contributors = ", ".join(c.contributor_address for c in version.contributions or [])
        gain = version.gain
        rows.append((
            version.version, version.role, version.outcome,
            signed(gain, version.unit), contributors,
            version.attestation_id,
        ))  # fmt: skip
    table(["version", "role", "outcome", "gain", "contributors", "attestation"], rows)
    line(f"cumulative improvement: {signed(lineage.cumulative_improvement, lineage.unit)}")
