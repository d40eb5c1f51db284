"""The client's subcommands of ``podplus``, for a terminal and for scripts.

    podplus login --server URL [--email E]     the token goes to <config dir>/credentials.json
    podplus logout
    podplus upload FILE… [--kind KIND]
    podplus episodes
    podplus assemble EPISODE [--wait] [--download PATH]
    podplus produce FILE… [--show SHOW] [--title T] [--intro F] [--outro F] [--music-bed F]
                          [--options JSON] [--wait] [--download PATH]

Every command takes ``--json``: its result is one JSON document on stdout (after the
progress as JSON lines, when it waits). Exit codes: 0 done; 1 the API refused (its message
and code on stderr); 2 usage (not logged in, no such file); 3 the assembly failed or was
cancelled; 4 the server can't be reached; 130 interrupted. The token is never printed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import getpass
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

from podplus.client.config import Credentials, CredentialStore
from podplus.client.errors import ApiRefused, ClientError, ServerUnreachable, UsageError
from podplus.client.progress import Reporter, size_text
from podplus.settings import ClientSettings

if TYPE_CHECKING:
    from podplus.client.api import PodplusClient

MEDIA_KINDS = ("content", "intro", "outro", "music", "cover")
# `--download out.m4a` asks for m4a unless --options says otherwise.
FORMAT_OF_SUFFIX = {".mp3": "mp3", ".m4a": "m4a", ".flac": "flac", ".wav": "wav"}
ID_LENGTH = 32


@dataclass
class Result:
    """What a command answers: ``document`` for --json, ``lines`` for people."""

    document: dict[str, Any]
    lines: list[str] = field(default_factory=list)


@dataclass
class Context:
    settings: ClientSettings
    store: CredentialStore
    out: TextIO
    err: TextIO
    stdin: TextIO
    as_json: bool
    sleep: Callable[[float], None] = time.sleep

    def reporter(self) -> Reporter:
        return Reporter.choose(self.out, as_json=self.as_json)

    def api(self) -> PodplusClient:
        """A client for the saved login; ``UsageError`` without one."""
        from podplus.client.api import PodplusClient

        credentials = self.store.load()
        if credentials is None:
            raise UsageError("Not logged in: run `podplus login --server URL` first.")
        return PodplusClient(credentials.server, token=credentials.token, sleep=self.sleep)


Handler = Callable[[Context, argparse.Namespace], Result]


def add_commands(commands: Any) -> None:
    """Add the client's subcommands to ``podplus``'s (an argparse subparsers action)."""
    login = _command(commands, "login", _login, "log in to a podplus server; keep the token")
    login.add_argument("--server", required=True, help="the server's URL, e.g. http://host:8000")
    login.add_argument("--email", help="the account (asked for on a terminal when left out)")
    _command(commands, "logout", _logout, "end the saved token and forget it")
    upload = _command(commands, "upload", _upload, "upload audio files (or a cover image)")
    upload.add_argument("files", nargs="+", type=Path, metavar="FILE")
    upload.add_argument("--kind", choices=MEDIA_KINDS, default="content")
    _command(commands, "episodes", _episodes, "list your episodes")
    assemble = _command(commands, "assemble", _assemble, "queue an episode's assembly")
    assemble.add_argument("episode", metavar="EPISODE", help="the episode's id")
    _waiting_arguments(assemble)
    produce = _command(
        commands, "produce", _produce, "upload files as an episode and assemble it, in one go"
    )
    produce.add_argument("files", nargs="+", type=Path, metavar="FILE", help="the segments")
    produce.add_argument("--show", help="a show's id, slug or title: its defaults apply")
    produce.add_argument("--title", help="the episode's title (else the first file's name)")
    produce.add_argument("--intro", type=Path, metavar="FILE")
    produce.add_argument("--outro", type=Path, metavar="FILE")
    produce.add_argument("--music-bed", type=Path, metavar="FILE")
    produce.add_argument(
        "--options", metavar="JSON", help="more episode fields, e.g. '{\"loudness\": {…}}'"
    )
    _waiting_arguments(produce)


def run(
    args: argparse.Namespace,
    *,
    settings: ClientSettings,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Run the client command ``args`` names; its exit code."""
    context = Context(
        settings=settings,
        store=CredentialStore(settings.config_dir),
        out=out or sys.stdout,
        err=err or sys.stderr,
        stdin=stdin or sys.stdin,
        as_json=args.json,
    )
    handler: Handler = args.client
    try:
        result = handler(context, args)
    except ClientError as exc:
        _report_error(context, exc)
        return exc.exit_code
    except KeyboardInterrupt:
        print("podplus: interrupted (a queued assembly goes on on the server)", file=context.err)
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as a shell tool does.
        return _quiet_broken_pipe(context)
    try:
        if context.as_json:
            context.out.write(json.dumps(result.document) + "\n")
        else:
            for line in result.lines:
                context.out.write(line + "\n")
        context.out.flush()
    except BrokenPipeError:
        return _quiet_broken_pipe(context)
    return 0


