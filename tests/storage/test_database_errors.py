"""Which driver errors say "the database can't be reached" (a 503 that may pass) rather
than "this query is wrong" (a bug, a 500)."""

from __future__ import annotations

import sqlite3

import asyncpg
import psycopg
import psycopg_pool
import pytest
from procrastinate.exceptions import ConnectorException

from podplus.storage.database import is_unavailable


def raised_from(cause: BaseException, wrapper: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise wrapper from inner
    except BaseException as outer:
        return outer


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        asyncpg.CannotConnectNowError("the database system is shutting down"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.InterfaceError("connection is closed"),
        sqlite3.OperationalError("database is locked"),
        raised_from(psycopg.OperationalError("server closed"), ConnectorException("defer")),
        raised_from(psycopg_pool.PoolTimeout("no connection in 5 s"), ConnectorException("x")),
    ],
    ids=lambda error: type(error).__name__,
)
def test_an_unreachable_database_is_recognised_through_what_wraps_it(
    error: BaseException,
) -> None:
    assert is_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad value"),
        sqlite3.OperationalError("no such table: users"),
        asyncpg.UndefinedTableError("relation does not exist"),
        raised_from(psycopg.ProgrammingError("syntax error"), ConnectorException("defer")),
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_wrong_query_is_not_an_outage(error: BaseException) -> None:
    assert not is_unavailable(error)
