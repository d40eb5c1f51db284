"""Accounts and tokens: sign-up, the OAuth2 password flow, and "who am I"."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from podplus.errors import BadRequest, InvalidInput, Unauthorized
from podplus.ids import isoformat
from podplus.storage.users import User
from podplus.web.requests import client_address, current_user, json_object, services

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
# Deliberately simple: one @, a dot in the domain, no spaces. Deliverability is the
# mail server's question, not a regex's.
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")
BAD_CREDENTIALS = "Incorrect email or password."


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "created_at": isoformat(user.created_at),
    }


def validate_email(value: Any) -> str:
    if not isinstance(value, str) or not EMAIL_PATTERN.match(value.strip()):
        raise InvalidInput("email: must be an email address like name@example.com.")
    return value.strip().lower()


def validate_password(value: Any) -> str:
    if not isinstance(value, str) or len(value) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password: must be at least {MIN_PASSWORD_LENGTH} characters.")
    if len(value) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"password: must be at most {MAX_PASSWORD_LENGTH} characters.")
    return value


def validate_name(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 200:
        raise InvalidInput("name: must be a string of at most 200 characters.")
    return value.strip()


async def create_user(request: Request) -> JSONResponse:
    data = await json_object(request)
    email = validate_email(data.get("email"))
    password = validate_password(data.get("password"))
    name = validate_name(data.get("name"))
    found = services(request)
    password_hash = await found.hasher.hash(password)
    user = await found.users.create(
        email=email,
        name=name,
        password_hash=password_hash,
        is_admin=email in found.settings.admin_emails,
    )
    return JSONResponse(user_json(user), status_code=201)


async def issue_token(request: Request) -> JSONResponse:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        raise BadRequest("Send username and password form-encoded (the OAuth2 password flow).")
    form = await request.form()
    username, password = form.get("username"), form.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        raise InvalidInput("username and password: both are required form fields.")
    email = username.strip().lower()
    address = client_address(request)
    found = services(request)
    await found.throttle.check(email=email, address=address)
    user = await found.users.by_email(email)
    ok = await found.hasher.verify(user.password_hash if user else None, password)
    if user is None or not ok:
        await found.throttle.failed(email=email, address=address)
        raise Unauthorized(BAD_CREDENTIALS)
    await found.throttle.succeeded(email=email)
    if found.hasher.needs_rehash(user.password_hash):
        await found.users.set_password_hash(user.id, await found.hasher.hash(password))
    token = found.tokens.issue(user.id)
    return JSONResponse(
        {
            "access_token": token.access_token,
            "token_type": "bearer",
            "expires_in": token.expires_in_s,
        },
        headers={"Cache-Control": "no-store"},
    )


async def me(request: Request) -> JSONResponse:
    return JSONResponse(user_json(await current_user(request)))
