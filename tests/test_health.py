"""``/healthz`` and the JSON shape of every error, 404 and 405 and 500 included."""

from __future__ import annotations

import httpx
from starlette.routing import Route

from podplus.app import create_app


async def test_healthz_answers_when_the_database_does(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "sqlite"
    assert body["schema_version"] >= 1


async def test_unknown_paths_and_methods_are_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"code": "not_found", "message": "Nothing at /api/nothing-here."}
    }
    wrong_method = await client.delete("/api/users/me")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


async def test_an_unexpected_error_is_a_json_500_without_a_traceback(settings) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings)

    async def broken(request):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals")

    app.router.routes.append(Route("/broken", broken))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/broken")
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "Something went wrong on our side."}
    }
    assert "secret internals" not in response.text