def _quiet_broken_pipe(context: Context) -> int:
    # Python would complain again when it flushes stdout at exit; point it elsewhere.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, context.out.fileno())
    return 128 + signal.SIGPIPE


# -- the commands ---------------------------------------------------------------------------


def _login(context: Context, args: argparse.Namespace) -> Result:
    from podplus.client.api import PodplusClient

    server = _server_url(args.server)
    email = args.email or _ask(context, "Email: ")
    password = context.settings.password or _ask_secret(context)
    with PodplusClient(server) as api:
        token = api.login(email, password)
    expires_at = time.time() + float(token.get("expires_in") or 0)
    context.store.save(
        Credentials(server=server, email=email, token=token["access_token"], expires_at=expires_at)
    )
    minutes = int(token.get("expires_in") or 0) // 60
    return Result(
        {
            "server": server,
            "email": email,
            "expires_at": _iso(expires_at),
            "credentials": str(context.store.path),
        },
        [f"Logged in to {server} as {email} for {minutes} min; the token is kept in "
         f"{context.store.path}."],
    )  # fmt: skip


def _logout(context: Context, args: argparse.Namespace) -> Result:
    credentials = context.store.load()
    if credentials is None:
        return Result({"logged_out": False}, ["Not logged in."])
    try:
        with context.api() as api:
            api.logout()
    except ApiRefused as exc:
        if exc.status != 401:  # 401: the token had already ended
            raise
    except ServerUnreachable as exc:
        context.store.remove()
        raise ServerUnreachable(
            f"{exc.message} The token is forgotten here but still works until it expires."
        ) from exc
    context.store.remove()
    return Result(
        {"logged_out": True, "server": credentials.server, "email": credentials.email},
        [f"Logged out of {credentials.server}."],
    )


def _upload(context: Context, args: argparse.Namespace) -> Result:
    paths = _readable(args.files)
    reporter = context.reporter()
    items: list[dict[str, Any]] = []
    with context.api() as api:
        for path in paths:

            def progress(done: int, total: int, name: str = path.name) -> None:
                reporter.transfer("upload", name, done, total)

            try:
                items.append(api.upload(path, kind=args.kind, progress=progress))
            except ClientError as exc:
                reporter.finish()
                exc.document = {"items": items}
                raise
    reporter.finish()
    return Result({"items": items}, [_media_line(item) for item in items])


def _episodes(context: Context, args: argparse.Namespace) -> Result:
    with context.api() as api:
        items = list(api.pages("/api/episodes"))
    lines = [f"{'ID':<32}  {'STATUS':<10}  {'LENGTH':>8}  TITLE"]
    lines += [
        f"{item['id']:<32}  {item['status']:<10}  {_seconds(item.get('duration_s')):>8}  "
        f"{item['title']}"
        for item in items
    ]
    return Result({"items": items}, lines if items else ["No episodes yet."])


def _assemble(context: Context, args: argparse.Namespace) -> Result:
    download = _download_path(args.download)
    with context.api() as api:
        accepted = api.assemble(args.episode)
        return _follow(context, api, args.episode, accepted["job_id"], args, download)


def _produce(context: Context, args: argparse.Namespace) -> Result:
    download = _download_path(args.download)
    extras = {"intro": args.intro, "outro": args.outro, "music_bed": args.music_bed}
    paths = _readable([*args.files, *(path for path in extras.values() if path is not None)])
    reporter = context.reporter()
    sending = paths[0].name if len(paths) == 1 else f"{len(paths)} files"
    with context.api() as api:
        show_id = _show_id(api, args.show) if args.show else None
        accepted = api.produce(
            paths[: len(args.files)],
            **extras,
            show_id=show_id,
            title=args.title,
            options=_with_format(args.options, download),
            progress=lambda done, total: reporter.transfer("upload", sending, done, total),
        )
        reporter.finish()
        episode, job = accepted["episode"], accepted["job"]
        return _follow(context, api, episode["id"], job["id"], args, download)


