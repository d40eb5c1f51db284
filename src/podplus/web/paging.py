"""Lists a page at a time: the ``limit`` and ``cursor`` query parameters, and the cursor.

Every list answers ``{"items": [...], "next": cursor | null}``; a client asks for the next
page with ``?cursor=<next>`` until ``next`` is null. A cursor is a storage ``Position``
(where the last page ended) signed for one list of one user: opaque to clients, and
refused with a 422 naming ``cursor`` if it was altered, made up, or taken from another
list or another user, so no cursor can reach a row its holder may not see.

    query = page_query(request, list_name="media", owner_id=user.id)
    page = await store.owned_by(owner_id=user.id, limit=query.limit, after=query.after)
    Page[MediaOut](items=..., next=query.cursor(page.next))
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass

from starlette.requests import Request

from podplus.errors import InvalidInput
from podplus.security.signing import SIGNATURE_CHARS, Signer
from podplus.storage.pages import Position
from podplus.web.operations import Parameter

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# A position is a float and a 32-character id: well under this, signature included.
MAX_CURSOR_CHARS = 200
_LIMIT = re.compile(r"[0-9]{1,4}")
_ID = re.compile(r"[0-9a-f]{1,64}")

# The route table's query parameters for every list, so the limits are written once.
LIST_PARAMETERS = (
    Parameter(
        "limit",
        "query",
        f"How many items at most: 1 to {MAX_LIMIT}, {DEFAULT_LIMIT} when absent.",
        schema={"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    ),
    Parameter(
        "cursor",
        "query",
        "The `next` of the page before; absent for the first page.",
        schema={"type": "string", "minLength": 1, "maxLength": MAX_CURSOR_CHARS},
    ),
)
LIST_ERRORS = {422: "`limit` or `cursor` is wrong; the message names which."}


class Cursors:
    """Signs positions into cursors and reads them back, for one list scope at a time."""

    def __init__(self, *, secret_key: str) -> None:
        self._signer = Signer(secret_key=secret_key, purpose="list cursor")

    def encode(self, scope: str, position: Position) -> str:
        text = json.dumps([position.created_at, position.id], separators=(",", ":"))
        payload = base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode("ascii")
        return f"{payload}.{self._signer.sign(scope, payload)}"

    def decode(self, scope: str, cursor: str) -> Position:
        """The position ``cursor`` holds, if this server signed it for ``scope``."""
        payload, _, signature = cursor.partition(".")
        if (
            len(cursor) > MAX_CURSOR_CHARS
            or len(signature) != SIGNATURE_CHARS
            or not self._signer.verify(signature, scope, payload)
        ):
            raise _bad_cursor()
        padded = payload + "=" * (-len(payload) % 4)
        try:
            created_at, row_id = json.loads(base64.urlsafe_b64decode(padded))
        except (ValueError, TypeError, binascii.Error):
            raise _bad_cursor() from None
        # Signed by us, so well-formed; checked all the same, as anything read from outside.
        if (
            not isinstance(created_at, int | float)
            or isinstance(created_at, bool)
            or not math.isfinite(created_at)
            or not isinstance(row_id, str)
            or not _ID.fullmatch(row_id)
        ):
            raise _bad_cursor()
        return Position(created_at=float(created_at), id=row_id)


@dataclass(frozen=True)
class PageQuery:
    """What a list request asked for: how many items, and after which position."""

    limit: int
    after: Position | None
    scope: str
    cursors: Cursors

    def cursor(self, following: Position | None) -> str | None:
        """The ``next`` to answer with for a page that ended at ``following``."""
        return None if following is None else self.cursors.encode(self.scope, following)


def page_query(request: Request, *, list_name: str, owner_id: str) -> PageQuery:
    """Read ``limit`` and ``cursor`` for one of ``owner_id``'s lists (a 422 if wrong)."""
    cursors: Cursors = request.app.state.cursors
    scope = f"{list_name}:{owner_id}"
    raw_limit = request.query_params.get("limit")
    limit = DEFAULT_LIMIT
    if raw_limit is not None:
        limit = int(raw_limit) if _LIMIT.fullmatch(raw_limit) else 0
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(
                f"limit: must be a whole number from 1 to {MAX_LIMIT}.", field="limit"
            )
    raw_cursor = request.query_params.get("cursor")
    after = None if raw_cursor is None else cursors.decode(scope, raw_cursor)
    return PageQuery(limit=limit, after=after, scope=scope, cursors=cursors)


def _bad_cursor() -> InvalidInput:
    return InvalidInput(
        "cursor: not a cursor of this list; use the `next` of the page before, or none.",
        field="cursor",
    )
