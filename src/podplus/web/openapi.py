"""The OpenAPI 3.1 document, generated from the route table and the pydantic types.

Nothing here is written by hand about any one endpoint: paths, parameters, bodies,
answers, refusals and links all come from the ``Operation`` records, and every schema from
the classes in ``podplus.engine.spec`` and ``podplus.web.schemas``. The document is built
once at start-up and served as bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.requests import Request
from starlette.responses import Response

from podplus.engine.spec import EpisodeInput
from podplus.web.operations import JSON, STORE_DOWN, Operation
from podplus.web.schemas import ErrorBody, example_error

OPENAPI_VERSION = "3.1.0"
REF_TEMPLATE = "#/components/schemas/{model}"
DESCRIPTION = """\
Upload audio, describe an episode, press assemble: podplus stitches the parts, ducks the
music under speech, normalizes loudness to broadcast targets and encodes the episode.

Authenticate with `POST /api/auth/token` (the OAuth2 password flow) and send the token as
`Authorization: Bearer <token>`. Every error is JSON: `{"error": {"code", "message"}}`; a
message about a field starts with its path (`segments[1].trim_start_s: …`). A refusal whose
cause is a value to branch on says it in `error.reason` too (why an episode can't be
published, which rule artwork breaks).
"""

_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media",
    416: "range_not_satisfiable",
    422: "invalid_input",
    429: "too_many_requests",
    503: "database_unavailable",
}


@dataclass(frozen=True)
class Documents:
    """What the app serves about itself, rendered once."""

    openapi: bytes
    episode_schema: bytes


def build_documents(operations: Sequence[Operation], *, version: str) -> Documents:
    episode_schema = EpisodeInput.model_json_schema(mode="validation")
    return Documents(
        openapi=json.dumps(openapi_document(operations, version=version)).encode(),
        episode_schema=json.dumps(episode_schema).encode(),
    )


def openapi_document(operations: Sequence[Operation], *, version: str) -> dict[str, Any]:
    schemas = _Schemas(operations)
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(
            operation, schemas
        )
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "podplus", "version": version, "description": DESCRIPTION},
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "tags": [{"name": name} for name in dict.fromkeys(op.tag for op in operations)],
        "paths": paths,
        "components": {
            "schemas": schemas.definitions,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A token from POST /api/auth/token.",
                },
            },
        },
    }


async def openapi_json(request: Request) -> Response:
    """This document."""
    return Response(_documents(request).openapi, media_type=JSON)


async def episode_schema(request: Request) -> Response:
    """The JSON Schema of an episode description: every field's type, limits and default.

    The studio's form reads its ranges and choices from here."""
    return Response(_documents(request).episode_schema, media_type=JSON)


def _documents(request: Request) -> Documents:
    return request.app.state.documents  # type: ignore[no-any-return]


class _Schemas:
    """Every model the operations use, rendered into ``components/schemas`` at once (so
    shared blocks such as ``Loudness`` are defined once and referenced)."""

    def __init__(self, operations: Sequence[Operation]) -> None:
        wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
        for operation in operations:
            if operation.body is not None:
                wanted.append((operation.body.model, "validation"))
            for reply in operation.replies:
                if reply.model is not None:
                    wanted.append((reply.model, "serialization"))
        refs, top = models_json_schema(list(dict.fromkeys(wanted)), ref_template=REF_TEMPLATE)
        self._refs = refs
        self.definitions: dict[str, Any] = top.get("$defs", {})

    def ref(self, model: type[BaseModel], mode: Literal["validation", "serialization"]) -> Any:
        return self._refs[(model, mode)]


def _operation(operation: Operation, schemas: _Schemas) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": operation.operation_id,
        "tags": [operation.tag],
        "summary": operation.summary,
    }
    if operation.description:
        document["description"] = operation.description
    if operation.auth == "bearer":
        document["security"] = [{"bearer": []}]
    else:
        document["security"] = []
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": 64},
        }
        for name in operation.path_parameters
    ]
    parameters += [
        {
            "name": parameter.name,
            "in": parameter.location,
            "required": parameter.required,
            "description": parameter.description,
            "schema": dict(parameter.schema),
        }
        for parameter in operation.parameters
    ]
    if parameters:
        document["parameters"] = parameters
    if operation.body is not None:
        document["requestBody"] = {
            "required": True,
            "content": {
                operation.body.media_type: {
                    "schema": schemas.ref(operation.body.model, "validation")
                }
            },
        }
    responses: dict[str, Any] = {}
    for reply in operation.replies:
        answer: dict[str, Any] = {"description": reply.description}
        if reply.model is not None:
            schema = schemas.ref(reply.model, "serialization")
        elif reply.raw_schema is not None:
            schema = dict(reply.raw_schema)
        if reply.model is not None or reply.raw_schema is not None:
            answer["content"] = {media_type: {"schema": schema} for media_type in reply.media_types}
        if reply.headers:
            answer["headers"] = {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in reply.headers.items()
            }
        if reply.links:
            answer["links"] = {
                name: {"operationId": link.operation_id, "parameters": dict(link.parameters)}
                for name, link in reply.links.items()
            }
        responses[str(reply.status)] = answer
    for status, when in operation.error_statuses().items():
        code = (
            "store_unavailable"
            if when == STORE_DOWN
            else _ERROR_CODES.get(status, HTTPStatus(status).phrase.lower().replace(" ", "_"))
        )
        reasons = operation.reasons.get(status, ())
        if reasons:
            when += f" `error.reason`: {', '.join(f'`{reason}`' for reason in reasons)}."
        responses[str(status)] = {
            "description": when,
            "content": {
                JSON: {
                    "schema": schemas.ref(ErrorBody, "serialization"),
                    "example": example_error(code, when, reasons[0] if reasons else None),
                }
            },
        }
    document["responses"] = responses
    return document
