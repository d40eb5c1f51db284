"""The URL map: every endpoint podplus serves, in one table."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from podplus.web import admin, episodes, health, jobs, media, users
from podplus.web.pages import page_routes


def api_routes() -> list[BaseRoute]:
    return [
        Route("/healthz", health.healthz, methods=["GET"]),
        Route("/metrics", admin.metrics, methods=["GET"]),
        Route("/api/admin/processes", admin.processes, methods=["GET"]),
        Route("/api/users", users.create_user, methods=["POST"]),
        Route("/api/users/me", users.me, methods=["GET"]),
        Route("/api/auth/token", users.issue_token, methods=["POST"]),
        Route("/api/media", media.upload_media, methods=["POST"]),
        Route("/api/media", media.list_media, methods=["GET"]),
        Route("/api/media/{media_id}", media.get_media, methods=["GET"]),
        Route("/api/media/{media_id}", media.delete_media, methods=["DELETE"]),
        Route("/api/episodes", episodes.create_episode, methods=["POST"]),
        Route("/api/episodes", episodes.list_episodes, methods=["GET"]),
        Route("/api/episodes/{episode_id}", episodes.get_episode, methods=["GET"]),
        Route("/api/episodes/{episode_id}", episodes.update_episode, methods=["PATCH"]),
        Route("/api/episodes/{episode_id}", episodes.delete_episode, methods=["DELETE"]),
        Route("/api/episodes/{episode_id}/audio", episodes.episode_audio, methods=["GET", "HEAD"]),
        Route("/api/episodes/{episode_id}/assemble", jobs.assemble, methods=["POST"]),
        Route("/api/jobs", jobs.list_jobs, methods=["GET"]),
        Route("/api/jobs/{job_id}", jobs.get_job, methods=["GET"]),
        Route("/api/jobs/{job_id}/cancel", jobs.cancel_job, methods=["POST"]),
        *page_routes(),
    ]
