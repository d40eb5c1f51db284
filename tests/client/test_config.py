"""Where the client keeps its login: a file only its owner can read, replaced whole."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from podplus.client.config import Credentials, CredentialStore
from podplus.client.errors import UsageError
from podplus.settings import ClientSettings

LOGIN = Credentials(server="http://h:8000", email="a@b.io", token="secret-token", expires_at=1.0)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """A umask that would leave new files readable by everyone."""
    before = os.umask(0o000)
    try:
        yield
    finally:
        os.umask(before)


def test_the_file_is_the_owner_s_alone_whatever_the_umask(
    tmp_path: Path, permissive_umask: None
) -> None:
    store = CredentialStore(tmp_path / "podplus")
    store.save(LOGIN)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.folder.stat().st_mode) == 0o700
    assert store.load() == LOGIN


def test_a_new_login_replaces_the_old_one_whole(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    store.save(LOGIN)
    newer = Credentials(server="https://other", email="c@d.io", token="t2", expires_at=None)
    store.save(newer)
    assert store.load() == newer
    assert [p.name for p in tmp_path.iterdir()] == ["credentials.json"]
    assert store.remove() and not store.remove()
    assert store.load() is None


def test_the_token_is_not_in_the_login_s_repr() -> None:
    assert "secret-token" not in repr(LOGIN)


def test_a_file_that_is_not_a_login_says_to_log_in_again(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    store.path.write_text("{not json")
    with pytest.raises(UsageError, match="podplus login"):
        store.load()


@pytest.mark.parametrize(
    ("environ", "folder"),
    [
        ({"XDG_CONFIG_HOME": "/cfg", "HOME": "/home/ada"}, "/cfg/podplus"),
        ({"XDG_CONFIG_HOME": "relative", "HOME": "/home/ada"}, "/home/ada/.config/podplus"),
        ({"HOME": "/home/ada"}, "/home/ada/.config/podplus"),
    ],
)
def test_the_config_folder_follows_xdg(environ: dict[str, str], folder: str) -> None:
    assert ClientSettings.from_env(environ).config_dir == Path(folder)


def test_the_password_from_the_environment_is_never_shown() -> None:
    settings = ClientSettings.from_env({"HOME": "/h", "PODPLUS_PASSWORD": "hunter2 hunter2"})
    assert settings.password == "hunter2 hunter2"
    assert "hunter2" not in repr(settings)
