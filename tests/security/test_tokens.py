"""Tokens: HS256 only, claims required, and a remembered token still expires."""

from __future__ import annotations

import time

import jwt
import pytest

from podplus.errors import Unauthorized
from podplus.security.tokens import TokenCodec

KEY = "k" * 64


def test_a_token_names_its_user_until_it_expires() -> None:
    codec = TokenCodec(secret_key=KEY, ttl_s=60)
    issued = codec.issue("user-1", now=1_000_000_000)
    with pytest.raises(Unauthorized, match="expired"):
        codec.subject(issued.access_token)
    fresh = codec.issue("user-1")
    assert codec.subject(fresh.access_token) == "user-1"
    assert codec.subject(fresh.access_token) == "user-1"  # remembered


def test_a_remembered_token_is_refused_once_its_exp_passes() -> None:
    codec = TokenCodec(secret_key=KEY, ttl_s=1)
    issued = codec.issue("user-1")
    assert codec.subject(issued.access_token) == "user-1"
    time.sleep(2.05)  # exp has whole-second resolution
    with pytest.raises(Unauthorized, match="expired"):
        codec.subject(issued.access_token)


def test_the_algorithm_is_pinned() -> None:
    codec = TokenCodec(secret_key=KEY, ttl_s=60)
    claims = jwt.decode(codec.issue("u").access_token, KEY, algorithms=["HS256"])
    forged = jwt.encode(claims, KEY, algorithm="HS384")
    with pytest.raises(Unauthorized):
        codec.subject(forged)
