"""The signer key: from the environment, or a 0600 key file created once; EIP-712 signatures."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from eth_account import Account

from hokusai.attestation.signing import load_signer, recover_signer
from hokusai.config import Settings
from hokusai.errors import ConfigError

ROOT, INPUTS = "11" * 32, "22" * 32


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path, **values)  # type: ignore[arg-type]


def test_key_file_is_created_on_first_use_with_mode_0600_and_reused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = load_signer(settings)
    key_file = tmp_path / "keys" / "signer.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_signer(settings).address == first.address
    assert [p.name for p in key_file.parent.iterdir()] == ["signer.key"]  # no temp files left


def test_processes_racing_to_create_the_key_end_up_with_one_key(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    addresses: list[str] = []
    threads = [
        threading.Thread(target=lambda: addresses.append(load_signer(settings).address)) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(addresses)) == 1


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    load_signer(settings)
    os.chmod(settings.signer_key_file, 0o644)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"readable by group or others .*chmod 600"):
        load_signer(settings)


def test_the_key_from_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    account = Account.create()
    settings = _settings(tmp_path, signer_key=account.key.hex())
    assert load_signer(settings).address == account.address
    assert not (tmp_path / "keys").exists()


def test_a_malformed_key_is_a_config_error_that_does_not_echo_the_key(tmp_path: Path) -> None:
    secret = "ab" * 31
    with pytest.raises(ConfigError) as caught:
        load_signer(_settings(tmp_path, signer_key=secret))
    assert "HOKUSAI_SIGNER_KEY" in caught.value.message
    assert secret not in caught.value.message


def test_verifying_without_a_key_does_not_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--signer"):
        load_signer(_settings(tmp_path), create=False)
    assert not (tmp_path / "keys").exists()


def test_signatures_are_deterministic_and_recover_the_signer(tmp_path: Path) -> None:
    signer = load_signer(_settings(tmp_path))
    signature = signer.sign("hk-1", ROOT, INPUTS)
    assert signature == signer.sign("hk-1", ROOT, INPUTS)
    assert signature.startswith("0x") and len(signature) == 132
    assert recover_signer("hk-1", ROOT, INPUTS, signature) == signer.address
    assert recover_signer("hk-2", ROOT, INPUTS, signature) != signer.address


def test_the_signer_never_shows_its_key(tmp_path: Path) -> None:
    account = Account.create()
    signer = load_signer(_settings(tmp_path, signer_key=account.key.hex()))
    assert account.key.hex().removeprefix("0x") not in repr(signer)
    assert signer.address in repr(signer)


def test_the_signer_signs_under_the_settings_chain_and_contract(tmp_path: Path) -> None:
    contract = "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"
    signer = load_signer(_settings(tmp_path, chain_id=8453, delta_verifier_address=contract.lower()))
    assert signer.domain == {
        "name": "Hokusai Attestation",
        "version": "1",
        "chainId": 8453,
        "verifyingContract": contract,
    }
    signature = signer.sign("hk-1", ROOT, INPUTS)
    assert recover_signer("hk-1", ROOT, INPUTS, signature, signer.domain) == signer.address
    assert recover_signer("hk-1", ROOT, INPUTS, signature, {**signer.domain, "chainId": 1}) != signer.address


def test_a_zero_or_malformed_contract_address_is_a_config_error(tmp_path: Path) -> None:
    from hokusai.config import load_settings

    for bad in ("0x" + "00" * 20, "0x1234"):
        with pytest.raises(ConfigError, match="HOKUSAI_DELTA_VERIFIER_ADDRESS"):
            load_settings(data_dir=tmp_path, delta_verifier_address=bad)
