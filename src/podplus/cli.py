"""The ``podplus`` command: ``serve``, ``worker``, ``user create``, ``status``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence

from podplus.errors import PodplusError, SettingsError
from podplus.logs import configure_logging
from podplus.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env().with_secret_key()
    except SettingsError as exc:
        print(f"podplus: bad setting {exc.message}", file=sys.stderr)
        return 2
    try:
        return int(args.handler(settings, args) or 0)
    except PodplusError as exc:
        print(f"podplus: {exc.message}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="podplus", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP API (and, by default, the job runner)")
    serve.add_argument("--host", help="overrides PODPLUS_HOST")
    serve.add_argument("--port", type=int, help="overrides PODPLUS_PORT")
    serve.set_defaults(handler=_serve)

    user = commands.add_parser("user", help="manage accounts").add_subparsers(
        dest="user_command", required=True
    )
    create = user.add_parser("create", help="create an account")
    create.add_argument("email")
    create.add_argument("--name", default="")
    create.add_argument("--admin", action="store_true", help="may see /api/admin/*")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create.set_defaults(handler=_user_create)
    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from podplus.app import create_app

    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    return 0


def _user_create(settings: Settings, args: argparse.Namespace) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
    user = asyncio.run(_create_user(settings, args.email, password, args.name, args.admin))
    print(f"created {user['email']} id={user['id']} admin={args.admin}")
    return 0


async def _create_user(
    settings: Settings, email: str, password: str, name: str, is_admin: bool
) -> dict[str, object]:
    from podplus.services import open_services
    from podplus.web.users import user_json, validate_email, validate_name, validate_password

    services = await open_services(settings, run_jobs=False)
    try:
        user = await services.users.create(
            email=validate_email(email),
            name=validate_name(name),
            password_hash=await services.hasher.hash(validate_password(password)),
            is_admin=is_admin,
        )
    finally:
        await services.close()
    return user_json(user)


if __name__ == "__main__":
    sys.exit(main())
