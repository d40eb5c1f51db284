"""Accounts and tokens: sign-up, the OAuth2 password flow, "who am I", logout and a new
password."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from podplus.errors import BadCredentials, BadRequest, Forbidden
from podplus.ids import isoformat
from podplus.security.strength import account_words
from podplus.security.tokens import IssuedToken
from podplus.storage.users import User
from podplus.web.requests import (
    bearer_token,
    body_bytes,
    client_address,
    current_user,
    json_body,
    services,
    validated,
)
from podplus.web.schemas import (
    PasswordChange,
    TokenOut,
    TokenRequest,
    UserCreate,
    UserOut,
    json_response,
)

# A login form is two short fields; anything bigger is not one.
MAX_FORM_BYTES = 8 * 1024
NO_STORE = {"Cache-Control": "no-store"}


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id, email=user.email, name=user.name, created_at=isoformat(user.created_at)
    )


def token_out(token: IssuedToken) -> Response:
    return json_response(
        TokenOut(access_token=token.access_token, expires_in=token.expires_in_s),
        headers=NO_STORE,
    )


async def create_user(request: Request) -> Response:
    """Never an admin: admin rights are granted on the command line only
    (`podplus user admin EMAIL`). Sign-ups are counted per address."""
    signup = await json_body(request, UserCreate)
    email = signup.email.strip().lower()
    name = (signup.name or "").strip()
    found = services(request)
    await found.signups.reserve(address=client_address(request))
    password_hash = await found.hasher.hash_new(
        signup.password, user_inputs=account_words(email, name)
    )
    user = await found.users.create(email=email, name=name, password_hash=password_hash)
    return json_response(user_out(user), status_code=201)


async def issue_token(request: Request) -> Response:
    """Failed logins are counted per account and address, per address and per account;
    past a limit each further attempt waits longer (`Retry-After`)."""
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
    return token_out(found.sessions.issue(user))


async def me(request: Request) -> Response:
    return json_response(user_out(await current_user(request)))


async def log_out(request: Request) -> Response:
    """This token stops working at once; the account's other tokens don't."""
    await services(request).sessions.end(bearer_token(request))
    return Response(status_code=204, headers=NO_STORE)


async def log_out_everywhere(request: Request) -> Response:
    """Every token of the account issued until now stops working, this one included."""
    found = services(request)
    await found.sessions.end_all(await current_user(request))
    return Response(status_code=204, headers=NO_STORE)


async def change_password(request: Request) -> Response:
    """Every earlier token of the account stops working; the answer is a fresh one. The
    current password is checked like a login (and counted like one)."""
    found = services(request)
    user = await current_user(request)
    change = await json_body(request, PasswordChange)
    try:
        await found.login.authenticate(
            email=user.email, password=change.current_password, address=client_address(request)
        )
    except BadCredentials:
        raise Forbidden("current_password: is not this account's password.") from None
    password_hash = await found.hasher.hash_new(
        change.new_password,
        user_inputs=[*account_words(user.email, user.name), change.current_password],
        field="new_password",
    )
    return token_out(await found.sessions.replace_password(user, password_hash))
