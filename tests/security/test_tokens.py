"""Tokens: HS256 only, claims required, and a remembered token still expires."""

from __future__ import annotations

import jwt
import pytest

from podplus.errors import TokenExpired, TokenInvalid, Unauthorized
from podplus.security.tokens import TokenCodec

KEY = "k" * 64


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_token_names_its_user_until_it_expires() -> None:
    clock = Clock()
    codec = TokenCodec(secret_key=KEY, ttl_s=60, clock=clock)
    issued = codec.issue("user-1")
    assert issued.expires_in_s == 60
    assert codec.subject(issued.access_token) == "user-1"
    clock.now += 59
    assert codec.subject(issued.access_token) == "user-1"  # remembered
    clock.now += 1
    with pytest.raises(TokenExpired, match="expired"):
        codec.subject(issued.access_token)


def test_a_token_never_seen_is_refused_once_its_exp_passes() -> None:
    clock = Clock()
    issued = TokenCodec(secret_key=KEY, ttl_s=60, clock=clock).issue("user-1")
    clock.now += 61
    with pytest.raises(TokenExpired):
        TokenCodec(secret_key=KEY, ttl_s=60, clock=clock).subject(issued.access_token)


def test_the_algorithm_is_pinned() -> None:
    codec = TokenCodec(secret_key=KEY, ttl_s=60)
    claims = jwt.decode(codec.issue("u").access_token, KEY, algorithms=["HS256"])
    forged = jwt.encode(claims, KEY, algorithm="HS384")
    with pytest.raises(TokenInvalid):
        codec.subject(forged)


@pytest.mark.parametrize(
    "claims",
    [{"iat": 1, "exp": 2**40}, {"sub": "u", "iat": 1}, {"sub": "", "iat": 1, "exp": 2**40}],
    ids=["no sub", "no exp", "empty sub"],
)
def test_a_token_missing_a_claim_is_invalid(claims: dict[str, object]) -> None:
    with pytest.raises(TokenInvalid) as refused:
        TokenCodec(secret_key=KEY, ttl_s=60).subject(jwt.encode(claims, KEY, algorithm="HS256"))
    assert not isinstance(refused.value, TokenExpired)


def test_every_token_refusal_is_unauthorized() -> None:
    assert issubclass(TokenExpired, TokenInvalid)
    assert issubclass(TokenInvalid, Unauthorized)


def test_every_token_has_its_own_id_and_a_precise_issue_time() -> None:
    clock = Clock(1_700_000_000.25)
    codec = TokenCodec(secret_key=KEY, ttl_s=60, clock=clock)
    first, second = (codec.verify(codec.issue("u").access_token) for _ in range(2))
    assert first.token_id != second.token_id
    assert first.issued_at == 1_700_000_000.25
    assert first.expires_at == 1_700_000_060.25


def test_a_token_issued_not_before_a_time_is_issued_then() -> None:
    clock = Clock()
    codec = TokenCodec(secret_key=KEY, ttl_s=60, clock=clock)
    claims = codec.verify(codec.issue("u", not_before=clock.now + 0.5).access_token)
    assert claims.issued_at == clock.now + 0.5


def test_a_token_without_an_id_is_invalid() -> None:
    claims = {"sub": "u", "iat": 1, "exp": 2**40}
    with pytest.raises(TokenInvalid):
        TokenCodec(secret_key=KEY, ttl_s=60).verify(jwt.encode(claims, KEY, algorithm="HS256"))
