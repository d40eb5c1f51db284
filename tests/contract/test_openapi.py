"""``/openapi.json`` is a valid OpenAPI 3.1 document, and it and the app describe the same API.

Every route the app serves, bar the web app's static files (``/static``: files, not
operations), is documented with the same methods, and every documented operation is served;
every link leads to a documented operation and names parameters it has. What the answers
look like is ``test_fuzz``'s business.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from starlette.routing import Mount, Route

from podplus.app import create_app
from podplus.settings import Settings

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
STATIC_FILES = "/static"
Operations = set[tuple[str, str]]


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()  # type: ignore[no-any-return]


def served(settings: Settings) -> Operations:
    """(path, METHOD) for every route the app serves, as Starlette will match them."""
    operations: Operations = set()
    for route in create_app(settings).routes:
        if isinstance(route, Mount) and route.path == STATIC_FILES:
            continue
        # Any other Mount, or a bare ASGI app, would hide its routes from this comparison.
        assert isinstance(route, Route), f"not a plain route: {route!r}"
        assert route.methods, f"{route.path} answers every method"
        operations |= {(route.path, method) for method in route.methods}
    return operations


def documented(document: dict[str, Any]) -> Operations:
    return {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def implicit_heads(operations: Operations) -> Operations:
    """Starlette answers HEAD on every GET route with the GET handler, minus the body; that
    is not an operation of its own unless the document says so."""
    return {(path, "HEAD") for path, method in operations if method == "GET"}


def operations_by_id(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        operation["operationId"]: {**operation, "path": path}
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_every_route_is_documented_with_its_methods(
    document: dict[str, Any], settings: Settings
) -> None:
    routes = served(settings)
    undocumented = routes - implicit_heads(routes) - documented(document)
    assert not undocumented, f"served but not in /openapi.json: {sorted(undocumented)}"


def test_every_documented_operation_is_served(document: dict[str, Any], settings: Settings) -> None:
    unserved = documented(document) - served(settings)
    assert not unserved, f"in /openapi.json but not served: {sorted(unserved)}"


def test_operation_ids_are_unique(document: dict[str, Any]) -> None:
    ids = [
        operation["operationId"]
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]
    assert len(ids) == len(set(ids)), sorted(ids)


def test_every_link_leads_to_an_operation_and_its_parameters(document: dict[str, Any]) -> None:
    by_id = operations_by_id(document)
    links = 0
    for source in by_id.values():
        for status, response in source["responses"].items():
            for name, link in response.get("links", {}).items():
                links += 1
                where = f"{source['operationId']} {status} {name}"
                assert link["operationId"] in by_id, f"{where}: no such operation"
                target = by_id[link["operationId"]]
                names = {parameter["name"] for parameter in target.get("parameters", [])}
                assert set(link["parameters"]) <= names, f"{where}: {link['parameters']}"
    # Stateful fuzzing follows these from create to read, update and delete.
    assert links > 0


def test_refusals_with_a_cause_to_branch_on_document_it_as_error_reason(
    document: dict[str, Any],
) -> None:
    detail = document["components"]["schemas"]["ErrorDetail"]
    assert "reason" in detail["properties"] and "reason" not in detail.get("required", [])
    by_id = operations_by_id(document)

    def example(operation_id: str, status: str) -> dict[str, Any]:
        answer = by_id[operation_id]["responses"][status]
        return answer["content"]["application/json"]["example"]["error"]  # type: ignore[no-any-return]

    assert example("publish_episode", "409")["reason"] in {"not_ready", "no_show", "format"}
    assert example("upload_artwork", "415")["reason"] == "format"
    assert example("upload_artwork", "422")["reason"] in {"square", "size", "colour"}
    assert "reason" not in example("get_show", "404")


def test_a_query_is_documented_from_the_model_that_reads_it(document: dict[str, Any]) -> None:
    parameters = operations_by_id(document)["show_stats"]["parameters"]
    (days,) = [parameter for parameter in parameters if parameter["in"] == "query"]
    assert days["name"] == "days"
    assert days["schema"] == {"type": "integer", "minimum": 1, "maximum": 3660, "default": 30}


def test_a_moved_feed_is_documented_as_a_redirect_and_a_deleted_one_as_gone(
    document: dict[str, Any],
) -> None:
    answers = operations_by_id(document)["show_feed"]["responses"]
    assert {"200", "301", "304", "404", "410"} <= set(answers)
