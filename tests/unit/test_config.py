"""Settings: embedded defaults, environment overrides, one-line errors naming the variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hokusai.config import Settings, env_name, load_settings
from hokusai.errors import ConfigError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for field in Settings.model_fields:
        monkeypatch.delenv(env_name(field), raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_put_everything_under_dot_hokusai_in_the_working_directory(tmp_path: Path) -> None:
    settings = load_settings()
    data = tmp_path / ".hokusai"
    assert settings.data_dir == data
    assert settings.database_url == f"sqlite:///{data / 'hokusai.db'}"
    assert settings.mlflow_backend_store_uri == f"sqlite:///{data / 'mlflow.db'}"
    assert settings.database_url != settings.mlflow_backend_store_uri
    assert settings.artifact_root == str(data / "mlartifacts")
    assert (settings.api_host, settings.api_port) == ("127.0.0.1", 8001)
    assert settings.mlflow_url == "http://127.0.0.1:5000"
    assert settings.environment == "development"


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOKUSAI_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("HOKUSAI_API_PORT", "9100")
    monkeypatch.setenv("HOKUSAI_ARTIFACT_ROOT", "s3://bucket/prefix")
    monkeypatch.setenv("HOKUSAI_S3_ENDPOINT_URL", "http://127.0.0.1:9000/")
    monkeypatch.setenv("HOKUSAI_ENVIRONMENT", "staging")
    settings = load_settings()
    assert settings.data_dir == tmp_path / "elsewhere"
    assert settings.database_url == f"sqlite:///{tmp_path / 'elsewhere' / 'hokusai.db'}"
    assert settings.api_port == 9100
    assert settings.artifact_root == "s3://bucket/prefix"
    assert settings.s3_endpoint_url == "http://127.0.0.1:9000"
    assert settings.environment == "staging"


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("HOKUSAI_MLFLOW_PORT=5123\n")
    assert load_settings().mlflow_url == "http://127.0.0.1:5123"


def test_postgres_urls_use_the_installed_driver() -> None:
    settings = load_settings(
        database_url="postgres://u@db:5432/hk", mlflow_backend_store_uri="postgresql://u@db/ml"
    )
    assert settings.database_url == "postgresql+psycopg://u@db:5432/hk"
    assert settings.mlflow_backend_store_uri == "postgresql+psycopg://u@db/ml"


@pytest.mark.parametrize(
    ("variable", "value", "accepts"),
    [
        ("HOKUSAI_API_PORT", "http", "valid integer"),
        ("HOKUSAI_MLFLOW_PORT", "70000", "less than or equal to 65535"),
        ("HOKUSAI_ENVIRONMENT", "prod", "'development', 'staging', 'production' or 'test'"),
        ("HOKUSAI_DATABASE_URL", "mysql://db/x", "sqlite:///PATH or postgresql://"),
        ("HOKUSAI_ARTIFACT_ROOT", "gs://bucket", "s3://bucket/prefix"),
        ("HOKUSAI_S3_ENDPOINT_URL", "localhost:9000", "http:// or https://"),
    ],
)
def test_invalid_value_is_one_line_naming_the_variable_and_what_it_accepts(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, accepts: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = caught.value.message
    assert "\n" not in message
    assert message.startswith(f"{variable}={value!r} is invalid")
    assert accepts in message
    assert caught.value.exit_code == 2


def test_every_setting_is_documented_in_the_one_table() -> None:
    text = DOCS.read_text()
    documented = set(re.findall(r"^\| `(HOKUSAI_[A-Z0-9_]+)` \|", text, flags=re.MULTILINE))
    declared = {env_name(field) for field in Settings.model_fields}
    assert declared <= documented, f"undocumented: {sorted(declared - documented)}"
