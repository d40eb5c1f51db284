"""Identifiers and timestamps shared by every table."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import overload


def new_id() -> str:
    """A random 32-hex-digit id: unguessable, and safe as a file name."""
    return uuid.uuid4().hex


@overload
def isoformat(epoch_s: float) -> str: ...
@overload
def isoformat(epoch_s: None) -> None: ...
@overload
def isoformat(epoch_s: float | None) -> str | None: ...


def isoformat(epoch_s: float | None) -> str | None:
    """UTC ISO 8601 with a ``Z``, as the API shows every time."""
    if epoch_s is None:
        return None
    moment = dt.datetime.fromtimestamp(epoch_s, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
