"""The tables, as SQLAlchemy Core. Times are UTC epoch seconds (floats): portable and comparable."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

ID = sa.String(32)

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", sa.Float, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", ID, primary_key=True),
    # Stored lower-cased so uniqueness is case-insensitive on every database.
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("password_hash", sa.String(400), nullable=False),
    sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.Float, nullable=False),
    # Tokens issued before this are refused: "log out everywhere" and a new password set it.
    sa.Column("tokens_valid_after", sa.Float),
)

# Tokens ended one at a time (logout), kept until they would have expired anyway.
revoked_tokens = sa.Table(
    "revoked_tokens",
    metadata,
    sa.Column("jti", sa.String(64), primary_key=True),
    sa.Column("user_id", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Index("ix_revoked_tokens_user", "user_id", "expires_at"),
    sa.Index("ix_revoked_tokens_expires", "expires_at"),
)

# Attempts that cost a password hash (logins, sign-ups), counted per bucket: an account from
# an address, an address, an account. One row each, changed by one atomic statement.
throttle_counters = sa.Table(
    "throttle_counters",
    metadata,
    sa.Column("bucket", sa.String(400), primary_key=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_attempt_at", sa.Float, nullable=False),
    # An (account, address) bucket that logged in: spared the account-wide limit until then.
    sa.Column("trusted_until", sa.Float),
    sa.Index("ix_throttle_counters_last_attempt", "last_attempt_at"),
)

# The uploads each owner has being analysed, counted across every server: slot ``slot`` of
# ``max_analyses_per_user``, held by one request (``holder``) until ``expires_at``, which
# its server keeps pushing forward; the slots of a server that died lapse by themselves.
analysis_slots = sa.Table(
    "analysis_slots",
    metadata,
    sa.Column("owner_id", ID, primary_key=True),
    sa.Column("slot", sa.Integer, primary_key=True),
    sa.Column("holder", ID, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

media = sa.Table(
    "media",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("owner_id", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("storage_name", sa.String(64), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("duration_s", sa.Float),
    sa.Column("sample_rate", sa.Integer),
    sa.Column("channels", sa.Integer),
    sa.Column("codec", sa.String(64)),
    sa.Column("loudness_lufs", sa.Float),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_media_owner", "owner_id", "created_at"),
)

# A podcast: what its feed says about it, its artwork, and the defaults (a preset) that
# fill what a new episode of it leaves out. ``feed_id`` (unguessable) and ``slug`` (chosen)
# both name its public feed.
shows = sa.Table(
    "shows",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("owner_id", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("feed_id", ID, nullable=False, unique=True),
    sa.Column("slug", sa.String(64), unique=True),
    # UUIDv5 of the feed URL when the show was made; never changes after.
    sa.Column("podcast_guid", sa.String(36), nullable=False),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("author", sa.String(255), nullable=False),
    sa.Column("owner_name", sa.String(255), nullable=False),
    sa.Column("owner_email", sa.String(254), nullable=False),
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("subcategory", sa.String(64)),
    sa.Column("explicit", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("show_type", sa.String(16), nullable=False),
    sa.Column("link", sa.String(2048)),
    sa.Column("copyright", sa.String(255)),
    sa.Column("locked", sa.Boolean, nullable=False, server_default=sa.true()),
    # The show's preset for new episodes, as JSON (``podplus.storage.shows.ShowDefaults``).
    sa.Column("defaults", sa.Text, nullable=False),
    # The public artwork file (content-addressed name) and what it is.
    sa.Column("artwork_name", sa.String(128)),
    sa.Column("artwork_size_px", sa.Integer),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    # When anything its feed shows last changed (the show, a publication, an episode in
    # it): the feed's Last-Modified, and the key of its cached rendering. Only grows.
    sa.Column("feed_changed_at", sa.Float, nullable=False, server_default="0"),
    sa.Index("ix_shows_owner", "owner_id", "created_at"),
)

# Every slug a show has had, for ever: a retired slug stays its owner's (no one else's
# show can take the address apps are subscribed to) and leads to the show it named
# (``show_id``; a deleted show's stays, and its old feed answers 410 Gone).
show_slugs = sa.Table(
    "show_slugs",
    metadata,
    sa.Column("slug", sa.String(64), primary_key=True),
    sa.Column("owner_id", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("show_id", ID, nullable=False),
    sa.Column("claimed_at", sa.Float, nullable=False),
)

episodes = sa.Table(
    "episodes",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("owner_id", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    # The rest of the episode description (segments, bed, loudness, output…), as JSON.
    sa.Column("spec", sa.Text, nullable=False),
    # No status column: an episode's status follows from its latest job and its audio.
    sa.Column("audio_name", sa.String(128)),
    sa.Column("audio_size_bytes", sa.BigInteger),
    sa.Column("duration_s", sa.Float),
    sa.Column("integrated_lufs", sa.Float),
    sa.Column("true_peak_db", sa.Float),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    # The show it belongs to, if any, and its feed GUID from its first publication on.
    sa.Column("show_id", ID, sa.ForeignKey("shows.id")),
    sa.Column("guid", sa.String(36)),
    # JSON: what the engine did to each part of the current audio (``storage.reports``).
    sa.Column("report", sa.Text),
    sa.Index("ix_episodes_owner", "owner_id", "created_at"),
    sa.Index("ix_episodes_show", "show_id"),
    sa.Index("ux_episodes_guid", "guid", unique=True),
)

# Which media an episode uses; kept beside ``spec`` so "is this file in use?" is one query.
episode_media = sa.Table(
    "episode_media",
    metadata,
    sa.Column("episode_id", ID, sa.ForeignKey("episodes.id"), primary_key=True),
    sa.Column("media_id", ID, sa.ForeignKey("media.id"), primary_key=True),
    sa.Index("ix_episode_media_media", "media_id"),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("owner_id", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("episode_id", ID, sa.ForeignKey("episodes.id"), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("progress", sa.Float, nullable=False, server_default="0"),
    sa.Column("phase", sa.String(32)),
    sa.Column("error", sa.Text),
    # Why a failed job failed, as a ``FailureCause`` value; ``error`` is the words for people.
    sa.Column("failure_cause", sa.String(32)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    # A claim: which worker holds the job and until when, renewed while it runs.
    sa.Column("lease_owner", sa.String(320)),
    sa.Column("lease_expires_at", sa.Float),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("finished_at", sa.Float),
    # On PostgreSQL, the procrastinate job that carries this one to a worker (its id in
    # ``procrastinate_jobs``): what a cancel aborts. NULL in the embedded mode, and for a
    # row whose hand-over to the queue has not happened yet (see ``podplus.jobs.queue``).
    sa.Column("queue_job_id", sa.BigInteger),
    sa.Index("ix_jobs_status", "status", "created_at"),
    sa.Index("ix_jobs_owner", "owner_id", "created_at"),
    # For the per-owner quota and fair claiming: an owner's live jobs, their last start.
    sa.Index("ix_jobs_owner_status", "owner_id", "status"),
    sa.Index("ix_jobs_owner_started", "owner_id", "started_at"),
    sa.Index("ix_jobs_episode", "episode_id", "created_at"),
    # At most one live job per episode, enforced by the database so two clicks can't race.
    sa.Index(
        "ux_jobs_episode_active",
        "episode_id",
        unique=True,
        sqlite_where=sa.text("status IN ('queued', 'running')"),
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    ),
)

# Every engine process a supervisor started, recorded before it can be lost.
processes = sa.Table(
    "processes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", ID, sa.ForeignKey("jobs.id"), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),  # psutil create_time()
    sa.Column("cmdline", sa.Text, nullable=False),  # JSON list
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("boot_id", sa.String(64), nullable=False),
    sa.Column("worker_id", sa.String(320), nullable=False),
    sa.Column("ended_at", sa.Float),
    sa.Index("ix_processes_live", "host", "ended_at"),
)

# A published (or scheduled) episode: the audio frozen at publication, under a public,
# content-addressed name, and what its feed item says beyond the episode itself.
publications = sa.Table(
    "publications",
    metadata,
    sa.Column("episode_id", ID, sa.ForeignKey("episodes.id"), primary_key=True),
    sa.Column("show_id", ID, sa.ForeignKey("shows.id"), nullable=False),
    sa.Column("owner_id", ID, sa.ForeignKey("users.id"), nullable=False),
    # In the feed from this moment on (a future one schedules the episode).
    sa.Column("published_at", sa.Float, nullable=False),
    sa.Column("audio_name", sa.String(128), nullable=False, unique=True),
    # The episode's assembled audio it was frozen from; a new assembly has another name.
    sa.Column("source_audio_name", sa.String(128), nullable=False),
    sa.Column("audio_size_bytes", sa.BigInteger, nullable=False),
    sa.Column("media_type", sa.String(32), nullable=False),
    sa.Column("duration_s", sa.Float, nullable=False),
    # JSON: [[start_s, end_s, title], …], read from the published file.
    sa.Column("chapters", sa.Text, nullable=False),
    sa.Column("season", sa.Integer),
    sa.Column("number", sa.Integer),
    sa.Column("episode_type", sa.String(16), nullable=False),
    # None: as the show says.
    sa.Column("explicit", sa.Boolean),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("ix_publications_show", "show_id", "published_at"),
)

# The last 24 h window in which a listener (a keyed hash of address and user agent, never
# the address itself) was counted as downloading an episode; one row per pair.
download_windows = sa.Table(
    "download_windows",
    metadata,
    sa.Column("episode_id", ID, primary_key=True),
    sa.Column("listener", sa.String(64), primary_key=True),
    sa.Column("window_started_at", sa.Float, nullable=False),
    sa.Index("ix_download_windows_started", "window_started_at"),
)

# Downloads per episode and UTC day, as its show's feed served them.
download_counts = sa.Table(
    "download_counts",
    metadata,
    sa.Column("episode_id", ID, primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),  # YYYY-MM-DD
    sa.Column("show_id", ID, nullable=False),
    sa.Column("downloads", sa.Integer, nullable=False),
    sa.Index("ix_download_counts_show", "show_id", "day"),
)

# A user's webhook: where to POST which events. The signing secret is kept sealed (AES-GCM
# under a key derived from the server's secret key: ``podplus.security.webhook_secrets``).
webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("owner_id", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("url", sa.String(2048), nullable=False),
    # The event types wanted, comma-separated (``podplus.storage.webhooks.WebhookEvent``).
    sa.Column("events", sa.String(200), nullable=False),
    sa.Column("secret_sealed", sa.String(128), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_webhooks_owner", "owner_id", "created_at"),
)

# The outbox: one row per event and webhook, written where the event happens, sent by the
# workers (``podplus.jobs.webhook_deliverer``) under a lease, as jobs are claimed.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    # The webhook-id header, less its ``msg_``: the same on every attempt.
    sa.Column("id", ID, primary_key=True),
    sa.Column("webhook_id", ID, sa.ForeignKey("webhooks.id"), nullable=False),
    sa.Column("owner_id", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("event_type", sa.String(32), nullable=False),
    # The exact body every attempt sends (the signature covers it).
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_response_code", sa.Integer),
    sa.Column("last_error", sa.String(400)),
    sa.Column("next_attempt_at", sa.Float),
    sa.Column("last_attempt_at", sa.Float),
    sa.Column("lease_owner", sa.String(320)),
    sa.Column("lease_expires_at", sa.Float),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_webhook", "webhook_id", "created_at"),
)
