"""The long-lived objects one podplus process owns, built at start-up and closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass

from databases import Database

from podplus.jobs.assembly import AssemblyStores
from podplus.jobs.identity import WorkerIdentity
from podplus.jobs.runner import Runner
from podplus.jobs.supervisor import Supervisor, launcher_prefix
from podplus.metrics import Metrics
from podplus.probing import AnalysisLimits, Analyzer
from podplus.security.login import Authenticator
from podplus.security.passwords import PasswordHasher
from podplus.security.sessions import Sessions
from podplus.security.throttle import LoginThrottle, SignupThrottle
from podplus.security.tokens import TokenCodec
from podplus.settings import Settings
from podplus.storage.database import connect, open_database
from podplus.storage.episodes import EpisodeAudioFiles, EpisodeStore
from podplus.storage.files import FileStore
from podplus.storage.jobs import JobStore
from podplus.storage.media import MediaStore
from podplus.storage.migrations import migrate
from podplus.storage.processes import ProcessStore
from podplus.storage.throttle import CounterStore
from podplus.storage.users import RevokedTokenStore, UserStore


@dataclass(frozen=True)
class Services:
    settings: Settings
    database: Database
    users: UserStore
    hasher: PasswordHasher
    tokens: TokenCodec
    sessions: Sessions
    login: Authenticator
    signups: SignupThrottle
    files: FileStore
    media: MediaStore
    episodes: EpisodeStore
    episode_audio: EpisodeAudioFiles
    jobs: JobStore
    processes: ProcessStore
    supervisor: Supervisor
    runner: Runner | None
    identity: WorkerIdentity
    metrics: Metrics
    analyzer: Analyzer

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.stop()
        self.hasher.close()
        await self.database.disconnect()


async def open_services(
    settings: Settings, *, metrics: Metrics | None = None, run_jobs: bool | None = None
) -> Services:
    """Connect and migrate the database, build everything on top of it, and (unless told
    not to) start the job runner, whose boot sweep runs before it claims anything."""
    database = open_database(settings.database_url)
    await connect(database)
    await migrate(database)
    files = FileStore(settings.media_root)
    files.sweep_incoming()
    identity = WorkerIdentity.current()
    jobs = JobStore(database)
    processes = ProcessStore(database)
    episodes = EpisodeStore(database)
    assembly = AssemblyStores(
        episodes=episodes,
        media=MediaStore(database),
        files=files,
        audio=EpisodeAudioFiles(episodes, files),
    )
    supervisor = Supervisor(
        store=processes,
        identity=identity,
        nice=settings.engine_nice,
        idle_priority=settings.engine_idle_priority,
        kill_grace_s=settings.kill_grace_s,
    )
    metrics = metrics or Metrics()
    runner = None
    if settings.run_jobs if run_jobs is None else run_jobs:
        runner = Runner(
            settings=settings,
            jobs=jobs,
            processes=processes,
            assembly=assembly,
            supervisor=supervisor,
            identity=identity,
            metrics=metrics,
        )
        await runner.start()
    users = UserStore(database, cache_ttl_s=settings.auth_cache_s)
    hasher = PasswordHasher(workers=settings.kdf_workers)
    tokens = TokenCodec(secret_key=settings.secret_key, ttl_s=settings.token_ttl_s)
    counters = CounterStore(database)
    throttle = LoginThrottle(
        counters,
        per_account_address=settings.login_max_failures,
        per_address=settings.login_address_max_failures,
        per_account=settings.login_account_max_failures,
        window_s=settings.login_window_s,
        first_delay_s=settings.login_first_delay_s,
    )
    return Services(
        settings=settings,
        database=database,
        users=users,
        hasher=hasher,
        tokens=tokens,
        sessions=Sessions(
            tokens=tokens,
            users=users,
            revoked=RevokedTokenStore(database),
            cache_ttl_s=settings.auth_cache_s,
        ),
        login=Authenticator(users=users, hasher=hasher, throttle=throttle),
        signups=SignupThrottle(
            counters,
            per_address=settings.signup_max_per_address,
            window_s=settings.login_window_s,
            first_delay_s=settings.login_first_delay_s,
        ),
        files=files,
        media=assembly.media,
        episodes=episodes,
        episode_audio=assembly.audio,
        jobs=jobs,
        processes=processes,
        supervisor=supervisor,
        runner=runner,
        identity=identity,
        metrics=metrics,
        # Upload analysis runs like the engines: same launcher, same priority.
        analyzer=Analyzer(
            limits=AnalysisLimits(
                max_duration_s=settings.max_media_duration_s,
                max_sample_rate=settings.max_sample_rate,
                max_channels=settings.max_channels,
                timeout_s=settings.analysis_timeout_s,
            ),
            launcher=launcher_prefix(settings.engine_nice, idle=settings.engine_idle_priority),
            per_owner=settings.max_analyses_per_user,
        ),
    )
