"""Reading request bodies and the caller's identity."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from podplus.errors import BadRequest, Unauthorized
from podplus.services import Services
from podplus.storage.users import User


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or a 400 that says what was wrong with it."""
    body = await request.body()
    try:
        data = json.loads(body) if body else None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    return data


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send an Authorization: Bearer <token> header.")
    return token.strip()


async def current_user(request: Request) -> User:
    found = services(request)
    user_id = found.tokens.subject(bearer_token(request))
    user = await found.users.by_id(user_id)
    if user is None:
        raise Unauthorized("The token's account no longer exists.")
    return user


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
