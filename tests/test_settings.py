"""Settings come from PODPLUS_* variables, once, and a bad one stops start-up by name."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from podplus.errors import SettingsError
from podplus.settings import Settings


def test_defaults_live_under_var(tmp_path: Path) -> None:
    settings = Settings.from_env({"PODPLUS_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'podplus.db'}"
    assert settings.media_root == tmp_path / "media"
    assert settings.token_ttl_s == 3600
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.max_upload_bytes == 500 * 1024 * 1024
    assert settings.max_concurrent_assemblies == (os.cpu_count() or 1)


def test_settings_are_frozen() -> None:
    settings = Settings.from_env({})
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PODPLUS_PORT", "eighty"),
        ("PODPLUS_TOKEN_TTL_S", "-5"),
        ("PODPLUS_DATABASE_URL", "mysql://x"),
        ("PODPLUS_SECRET_KEY", "short"),
        ("PODPLUS_MAX_UPLOAD_MB", "0"),
        ("PODPLUS_RUN_JOBS", "maybe"),
    ],
)
def test_a_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: value})
    assert caught.value.message.startswith(f"{name}=")


def test_a_bad_setting_stops_serve_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "podplus", "serve"],
        env={**os.environ, "PODPLUS_DATA_DIR": str(tmp_path), "PODPLUS_PORT": "99999"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "podplus: bad setting PODPLUS_PORT='99999': expected a port number between 1 and 65535"
    ]


def test_without_a_key_one_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = Settings.from_env({"PODPLUS_DATA_DIR": str(tmp_path)}).with_secret_key()
    second = Settings.from_env({"PODPLUS_DATA_DIR": str(tmp_path)}).with_secret_key()
    key_file = tmp_path / "secret.key"
    assert len(first.secret_key) >= 64
    assert first.secret_key == second.secret_key == key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_an_explicit_key_wins_and_writes_nothing(tmp_path: Path) -> None:
    key = "k" * 40
    settings = Settings.from_env(
        {"PODPLUS_DATA_DIR": str(tmp_path), "PODPLUS_SECRET_KEY": key}
    ).with_secret_key()
    assert settings.secret_key == key
    assert not (tmp_path / "secret.key").exists()
