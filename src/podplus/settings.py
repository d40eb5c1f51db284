"""Runtime settings: one frozen object, read from the environment at the edge.

Only this module reads ``os.environ``. Everything else receives a ``Settings``
instance explicitly (``create_app(settings)``, ``Runner(settings=...)``).
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from podplus.errors import SettingsError

T = TypeVar("T")

SECRET_KEY_BYTES = 48


@dataclass(frozen=True, kw_only=True)
class Settings:
    data_dir: Path = Path("var")
    database_url: str = ""
    media_root: Path = Path("var/media")
    secret_key: str = ""
    token_ttl_s: int = 3600
    # How long a signed audio URL (player, download link) works without a token.
    audio_link_ttl_s: int = 900
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_bytes: int = 500 * 1024 * 1024
    # JSON bodies are small (an episode with 100 parts is ~20 KB); the cap is what a
    # stranger can make the server hold in memory per request.
    max_json_bytes: int = 256 * 1024
    # What an upload may declare before anything is decoded (see ``podplus.probing``): a
    # few KB of FLAC can declare hours of 192 kHz 7.1. Four hours is a long raw recording;
    # 96 kHz is the highest rate the engine writes; 8 channels is 7.1, the widest common
    # layout (the engine mixes any of them down).
    max_media_duration_s: float = 4 * 3600.0
    max_sample_rate: int = 96000
    max_channels: int = 8
    # The loudness pass of a file of ``max_media_duration_s``; shorter files get their
    # share of it (at least 30 s). An honest 4 h stereo file takes ~25 s of one core.
    analysis_timeout_s: float = 300.0
    # Uploads of one user analysed at once, across every server (``storage.analysis_slots``).
    max_analyses_per_user: int = 2
    # Per-user quotas on uploaded media, summed from the database.
    quota_storage_bytes: int = 10 * 1024**3
    quota_media_files: int = 1000
    quota_media_duration_s: float = 100 * 3600.0
    max_concurrent_assemblies: int = field(default_factory=lambda: os.cpu_count() or 1)
    assembly_timeout_s: float = 3600.0
    assembly_max_attempts: int = 3
    # Jobs one user may have queued or running at once: one user's fifty clicks would
    # otherwise fill the queue (claiming is fair across users too, see storage/jobs.py).
    max_active_jobs_per_user: int = 5
    engine_nice: int = 10
    engine_idle_priority: bool = True
    job_lease_s: float = 30.0
    # How often an idle runner (or procrastinate worker) looks at the queue when nothing
    # woke it: a fallback, since a queued job wakes workers at once (LISTEN/NOTIFY).
    job_poll_interval_s: float = 0.5
    progress_write_interval_s: float = 0.5
    shutdown_grace_s: float = 3.0
    kill_grace_s: float = 1.0
    run_jobs: bool = True
    # Failed logins allowed before each further one is delayed (1 s, 2 s, 4 s … up to half
    # the window): for one account from one address, from one address, for one account.
    login_max_failures: int = 10
    login_address_max_failures: int = 30
    login_account_max_failures: int = 100
    login_window_s: int = 900
    login_first_delay_s: float = 1.0
    signup_max_per_address: int = 10
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (IPs, networks, "*").
    forwarded_allow_ips: tuple[str, ...] = ()
    kdf_workers: int = field(default_factory=lambda: max(1, (os.cpu_count() or 2) - 1))
    log_level: str = "info"
    # Where listeners reach this server (``https://podcasts.example.com``): the base of
    # every URL a feed carries. Empty: each feed request's own scheme and host, which is
    # right for one server answering on one name, not behind a proxy that rewrites it.
    public_url: str = ""
    # Shows one account may have (each has a feed and artwork of its own).
    max_shows_per_user: int = 100
    # Webhooks (``podplus.jobs.webhook_deliverer``): how many one account may have; each
    # attempt's whole time limit (DNS, connect, answer); retries at random within an
    # exponentially growing ceiling (full jitter: base, 2×base, 4×base … up to the max),
    # until a window after the event; deliveries in flight at once, per worker.
    max_webhooks_per_user: int = 10
    webhook_timeout_s: float = 15.0
    webhook_retry_base_s: float = 5.0
    webhook_retry_max_delay_s: float = 6 * 3600.0
    webhook_retry_window_s: float = 24 * 3600.0
    webhook_concurrency: int = 8
    webhook_poll_interval_s: float = 1.0
    # Lets webhooks reach loopback, private, link-local and CGNAT addresses (a receiver on
    # this host or the operator's network). Cloud metadata addresses stay refused.
    webhooks_allow_private: bool = False
    # How the supervisor starts the engine; ``-m`` keeps it in this interpreter's venv.
    engine_command: tuple[str, ...] = (sys.executable, "-m", "podplus.engine")
    # Where media (uploads, assembled and published audio, artwork) lives: empty for the
    # local folder ``media_root``, or ``s3://bucket/prefix`` for any S3-compatible store,
    # reached at ``s3_endpoint`` (empty: AWS itself) with these credentials.
    storage_url: str = ""
    s3_endpoint: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str = field(default="", repr=False)
    s3_secret_access_key: str = field(default="", repr=False)
    # How long one call to the store may take before it counts as down.
    s3_timeout_s: float = 30.0
    # A worker's own disk: each job's work folder, and the parts it fetched from the
    # store, kept by content up to ``scratch_cache_bytes`` for the next job that uses them.
    scratch_dir: Path = Path("var/scratch")
    scratch_cache_bytes: int = 2 * 1024**3
    # This worker's name in logs, the job rows and the queue (default: host and pid).
    worker_name: str = ""
    # Workers on PostgreSQL (procrastinate): each one's heartbeat, and how long a silent
    # one is given before its jobs run elsewhere: the crash-recovery bound.
    worker_heartbeat_s: float = 2.0
    worker_stall_s: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``PODPLUS_*`` variables.

        A bad value raises ``SettingsError`` naming the variable, which the CLI
        prints as a single line before exiting.
        """
        env = os.environ if environ is None else environ
        reader = _EnvReader(env)
        data_dir = Path(reader.get("PODPLUS_DATA_DIR", str, "var")).resolve()
        database_url = reader.get(
            "PODPLUS_DATABASE_URL", _database_url, f"sqlite:///{data_dir / 'podplus.db'}"
        )
        media_root = Path(reader.get("PODPLUS_MEDIA_ROOT", str, str(data_dir / "media"))).resolve()
        secret_key = reader.get("PODPLUS_SECRET_KEY", _secret_key, "")
        defaults = cls()
        # Admin rights came from this list once, to whoever signed up with a listed email.
        reader.get("PODPLUS_ADMIN_EMAILS", _no_admin_emails, None)
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            media_root=media_root,
            secret_key=secret_key,
            token_ttl_s=reader.get("PODPLUS_TOKEN_TTL_S", _positive(int), defaults.token_ttl_s),
            audio_link_ttl_s=reader.get(
                "PODPLUS_AUDIO_LINK_TTL_S", _positive(int), defaults.audio_link_ttl_s
            ),
            host=reader.get("PODPLUS_HOST", str, defaults.host),
            port=reader.get("PODPLUS_PORT", _port, defaults.port),
            max_upload_bytes=reader.get("PODPLUS_MAX_UPLOAD_MB", _positive(int), 500) * 1024 * 1024,
            max_json_bytes=reader.get("PODPLUS_MAX_JSON_KB", _positive(int), 256) * 1024,
            max_media_duration_s=reader.get(
                "PODPLUS_MAX_MEDIA_DURATION_S", _positive(float), defaults.max_media_duration_s
            ),
            max_sample_rate=reader.get(
                "PODPLUS_MAX_SAMPLE_RATE", _positive(int), defaults.max_sample_rate
            ),
            max_channels=reader.get("PODPLUS_MAX_CHANNELS", _positive(int), defaults.max_channels),
            analysis_timeout_s=reader.get(
                "PODPLUS_ANALYSIS_TIMEOUT_S", _positive(float), defaults.analysis_timeout_s
            ),
            max_analyses_per_user=reader.get(
                "PODPLUS_MAX_ANALYSES_PER_USER", _positive(int), defaults.max_analyses_per_user
            ),
            quota_storage_bytes=reader.get("PODPLUS_QUOTA_STORAGE_MB", _positive(int), 10240)
            * 1024
            * 1024,
            quota_media_files=reader.get(
                "PODPLUS_QUOTA_MEDIA_FILES", _positive(int), defaults.quota_media_files
            ),
            quota_media_duration_s=reader.get("PODPLUS_QUOTA_MEDIA_HOURS", _positive(float), 100.0)
            * 3600,
            max_concurrent_assemblies=reader.get(
                "PODPLUS_MAX_CONCURRENT_ASSEMBLIES",
                _positive(int),
                defaults.max_concurrent_assemblies,
            ),
            assembly_timeout_s=reader.get(
                "PODPLUS_ASSEMBLY_TIMEOUT_S", _positive(float), defaults.assembly_timeout_s
            ),
            assembly_max_attempts=reader.get(
                "PODPLUS_ASSEMBLY_MAX_ATTEMPTS", _positive(int), defaults.assembly_max_attempts
            ),
            max_active_jobs_per_user=reader.get(
                "PODPLUS_MAX_ACTIVE_JOBS_PER_USER",
                _positive(int),
                defaults.max_active_jobs_per_user,
            ),
            engine_nice=reader.get("PODPLUS_ENGINE_NICE", _nice, defaults.engine_nice),
            engine_idle_priority=reader.get(
                "PODPLUS_ENGINE_IDLE_PRIORITY", _boolean, defaults.engine_idle_priority
            ),
            job_lease_s=reader.get("PODPLUS_JOB_LEASE_S", _positive(float), defaults.job_lease_s),
            shutdown_grace_s=reader.get(
                "PODPLUS_SHUTDOWN_GRACE_S", _positive(float), defaults.shutdown_grace_s
            ),
            job_poll_interval_s=reader.get(
                "PODPLUS_JOB_POLL_INTERVAL_S", _positive(float), defaults.job_poll_interval_s
            ),
            run_jobs=reader.get("PODPLUS_RUN_JOBS", _boolean, defaults.run_jobs),
            login_max_failures=reader.get(
                "PODPLUS_LOGIN_MAX_FAILURES", _positive(int), defaults.login_max_failures
            ),
            login_address_max_failures=reader.get(
                "PODPLUS_LOGIN_ADDRESS_MAX_FAILURES",
                _positive(int),
                defaults.login_address_max_failures,
            ),
            login_account_max_failures=reader.get(
                "PODPLUS_LOGIN_ACCOUNT_MAX_FAILURES",
                _positive(int),
                defaults.login_account_max_failures,
            ),
            login_window_s=reader.get(
                "PODPLUS_LOGIN_WINDOW_S", _positive(int), defaults.login_window_s
            ),
            login_first_delay_s=reader.get(
                "PODPLUS_LOGIN_FIRST_DELAY_S", _positive(float), defaults.login_first_delay_s
            ),
            signup_max_per_address=reader.get(
                "PODPLUS_SIGNUP_MAX_PER_ADDRESS", _positive(int), defaults.signup_max_per_address
            ),
            forwarded_allow_ips=reader.get(
                "PODPLUS_FORWARDED_ALLOW_IPS", _addresses, defaults.forwarded_allow_ips
            ),
            kdf_workers=reader.get("PODPLUS_KDF_WORKERS", _positive(int), defaults.kdf_workers),
            log_level=reader.get("PODPLUS_LOG_LEVEL", _log_level, defaults.log_level),
            engine_command=reader.get("PODPLUS_ENGINE_COMMAND", _command, defaults.engine_command),
            public_url=reader.get("PODPLUS_PUBLIC_URL", _public_url, defaults.public_url),
            max_shows_per_user=reader.get(
                "PODPLUS_MAX_SHOWS_PER_USER", _positive(int), defaults.max_shows_per_user
            ),
            max_webhooks_per_user=reader.get(
                "PODPLUS_MAX_WEBHOOKS_PER_USER", _positive(int), defaults.max_webhooks_per_user
            ),
            webhook_timeout_s=reader.get(
                "PODPLUS_WEBHOOK_TIMEOUT_S", _positive(float), defaults.webhook_timeout_s
            ),
            webhook_retry_base_s=reader.get(
                "PODPLUS_WEBHOOK_RETRY_BASE_S", _positive(float), defaults.webhook_retry_base_s
            ),
            webhook_retry_max_delay_s=reader.get(
                "PODPLUS_WEBHOOK_RETRY_MAX_DELAY_S",
                _positive(float),
                defaults.webhook_retry_max_delay_s,
            ),
            webhook_retry_window_s=reader.get(
                "PODPLUS_WEBHOOK_RETRY_WINDOW_S", _positive(float), defaults.webhook_retry_window_s
            ),
            webhook_concurrency=reader.get(
                "PODPLUS_WEBHOOK_CONCURRENCY", _positive(int), defaults.webhook_concurrency
            ),
            webhooks_allow_private=reader.get(
                "PODPLUS_WEBHOOKS_ALLOW_PRIVATE", _boolean, defaults.webhooks_allow_private
            ),
            storage_url=reader.get("PODPLUS_STORAGE_URL", _storage_url, defaults.storage_url),
            s3_endpoint=reader.get("PODPLUS_S3_ENDPOINT", _endpoint, defaults.s3_endpoint),
            s3_region=reader.get("PODPLUS_S3_REGION", str, defaults.s3_region),
            s3_access_key_id=reader.get("PODPLUS_S3_ACCESS_KEY_ID", str, ""),
            s3_secret_access_key=reader.get("PODPLUS_S3_SECRET_ACCESS_KEY", str, ""),
            s3_timeout_s=reader.get(
                "PODPLUS_S3_TIMEOUT_S", _positive(float), defaults.s3_timeout_s
            ),
            scratch_dir=Path(
                reader.get("PODPLUS_SCRATCH_DIR", str, str(data_dir / "scratch"))
            ).resolve(),
            scratch_cache_bytes=reader.get("PODPLUS_SCRATCH_CACHE_MB", _positive(int), 2048)
            * 1024
            * 1024,
            worker_name=reader.get("PODPLUS_WORKER_NAME", _worker_name, defaults.worker_name),
            worker_heartbeat_s=reader.get(
                "PODPLUS_WORKER_HEARTBEAT_S", _positive(float), defaults.worker_heartbeat_s
            ),
            worker_stall_s=reader.get(
                "PODPLUS_WORKER_STALL_S", _positive(float), defaults.worker_stall_s
            ),
        )

    def with_secret_key(self) -> Settings:
        """Return settings that carry a secret key, creating ``secret.key`` on first start.

        The key is kept in the data directory (mode 0600) so tokens survive restarts;
        podplus never ships a built-in key.
        """
        if self.secret_key:
            return self
        from dataclasses import replace

        return replace(self, secret_key=load_or_create_secret_key(self.data_dir / "secret.key"))