def _follow(
    context: Context,
    api: PodplusClient,
    episode_id: str,
    job_id: str,
    args: argparse.Namespace,
    download: Path | None,
) -> Result:
    """After queueing: the job as it stands, or (``--wait``, ``--download``) as it ends,
    with the episode's figures and its audio saved."""
    if not (args.wait or download):
        job = api.job(job_id)
        return Result(
            {"job": job, "episode": api.episode(episode_id)},
            [f"Queued job {job_id} for episode {episode_id}; add --wait to follow it."],
        )
    reporter = context.reporter()
    try:
        job = api.wait(job_id, on_update=reporter.job)
    finally:
        reporter.finish()
    episode = api.episode(episode_id)
    document: dict[str, Any] = {"job": job, "episode": episode}
    lines = [
        f"Assembled episode {episode_id} ({episode['title']}): "
        f"{_seconds(episode.get('duration_s'))}, {_lufs(episode.get('integrated_lufs'))}, "
        f"{size_text(episode.get('size_bytes') or 0)}."
    ]
    if download is not None:
        try:
            size_bytes = api.download(
                episode_id,
                download,
                progress=lambda done, total: reporter.transfer(
                    "download", download.name, done, total
                ),
            )
        finally:
            reporter.finish()
        document["download"] = {"path": str(download), "size_bytes": size_bytes}
        lines.append(f"Saved {download} ({size_text(size_bytes)}).")
    return Result(document, lines)


# -- helpers --------------------------------------------------------------------------------


def _command(commands: Any, name: str, handler: Handler, summary: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(name, help=summary, description=summary)
    parser.add_argument(
        "--json", action="store_true", help="print the result as JSON (progress as JSON lines)"
    )
    parser.set_defaults(client=handler)
    return parser


def _waiting_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", action="store_true", help="follow the assembly until it ends")
    parser.add_argument(
        "--download",
        type=Path,
        metavar="PATH",
        help="save the assembled audio here (implies --wait)",
    )


def _report_error(context: Context, exc: ClientError) -> None:
    status = f", HTTP {exc.status}" if isinstance(exc, ApiRefused) else ""
    print(f"podplus: {exc.message} ({exc.code}{status})", file=context.err)
    if context.as_json:
        error: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if isinstance(exc, ApiRefused):
            error["status"] = exc.status
        context.out.write(json.dumps({"error": error, **exc.document}) + "\n")
        context.out.flush()


def _server_url(raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise UsageError(
            f"--server: expected an http(s) URL such as http://127.0.0.1:8000, not {raw!r}."
        )
    return raw.strip().rstrip("/")


def _ask(context: Context, prompt: str) -> str:
    if not context.stdin.isatty():
        raise UsageError("--email is required when not on a terminal.")
    context.err.write(prompt)
    context.err.flush()
    answer = context.stdin.readline().strip()
    if not answer:
        raise UsageError("An email is required.")
    return answer


def _ask_secret(context: Context) -> str:
    if not context.stdin.isatty():
        raise UsageError("Set PODPLUS_PASSWORD, or log in on a terminal to be asked.")
    return getpass.getpass("Password: ")


def _readable(paths: list[Path]) -> list[Path]:
    for path in paths:
        if not path.is_file():
            raise UsageError(f"{path}: no such file.")
    return paths


def _download_path(path: Path | None) -> Path | None:
    """Checked before anything is sent: a typo costs nothing."""
    if path is None:
        return None
    if path.is_dir():
        raise UsageError(f"--download: {path} is a folder; name the file to write.")
    if not path.parent.is_dir():
        raise UsageError(f"--download: no folder {path.parent} to write {path.name} in.")
    return path


def _show_id(api: PodplusClient, show: str) -> str:
    """A show's id from its id, slug or title (left to the server to refuse if none)."""
    if len(show) == ID_LENGTH and all(c in "0123456789abcdef" for c in show):
        return show
    for item in api.pages("/api/shows"):
        if show in (item.get("slug"), item.get("title")):
            return str(item["id"])
    return show


def _with_format(options: str | None, download: Path | None) -> str | None:
    """The options, with the format the ``--download`` name asks for unless they set one."""
    wanted = FORMAT_OF_SUFFIX.get(download.suffix.lower()) if download else None
    if wanted is None:
        return options
    try:
        data = json.loads(options) if options else {}
    except ValueError:
        return options  # the server says what is wrong with it
    if not isinstance(data, dict):
        return options
    output = data.setdefault("output", {})
    if isinstance(output, dict):
        output.setdefault("format", wanted)
    return json.dumps(data)


def _media_line(item: dict[str, Any]) -> str:
    return (
        f"{item['id']}  {item['kind']:<7}  {_seconds(item.get('duration_s')):>8}  "
        f"{_lufs(item.get('loudness_lufs')):>10}  {item['filename']}"
    )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _lufs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} LUFS"


def _iso(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).isoformat().replace("+00:00", "Z")
