"""Reading request bodies and the caller's identity."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.requests import Request

from podplus.engine.spec import SpecError, parse_json, read
from podplus.errors import BadRequest, InvalidInput, PayloadTooLarge, Unauthorized
from podplus.services import Services
from podplus.storage.users import User

Model = TypeVar("Model", bound=BaseModel)


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


async def body_bytes(request: Request, *, max_bytes: int) -> bytes:
    """The body, read as it streams and refused as soon as it passes ``max_bytes``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"The body is over the limit of {max_bytes} bytes.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"The body is over the limit of {max_bytes} bytes.")
    return bytes(body)


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object (standard JSON only), or a 400 that says what is wrong."""
    content_type = request.headers.get("content-type", "application/json")
    if content_type.split(";")[0].strip().lower() not in {"application/json", ""}:
        raise BadRequest("Send the body as application/json.")
    body = await body_bytes(request, max_bytes=services(request).settings.max_json_bytes)
    if not body:
        raise BadRequest("The body must be a JSON object.")
    try:
        data = parse_json(body)
    except SpecError as exc:
        raise BadRequest(f"The body is {exc.message}.") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    return data


def validated(model: type[Model], data: Any) -> Model:
    """``data`` checked against ``model``; a 422 naming the first field that is wrong."""
    try:
        return read(model, data)
    except SpecError as exc:
        raise InvalidInput(exc.message) from None


async def json_body(request: Request, model: type[Model]) -> Model:
    return validated(model, await json_object(request))


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send an Authorization: Bearer <token> header.")
    return token.strip()


async def current_user(request: Request) -> User:
    return await user_for_token(request, bearer_token(request))


async def user_for_token(request: Request, token: str) -> User:
    return await services(request).sessions.user_for(token)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
