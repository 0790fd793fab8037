from pathlib import Path

import pytest

from core.config import load_settings
from core.errors import ConfigError


def test_defaults_work_on_one_machine(data_dir: Path) -> None:
    settings = load_settings()
    assert settings.data_dir == data_dir and data_dir.is_dir()
    assert settings.models_path == data_dir / "models"
    assert settings.database.startswith("sqlite+aiosqlite:///")
    assert settings.device == "auto"


def test_env_file_is_read(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("NARCIS_DEVICE=cuda:1\nNARCIS_LLM_MODEL=local-llama\n")
    settings = load_settings()
    assert (settings.device, settings.llm_model) == ("cuda:1", "local-llama")


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("NARCIS_DEVICE", "tpu", "NARCIS_DEVICE: unknown device 'tpu'"),
        ("NARCIS_REDIS_URL", "localhost:6379", "NARCIS_REDIS_URL: malformed URL"),
        ("NARCIS_DTYPE", "fp8", "NARCIS_DTYPE:"),
        ("NARCIS_DATA_DIR", "/proc/narcis", "NARCIS_DATA_DIR: cannot create '/proc/narcis'"),
    ],
)
def test_invalid_values_name_their_variable(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message
