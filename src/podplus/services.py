"""The long-lived objects one podplus process owns, built at start-up and closed at shutdown."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from databases import Database

from podplus.feeds.cache import FeedCache
from podplus.feeds.chapters import Chapter
from podplus.jobs.assembly import AssemblyStores
from podplus.jobs.attempt import Attempts
from podplus.jobs.identity import WorkerIdentity
from podplus.jobs.queue import JobQueue, ensure_schema, queue_app, uses_queue
from podplus.jobs.queue_worker import QueueWorker
from podplus.jobs.runner import Runner, sweep_at_boot
from podplus.jobs.scratch import Scratch
from podplus.jobs.supervisor import Supervisor, launcher_prefix
from podplus.jobs.webhook_deliverer import Deliverer, RetryPolicy
from podplus.jobs.webhook_sender import WebhookSender
from podplus.metrics import Metrics
from podplus.probing import AnalysisLimits, Analyzer, ProbeFailed
from podplus.security.listeners import ListenerKeys
from podplus.security.login import Authenticator
from podplus.security.passwords import PasswordHasher
from podplus.security.sessions import Sessions
from podplus.security.targets import Resolver, TargetPolicy, system_resolver
from podplus.security.throttle import LoginThrottle, SignupThrottle
from podplus.security.tokens import TokenCodec
from podplus.security.webhook_secrets import SecretBox
from podplus.settings import Settings
from podplus.storage.analysis_slots import AnalysisSlots
from podplus.storage.database import connect, open_database
from podplus.storage.downloads import DownloadStore
from podplus.storage.episodes import EpisodeAudioFiles, EpisodeStore
from podplus.storage.files import FileStore
from podplus.storage.jobs import Job, JobStore
from podplus.storage.media import MediaStore
from podplus.storage.migrations import migrate
from podplus.storage.objects import ObjectStore, open_object_store
from podplus.storage.processes import ProcessStore
from podplus.storage.public_files import PublicFiles
from podplus.storage.publications import PublicationStore
from podplus.storage.publishing import Publisher
from podplus.storage.shows import ShowStore
from podplus.storage.throttle import CounterStore
from podplus.storage.users import RevokedTokenStore, UserStore
from podplus.storage.webhook_deliveries import DeliveryStore
from podplus.storage.webhooks import WebhookStore


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
    # Where media is kept: the local folder, or an S3 bucket (``storage.objects``).
    objects: ObjectStore
    media: MediaStore
    episodes: EpisodeStore
    episode_audio: EpisodeAudioFiles
    jobs: JobStore
    processes: ProcessStore
    supervisor: Supervisor
    runner: Runner | None
    # How the API queues and cancels jobs (both modes), and, on PostgreSQL where this
    # process runs jobs, the procrastinate worker that runs them instead of ``runner``.
    queue: JobQueue
    queue_worker: QueueWorker | None
    identity: WorkerIdentity
    metrics: Metrics
    analyzer: Analyzer
    shows: ShowStore
    publications: PublicationStore
    public_files: PublicFiles
    publisher: Publisher
    downloads: DownloadStore
    # Download counting's keyed listener hashes, and the rendered feeds apps poll.
    listeners: ListenerKeys
    feed_cache: FeedCache
    webhooks: WebhookStore
    # The webhook outbox, where to send is allowed, and the sealed secrets' key.
    deliveries: DeliveryStore
    webhook_targets: TargetPolicy
    webhook_secrets: SecretBox
    # Sends the outbox beside the runner (None where jobs don't run).
    deliverer: Deliverer | None
    # The time, for everything that is scheduled or expires (a test passes its own).
    clock: Callable[[], float] = time.time

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.stop()
        if self.queue_worker is not None:
            await self.queue_worker.stop()
        if self.queue.app is not None:
            await self.queue.app.close_async()
        # After the runner: jobs it stopped may have recorded events.
        if self.deliverer is not None:
            await self.deliverer.stop()
        self.hasher.close()
        self.users.close()
        await self.database.disconnect()


async def open_services(
    settings: Settings,
    *,
    metrics: Metrics | None = None,
    run_jobs: bool | None = None,
    clock: Callable[[], float] = time.time,
    resolver: Resolver = system_resolver,
) -> Services:
    """Connect and migrate the database, build everything on top of it, and (unless told
    not to) start the job runner, whose boot sweep runs before it claims anything, and the
    webhook deliverer beside it. ``resolver`` finds webhook hosts' addresses (a test passes
    its own DNS)."""
    database = open_database(settings.database_url)
    await connect(database)
    await migrate(database)
    files = FileStore(settings.media_root)
    files.sweep_incoming()
    objects = open_object_store(settings)
    # The engines' work folders and the parts cache, cleared of what a crashed fetch left.
    scratch = Scratch(
        settings.scratch_dir, objects=objects, cache_bytes=settings.scratch_cache_bytes
    )
    scratch.sweep()
    identity = WorkerIdentity.current()
    # Job ends are recorded in the webhook outbox in the transaction that ends them.
    deliveries = DeliveryStore(database, clock=clock, render_job=_job_json)
    jobs = JobStore(database, events=deliveries)
    webhook_targets = TargetPolicy(
        resolve=resolver,
        allow_private=settings.webhooks_allow_private,
        timeout_s=settings.webhook_timeout_s,
    )
    webhook_secrets = SecretBox(secret_key=settings.secret_key)
    processes = ProcessStore(database)
    episodes = EpisodeStore(database, clock=clock)
    assembly = AssemblyStores(
        episodes=episodes,
        media=MediaStore(database),
        scratch=scratch,
        audio=EpisodeAudioFiles(episodes, files, objects),
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
    queue_worker = None
    deliverer = None
    app = None
    if uses_queue(settings.database_url):
        # Jobs travel by procrastinate on PostgreSQL (``podplus.jobs.queue``).
        await ensure_schema(settings.database_url)
        app = queue_app(
            settings.database_url, max_connections=settings.max_concurrent_assemblies + 4
        )
        await app.open_async()
    queue = JobQueue(jobs=jobs, app=app)
    if settings.run_jobs if run_jobs is None else run_jobs:
        if app is None:
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
            queue.runner = runner
        else:
            await sweep_at_boot(
                settings=settings,
                identity=identity,
                processes=processes,
                jobs=jobs,
                assembly=assembly,
                metrics=metrics,
            )
            queue_worker = QueueWorker(
                settings=settings,
                name=settings.worker_name or f"{identity.host}:{identity.pid}",
                app=app,
                queue=queue,
                database=database,
                jobs=jobs,
                attempts=Attempts(
                    settings=settings,
                    jobs=jobs,
                    assembly=assembly,
                    supervisor=supervisor,
                    metrics=metrics,
                ),
            )
            await queue_worker.start()
        deliverer = Deliverer(
            deliveries=deliveries,
            sender=WebhookSender(
                policy=webhook_targets,
                box=webhook_secrets,
                timeout_s=settings.webhook_timeout_s,
                clock=clock,
            ),
            retry=RetryPolicy(
                base_s=settings.webhook_retry_base_s,
                max_delay_s=settings.webhook_retry_max_delay_s,
                window_s=settings.webhook_retry_window_s,
            ),
            identity=identity,
            concurrency=settings.webhook_concurrency,
            # An attempt ends within its time limit; the lease outlasts it with room to spare.
            lease_s=2 * settings.webhook_timeout_s + 30,
            poll_interval_s=settings.webhook_poll_interval_s,
            grace_s=settings.shutdown_grace_s,
            clock=clock,
        )
        await deliverer.start()
    users = UserStore(database)
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
    # Upload analysis runs like the engines: same launcher, same priority.
    analyzer = Analyzer(
        limits=AnalysisLimits(
            max_duration_s=settings.max_media_duration_s,
            max_sample_rate=settings.max_sample_rate,
            max_channels=settings.max_channels,
            timeout_s=settings.analysis_timeout_s,
        ),
        launcher=launcher_prefix(settings.engine_nice, idle=settings.engine_idle_priority),
        slots=AnalysisSlots(database, per_owner=settings.max_analyses_per_user),
    )

    async def read_chapters(path: Path) -> list[Chapter]:
        # A file whose chapters can't be read is published without them.
        try:
            return await analyzer.chapters(path)
        except ProbeFailed:
            return []

    publications = PublicationStore(database)
    public_files = PublicFiles(settings.media_root, objects)
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
        ),
        login=Authenticator(users=users, hasher=hasher, throttle=throttle),
        signups=SignupThrottle(
            counters,
            per_address=settings.signup_max_per_address,
            window_s=settings.login_window_s,
            first_delay_s=settings.login_first_delay_s,
        ),
        files=files,
        objects=objects,
        media=assembly.media,
        episodes=episodes,
        episode_audio=assembly.audio,
        jobs=jobs,
        processes=processes,
        supervisor=supervisor,
        runner=runner,
        queue=queue,
        queue_worker=queue_worker,
        identity=identity,
        metrics=metrics,
        analyzer=analyzer,
        shows=ShowStore(database, clock=clock),
        publications=publications,
        public_files=public_files,
        publisher=Publisher(
            publications=publications,
            public=public_files,
            files=files,
            episodes=episodes,
            read_chapters=read_chapters,
            clock=clock,
        ),
        downloads=DownloadStore(database),
        listeners=ListenerKeys(secret_key=settings.secret_key),
        feed_cache=FeedCache(),
        webhooks=WebhookStore(database, clock=clock),
        deliveries=deliveries,
        webhook_targets=webhook_targets,
        webhook_secrets=webhook_secrets,
        deliverer=deliverer,
        clock=clock,
    )


def _job_json(job: Job) -> str:
    """A job as ``GET /api/jobs/{id}`` shows it: the ``data`` of its webhook events."""
    # Imported here: the web layer reaches this module (web.requests), so not at the top.
    from podplus.web.jobs import job_out

    return job_out(job).model_dump_json()
