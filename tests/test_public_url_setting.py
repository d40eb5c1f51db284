"""``PODPLUS_PUBLIC_URL`` and ``PODPLUS_MAX_SHOWS_PER_USER``: read at the edge, refused with
one line naming the variable when wrong."""

from __future__ import annotations

import pytest

from podplus.errors import SettingsError
from podplus.settings import Settings


def test_the_public_url_is_kept_without_its_trailing_slash() -> None:
    settings = Settings.from_env({"PODPLUS_PUBLIC_URL": "https://podcasts.example.com/"})
    assert settings.public_url == "https://podcasts.example.com"
    assert Settings.from_env({}).public_url == ""
    assert Settings.from_env({"PODPLUS_MAX_SHOWS_PER_USER": "3"}).max_shows_per_user == 3


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PODPLUS_PUBLIC_URL", "podcasts.example.com"),
        ("PODPLUS_PUBLIC_URL", "ftp://podcasts.example.com"),
        ("PODPLUS_PUBLIC_URL", "https://"),
        ("PODPLUS_PUBLIC_URL", "https://example.com/?q=1"),
        ("PODPLUS_PUBLIC_URL", "https://exa mple.com"),
        ("PODPLUS_MAX_SHOWS_PER_USER", "0"),
    ],
)
def test_a_wrong_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
