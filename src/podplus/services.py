"""The long-lived objects one podplus process owns, built at start-up and closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass

from databases import Database

from podplus.jobs.assembly import AssemblyStores
from podplus.jobs.identity import WorkerIdentity
from podplus.jobs.runner import Runner
from podplus.jobs.supervisor import Supervisor
from podplus.metrics import Metrics
from podplus.security.login import Authenticator
from podplus.security.passwords import PasswordHasher
from podplus.security.throttle import LoginThrottle
from podplus.security.tokens import TokenCodec
from podplus.settings import Settings
from podplus.storage.database import connect, open_database
from podplus.storage.episodes import EpisodeAudioFiles, EpisodeStore
from podplus.storage.files import FileStore
from podplus.storage.jobs import JobStore
from podplus.storage.media import MediaStore
from podplus.storage.migrations import migrate
from podplus.storage.processes import ProcessStore
from podplus.storage.users import LoginFailureStore, UserStore


@dataclass(frozen=True)
class Services:
    settings: Settings
    database: Database
    users: UserStore
    hasher: PasswordHasher
    tokens: TokenCodec
    login: Authenticator
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
    users = UserStore(database)
    hasher = PasswordHasher(workers=settings.kdf_workers)
    throttle = LoginThrottle(
        LoginFailureStore(database),
        max_failures=settings.login_max_failures,
        window_s=settings.login_window_s,
    )
    return Services(
        settings=settings,
        database=database,
        users=users,
        hasher=hasher,
        tokens=TokenCodec(secret_key=settings.secret_key, ttl_s=settings.token_ttl_s),
        login=Authenticator(users=users, hasher=hasher, throttle=throttle),
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
    )
