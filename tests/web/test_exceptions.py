"""Every podplus error becomes one HTTP answer, decided in ``podplus.web.exceptions`` alone."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from podplus import errors
from podplus.errors import (
    BadCredentials,
    BadRequest,
    Conflict,
    EmailTaken,
    EpisodeBusy,
    Forbidden,
    InvalidInput,
    LoginThrottled,
    NotFound,
    PayloadTooLarge,
    PodplusError,
    SettingsError,
    TokenExpired,
    TokenInvalid,
    Unauthorized,
    UnsupportedMedia,
)
from podplus.web.exceptions import EXCEPTION_HANDLERS

ANSWERS = [
    (BadRequest("not JSON"), 400, "bad_request"),
    (InvalidInput("title: too long", field="title"), 422, "invalid_input"),
    (Unauthorized("no token"), 401, "unauthorized"),
    (BadCredentials(), 401, "unauthorized"),
    (TokenInvalid(), 401, "unauthorized"),
    (TokenExpired(), 401, "unauthorized"),
    (Forbidden("admins only"), 403, "forbidden"),
    (NotFound("no such episode"), 404, "not_found"),
    (Conflict("finished"), 409, "conflict"),
    (EmailTaken("ada@example.com"), 409, "conflict"),
    (EpisodeBusy("e1"), 409, "conflict"),
    (PayloadTooLarge("over 500 MB"), 413, "payload_too_large"),
    (UnsupportedMedia("not audio"), 415, "unsupported_media"),
    (LoginThrottled(retry_after_s=42), 429, "too_many_requests"),
]


async def answer(error: Exception) -> httpx.Response:
    async def fail(request: Request) -> None:
        raise error

    app = Starlette(
        routes=[Route("/", fail)],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get("/")


@pytest.mark.parametrize(("error", "status", "code"), ANSWERS, ids=lambda v: type(v).__name__)
async def test_each_error_answers_with_its_status_code_and_message(
    error: PodplusError, status: int, code: str
) -> None:
    response = await answer(error)
    assert response.status_code == status
    assert response.json() == {"error": {"code": code, "message": error.message}}


async def test_a_refused_credential_asks_for_a_bearer_token() -> None:
    for error in (Unauthorized("no token"), BadCredentials(), TokenExpired()):
        assert (await answer(error)).headers["www-authenticate"] == "Bearer"


async def test_a_throttled_login_says_when_to_retry() -> None:
    response = await answer(LoginThrottled(retry_after_s=42))
    assert response.headers["retry-after"] == "42"


async def test_an_error_with_no_answer_of_its_own_is_a_500_that_hides_its_message() -> None:
    response = await answer(SettingsError("PODPLUS_SECRET_KEY: too short"))
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "Something went wrong on our side."}
    }


def test_errors_know_nothing_about_http() -> None:
    for name in dir(errors):
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, PodplusError):
            assert not hasattr(value, "status_code"), name
            assert not hasattr(value, "code"), name
