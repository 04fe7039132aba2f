"""On-chain id bindings: the EIP-712 statement a wallet signs to bind an on-chain id to a platform model.

"Wallet W binds on-chain model id X, on chain C and verifying contract V, to platform model M"::

    domain  {name: "HokusaiModelBinding", version: "1", chainId: C, verifyingContract: V}
    ModelBinding(uint256 modelId,string platformModelId,string platformModelName)

The domain carries the chain and the contract, so a signature binds X on that contract only; the
message names the platform model by its id (never reused) and its name (what a wallet shows).
:func:`binding_message` builds the ``eth_signTypedData_v4`` JSON, :func:`sign_binding` signs it (the SDK
and CLI), :func:`binding_signer` recovers W from a signature (the API).
"""

from __future__ import annotations

from typing import Any

from hokusai.attestation.eip712 import canonical_signature, domain_type, recover, typed_data_digest
from hokusai.attestation.mint import mint_domain

DOMAIN_NAME = "HokusaiModelBinding"
DOMAIN_VERSION = "1"
PRIMARY_TYPE = "ModelBinding"
TYPES: dict[str, list[dict[str, str]]] = {
    PRIMARY_TYPE: [
        {"name": "modelId", "type": "uint256"},
        {"name": "platformModelId", "type": "string"},
        {"name": "platformModelName", "type": "string"},
    ]
}


def binding_message(
    onchain_id: int,
    platform_model_id: str,
    platform_model_name: str,
    *,
    chain_id: int,
    verifying_contract: str,
) -> dict[str, Any]:
    """The full typed-data JSON of one binding (the contract address is checked and checksummed)."""
    domain = {
        **mint_domain(chain_id, verifying_contract),
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
    }
    return {
        "types": {"EIP712Domain": domain_type(domain), **TYPES},
        "primaryType": PRIMARY_TYPE,
        "domain": domain,
        "message": {
            "modelId": int(onchain_id),
            "platformModelId": platform_model_id,
            "platformModelName": platform_model_name,
        },
    }


def sign_binding(account: Any, message: dict[str, Any]) -> str:
    """0x-hex 65-byte signature (low ``s``) of ``message`` by an eth-account ``LocalAccount``."""
    signed = account.unsafe_sign_hash(typed_data_digest(message))
    return "0x" + canonical_signature(signed.r, signed.s, signed.v).hex()


def binding_signer(message: dict[str, Any], signature: str) -> str:
    """The EIP-55 address that signed ``message``; a malformed or malleable signature is ``InvalidInput``."""
    return recover(typed_data_digest(message), signature)
