"""First admin key (printed once by `hokusai serve`, or configured as a hash) and the `hokusai keys` CLI."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from hokusai.api_keys import KEY_PATTERN
from hokusai.cli import main
from hokusai.config import Settings, env_name
from tests.integration.api.conftest import Api, ApiFactory
from tests.support.net import free_port, wait_http
from tests.support.stack import UpProcess

pytestmark = pytest.mark.realparts
KEY_IN_TEXT = re.compile(r"hk_(?:live|test)_[a-z0-9]+_[A-Za-z0-9]+")


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> str:
    """Run `hokusai keys ...` in this process against ``database_url``."""
    for field in Settings.model_fields:
        monkeypatch.delenv(env_name(field), raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOKUSAI_DATA_DIR", str(tmp_path / "cli"))
    monkeypatch.setenv("HOKUSAI_DATABASE_URL", database_url)
    return database_url


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_first_start_announces_an_admin_key_once_and_later_starts_do_not(tmp_path: Path) -> None:
    env = {"HOKUSAI_DATA_DIR": str(tmp_path / "state"), "HOKUSAI_API_PORT": str(free_port()),
           "HOKUSAI_MLFLOW_PORT": str(free_port()), "HOKUSAI_ENVIRONMENT": "test"}  # fmt: skip
    up = UpProcess(tmp_path / "up", env)
    try:
        up.wait_ready()
        keys = KEY_IN_TEXT.findall(up.stdout)
        assert len(keys) == 1 and "shown only this once" in up.stdout
        me = httpx.get(f"{up.api_url}/api/v1/me", headers={"Authorization": f"Bearer {keys[0]}"})
        assert me.json()["scopes"] == ["read", "write", "admin"]
    finally:
        up.kill()
    assert keys[0] not in up.stderr  # the JSON logs never carry it
    serve = UpProcess(tmp_path / "serve", env, command="serve")  # same database, second start
    try:
        wait_http(f"{serve.api_url}/health", 60)
        assert KEY_IN_TEXT.findall(serve.stdout) == []
        me = httpx.get(f"{serve.api_url}/api/v1/me", headers={"Authorization": f"Bearer {keys[0]}"})
        assert me.status_code == 200
    finally:
        serve.kill()


def test_bootstrap_hash_from_keys_generate_admits_that_key_as_admin(
    make_api: ApiFactory, cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "keys", "generate", "--live")
    assert code == 0
    key, line = out.splitlines()
    assert key.startswith("hk_live_") and KEY_PATTERN.match(key)
    api = make_api(bootstrap_admin_key_hash=line.split("=", 1)[1])
    assert api.admin_key == ""  # nothing generated, nothing printed
    me = httpx.get(f"{api.url}/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json()["scopes"] == ["read", "write", "admin"]


def test_keys_create_list_rotate_revoke_against_the_local_database(
    make_api: ApiFactory, cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    api: Api = make_api(auth_cache_seconds=0)
    code, out, err = run_cli(
        capsys, "keys", "create", "--name", "ci", "--principal", "acme", "--scopes", "read"
    )
    assert code == 0 and "shown only this once" in err
    key = KEY_IN_TEXT.findall(out)[0]
    key_id = key.split("_")[2]
    me = httpx.get(f"{api.url}/api/v1/me", headers={"X-API-Key": key}).json()
    assert me["name"] == "acme" and me["scopes"] == ["read"]

    code, out, _ = run_cli(capsys, "keys", "list")
    assert code == 0 and key_id in out and "acme" in out and key not in out

    code, out, _ = run_cli(capsys, "keys", "rotate", key_id)
    new_key = KEY_IN_TEXT.findall(out)[0]
    assert code == 0 and new_key != key
    assert httpx.get(f"{api.url}/api/v1/me", headers={"X-API-Key": new_key}).status_code == 200

    code, out, _ = run_cli(capsys, "keys", "revoke", new_key.split("_")[2])
    assert code == 0 and "revoked" in out
    refused = httpx.get(f"{api.url}/api/v1/me", headers={"X-API-Key": new_key})
    assert refused.json()["error"]["code"] == "key_revoked"


def test_keys_cli_bad_input_is_one_line_and_exit_code_2(
    cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in (("keys", "revoke", "nosuchkey123"), ("keys", "create", "--name", "x", "--scopes", "root"),
                 ("keys", "create", "--name", "x", "--expires-at", "tomorrow")):  # fmt: skip
        code, _, err = run_cli(capsys, *args)
        assert code == 2
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_revocation_from_another_process_is_honoured_within_the_cache_time(
    make_api: ApiFactory, cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    api = make_api(auth_cache_seconds=1)
    key = api.create_key()
    with api.client(Authorization=f"Bearer {key['key']}") as client:
        assert client.get("/api/v1/me").status_code == 200  # cached in the API process
        assert run_cli(capsys, "keys", "revoke", key["id"])[0] == 0
        time.sleep(1.1)
        assert client.get("/api/v1/me").json()["error"]["code"] == "key_revoked"
