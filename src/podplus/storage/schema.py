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
    sa.Index("ix_episodes_owner", "owner_id", "created_at"),
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
