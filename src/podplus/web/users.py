"""Accounts and tokens: sign-up, the OAuth2 password flow, and "who am I"."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from podplus.errors import BadRequest
from podplus.ids import isoformat
from podplus.storage.users import User
from podplus.web.requests import (
    body_bytes,
    client_address,
    current_user,
    json_body,
    services,
    validated,
)
from podplus.web.schemas import TokenOut, TokenRequest, UserCreate, UserOut, json_response

# A login form is two short fields; anything bigger is not one.
MAX_FORM_BYTES = 8 * 1024


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id, email=user.email, name=user.name, created_at=isoformat(user.created_at)
    )


async def create_user(request: Request) -> Response:
    signup = await json_body(request, UserCreate)
    email = signup.email.strip().lower()
    found = services(request)
    password_hash = await found.hasher.hash(signup.password)
    user = await found.users.create(
        email=email,
        name=(signup.name or "").strip(),
        password_hash=password_hash,
        is_admin=email in found.settings.admin_emails,
    )
    return json_response(user_out(user), status_code=201)


async def issue_token(request: Request) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise BadRequest(
            "Send username and password as application/x-www-form-urlencoded "
            "(the OAuth2 password flow)."
        )
    body = await body_bytes(request, max_bytes=MAX_FORM_BYTES)
    try:
        fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=16)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("The form is not valid UTF-8 url-encoded text.") from exc
    form = validated(TokenRequest, dict(fields))
    found = services(request)
    user = await found.login.authenticate(
        email=form.username, password=form.password, address=client_address(request)
    )
    token = found.tokens.issue(user.id)
    return json_response(
        TokenOut(access_token=token.access_token, expires_in=token.expires_in_s),
        headers={"Cache-Control": "no-store"},
    )


async def me(request: Request) -> Response:
    return json_response(user_out(await current_user(request)))
