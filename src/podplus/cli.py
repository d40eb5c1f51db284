"""The ``podplus`` command: ``serve``, ``worker``, ``user create``, ``user admin``, ``status``
on the server's host; ``login``, ``logout``, ``upload``, ``episodes``, ``assemble``,
``produce`` from anywhere, as a client of a server's HTTP API (``podplus.client``)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from podplus.errors import PodplusError, SettingsError
from podplus.logs import configure_logging
from podplus.settings import ClientSettings, Settings

if TYPE_CHECKING:
    from podplus.storage.users import User
    from podplus.web.schemas import UserCreate


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "client", None) is not None:
        # A client needs no server settings (nor a secret key in ./var).
        from podplus.client.commands import run

        return run(args, settings=ClientSettings.from_env())
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

    worker = commands.add_parser(
        "worker",
        help="run only jobs, no HTTP (on PostgreSQL: a procrastinate worker; SIGTERM drains it)",
    )
    worker.set_defaults(handler=_worker)

    status = commands.add_parser("status", help="print the jobs and the live engine processes")
    status.set_defaults(handler=_status)

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
    admin = user.add_parser(
        "admin",
        help="grant admin rights (/api/admin/*) to an account, or take them back",
        description="The only way to grant admin rights: signing up never does. A running "
        "server sees the change on its next request.",
    )
    admin.add_argument("email")
    admin.add_argument("--revoke", action="store_true", help="take admin rights away")
    admin.set_defaults(handler=_user_admin)

    from podplus.client.commands import add_commands

    add_commands(commands)
    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from dataclasses import replace

    import uvicorn

    from podplus.app import create_app

    configure_logging(settings.log_level)
    # The app knows where it listens: without PODPLUS_PUBLIC_URL, a loopback address is
    # the base of its feeds' URLs (``podplus.web.public_urls``).
    settings = replace(settings, host=args.host or settings.host, port=args.port or settings.port)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        # uvicorn would believe X-Forwarded-For from 127.0.0.1 by default, so anyone on this
        # host (or any proxy here that passes the header on) could pick the address the
        # login throttle counts. Only the proxies named in the setting are believed.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=list(settings.forwarded_allow_ips) or "",
    )
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    configure_logging(settings.log_level)
    asyncio.run(_run_worker(settings))
    return 0


async def _run_worker(settings: Settings) -> None:
    import signal

    from podplus.services import open_services

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    services = await open_services(settings, run_jobs=True)
    try:
        await stop.wait()
    finally:
        await services.close()


def _status(settings: Settings, args: argparse.Namespace) -> int:
    print(asyncio.run(_status_table(settings)))
    return 0


async def _status_table(settings: Settings) -> str:
    from podplus.ids import isoformat
    from podplus.services import open_services
    from podplus.web.admin import live_engines

    services = await open_services(settings, run_jobs=False)
    try:
        counts = await services.jobs.count_by_status()
        engines = await live_engines(services)
        jobs = {stats.job_id: await services.jobs.get(stats.job_id) for stats in engines}
    finally:
        await services.close()
    lines = ["jobs: " + (", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none")]
    header = f"{'PID':>7}  {'JOB':32}  {'EPISODE':32}  {'STARTED':24}  {'RSS MB':>7}  {'CPU%':>5}"
    lines += ["", header]
    for stats in engines:
        job = jobs.get(stats.job_id)
        lines.append(
            f"{stats.pid:>7}  {stats.job_id:32}  {(job.episode_id if job else '-'):32}  "
            f"{isoformat(stats.started_at) or '-':24}  {stats.rss_bytes / 1e6:>7.1f}  "
            f"{stats.cpu_percent:>5.1f}"
        )
    if not engines:
        lines.append("(no engine running on this host)")
    return "\n".join(lines)


def _user_create(settings: Settings, args: argparse.Namespace) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
    from podplus.engine.spec import SpecError, read
    from podplus.web.schemas import UserCreate

    try:
        fields = {"email": args.email, "password": password, "name": args.name or None}
        signup = read(UserCreate, fields)
    except SpecError as exc:
        print(f"podplus: {exc.message}", file=sys.stderr)
        return 2
    user = asyncio.run(_create_user(settings, signup, args.admin))
    print(f"created {user.email} id={user.id} admin={args.admin}")
    return 0


async def _create_user(settings: Settings, signup: UserCreate, is_admin: bool) -> User:
    from podplus.security.strength import account_words
    from podplus.services import open_services

    email = signup.email.strip().lower()
    name = (signup.name or "").strip()
    services = await open_services(settings, run_jobs=False)
    try:
        return await services.users.create(
            email=email,
            name=name,
            password_hash=await services.hasher.hash_new(
                signup.password, user_inputs=account_words(email, name)
            ),
            is_admin=is_admin,
        )
    finally:
        await services.close()


def _user_admin(settings: Settings, args: argparse.Namespace) -> int:
    user = asyncio.run(_set_admin(settings, args.email, is_admin=not args.revoke))
    print(f"{user.email} id={user.id} admin={user.is_admin}")
    return 0


async def _set_admin(settings: Settings, email: str, *, is_admin: bool) -> User:
    from podplus.services import open_services

    services = await open_services(settings, run_jobs=False)
    try:
        return await services.users.set_admin(email.strip(), is_admin=is_admin)
    finally:
        await services.close()


if __name__ == "__main__":
    sys.exit(main())
