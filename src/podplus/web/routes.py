"""The URL map: every endpoint podplus serves, in one table."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from podplus.web import health, users


def api_routes() -> list[BaseRoute]:
    return [
        Route("/healthz", health.healthz, methods=["GET"]),
        Route("/api/users", users.create_user, methods=["POST"]),
        Route("/api/users/me", users.me, methods=["GET"]),
        Route("/api/auth/token", users.issue_token, methods=["POST"]),
    ]