@dataclass(frozen=True, kw_only=True)
class ClientSettings:
    """What the command-line client (``podplus login``, ``upload``…) reads from its
    environment: where it keeps the token, and a password to log in with unprompted."""

    # $XDG_CONFIG_HOME/podplus, else ~/.config/podplus; credentials.json lives here.
    config_dir: Path
    # PODPLUS_PASSWORD: for scripts; a person is asked on the terminal instead. Never shown.
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClientSettings:
        env = os.environ if environ is None else environ
        # The XDG spec: a relative XDG_CONFIG_HOME is invalid and is ignored.
        xdg = env.get("XDG_CONFIG_HOME", "")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else None
        if base is None:
            home = env.get("HOME") or str(Path.home())
            base = Path(home) / ".config"
        return cls(config_dir=base / "podplus", password=env.get("PODPLUS_PASSWORD") or None)


def load_or_create_secret_key(path: Path) -> str:
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = ""
    if key:
        return key
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_urlsafe(SECRET_KEY_BYTES)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    try:
        # link() refuses to overwrite, so two processes starting at once agree on one key.
        os.link(tmp, path)
    except FileExistsError:
        return path.read_text().strip()
    finally:
        tmp.unlink()
    return key


class _EnvReader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def get(self, name: str, parse: Callable[[str], T], default: T) -> T:
        raw = self._environ.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            return parse(raw.strip())
        except (ValueError, TypeError) as exc:
            raise SettingsError(f"{name}={raw!r}: {exc}") from exc


