"""On-chain id bindings: what a wallet signs names the on-chain id, the platform model, the chain and the
contract; a model-bound commitment names the model, not only its file."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_utils import to_checksum_address

from hokusai.attestation.binding import binding_message, binding_signer, sign_binding
from hokusai.attestation.commitment import commitment_of, model_bound
from hokusai.errors import InvalidInput

WALLET = Account.from_key("0x" + "4b" * 32)
CONTRACT = "0x" + "de" * 20
ROOT = commitment_of([("model.skops", "ab" * 32)])


def _message(**change: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "onchain_id": 2**200 + 7, "platform_model_id": "a" * 32, "platform_model_name": "m1",
        "chain_id": 1, "verifying_contract": CONTRACT,
    }  # fmt: skip
    values.update(change)
    return binding_message(
        values["onchain_id"], values["platform_model_id"], values["platform_model_name"],
        chain_id=values["chain_id"], verifying_contract=values["verifying_contract"],
    )  # fmt: skip


def test_a_signed_binding_recovers_the_wallet_that_signed_it() -> None:
    assert binding_signer(_message(), sign_binding(WALLET, _message())) == WALLET.address


@pytest.mark.parametrize(
    "change",
    [
        {"onchain_id": 8},
        {"platform_model_id": "b" * 32},
        {"platform_model_name": "m2"},
        {"chain_id": 5},
        {"verifying_contract": "0x" + "ad" * 20},
    ],
)
def test_a_binding_signed_for_anything_else_does_not_recover_the_wallet(change: dict[str, Any]) -> None:
    signature = sign_binding(WALLET, _message(**change))
    assert binding_signer(_message(), signature) != WALLET.address


def test_the_binding_is_eth_sign_typed_data_v4_json_with_the_contracts_domain() -> None:
    message = _message()
    assert message["domain"] == {
        "name": "HokusaiModelBinding", "version": "1", "chainId": 1,
        "verifyingContract": to_checksum_address(CONTRACT),
    }  # fmt: skip
    assert message["primaryType"] == "ModelBinding"
    assert message["message"]["modelId"] == 2**200 + 7  # a uint256, never a float


def test_two_models_holding_the_same_file_have_different_bound_commitments() -> None:
    first, second = model_bound("a" * 32, ROOT), model_bound("b" * 32, ROOT)
    assert first != second and first != ROOT
    assert first == model_bound("a" * 32, ROOT) and len(first) == 66 and first.startswith("0x")


@pytest.mark.parametrize(
    ("model_id", "commitment"), [("", ROOT), ("a\x00b", ROOT), ("a", "0x12"), ("a", "zz" * 33)]
)
def test_a_bound_commitment_needs_a_model_id_and_a_bytes32(model_id: str, commitment: str) -> None:
    with pytest.raises(InvalidInput):
        model_bound(model_id, commitment)