def _positive(kind: Callable[[str], T]) -> Callable[[str], T]:
    def parse(raw: str) -> T:
        try:
            value = kind(raw)
        except ValueError:
            raise ValueError(f"expected a positive {kind.__name__}") from None
        if not value > 0:  # type: ignore[operator]  # NaN too
            raise ValueError(f"expected a positive {kind.__name__}")
        return value

    return parse


def _port(raw: str) -> int:
    port = int(raw) if raw.isdigit() else -1
    if not 0 < port < 65536:
        raise ValueError("expected a port number between 1 and 65535")
    return port


def _nice(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 19:
        raise ValueError("expected a niceness between 0 and 19")
    return value


def _boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def _database_url(raw: str) -> str:
    if not raw.startswith(("sqlite:///", "postgresql://", "postgres://", "postgresql+asyncpg://")):
        raise ValueError("expected a sqlite:/// or postgresql:// URL")
    return raw


def _secret_key(raw: str) -> str:
    if len(raw) < 32:
        raise ValueError("the secret key must be at least 32 characters")
    return raw


def _non_negative(raw: str) -> float:
    value = float(raw)
    if not value >= 0 or value == float("inf"):
        raise ValueError("expected a number of seconds, 0 or more")
    return value


def _addresses(raw: str) -> tuple[str, ...]:
    import ipaddress

    parts = tuple(part.strip() for part in raw.split(",") if part.strip())
    for part in parts:
        if part == "*":
            continue
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise ValueError(f"{part!r} is not an IP address or network (or *)") from None
    return parts


def _no_admin_emails(raw: str) -> None:
    raise ValueError(
        "no longer supported: an email address proves nothing at sign-up. Grant admin "
        "rights with `podplus user admin EMAIL` (and take them back with --revoke)"
    )


def _command(raw: str) -> tuple[str, ...]:
    import shlex

    parts = tuple(shlex.split(raw))
    if not parts:
        raise ValueError("expected a command")
    return parts


def _public_url(raw: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(raw)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or any(c.isspace() or ord(c) < 32 for c in raw)
    ):
        raise ValueError("expected an http(s) URL such as https://podcasts.example.com")
    return raw.rstrip("/")


def _log_level(raw: str) -> str:
    if raw.lower() not in {"debug", "info", "warning", "error"}:
        raise ValueError("expected debug, info, warning or error")
    return raw.lower()


def _storage_url(raw: str) -> str:
    """``s3://bucket`` or ``s3://bucket/prefix``; empty keeps the local media folder."""
    from urllib.parse import urlsplit

    if not raw:
        return ""
    parts = urlsplit(raw)
    bucket = parts.netloc
    if (
        parts.scheme != "s3"
        or not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", bucket)
        or parts.query
        or parts.fragment
        or any(c.isspace() or ord(c) < 32 for c in raw)
    ):
        raise ValueError("expected s3://bucket or s3://bucket/prefix (a lower-case bucket name)")
    return f"s3://{bucket}/{parts.path.strip('/')}".rstrip("/")


def _endpoint(raw: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ValueError("expected an http(s) URL such as http://127.0.0.1:8333")
    return raw.rstrip("/")


def _worker_name(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", raw):
        raise ValueError("expected up to 63 letters, digits, '.', '_' or '-'")
    return raw
