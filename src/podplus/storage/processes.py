"""Records of the engine processes supervisors started: what the boot sweep trusts."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from databases import Database

from podplus.storage.schema import processes


@dataclass(frozen=True)
class ProcessRecord:
    id: int
    job_id: str
    pid: int
    started_at: float
    cmdline: tuple[str, ...]
    host: str
    boot_id: str
    worker_id: str
    ended_at: float | None


def _record(row: object) -> ProcessRecord:
    mapping = dict(row._mapping)  # type: ignore[attr-defined]
    mapping["cmdline"] = tuple(json.loads(mapping["cmdline"]))
    return ProcessRecord(**mapping)


class ProcessStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(
        self,
        *,
        job_id: str,
        pid: int,
        started_at: float,
        cmdline: list[str],
        host: str,
        boot_id: str,
        worker_id: str,
    ) -> int:
        # RETURNING, not lastrowid: the same statement answers on SQLite and PostgreSQL.
        return int(
            await self._db.fetch_val(
                processes.insert()
                .returning(processes.c.id)
                .values(
                    job_id=job_id,
                    pid=pid,
                    started_at=started_at,
                    cmdline=json.dumps(cmdline),
                    host=host,
                    boot_id=boot_id,
                    worker_id=worker_id,
                )
            )
        )

    async def ended(self, record_id: int) -> None:
        await self._db.execute(
            processes.update().where(processes.c.id == record_id).values(ended_at=time.time())
        )

    async def live_on_host(self, host: str) -> list[ProcessRecord]:
        rows = await self._db.fetch_all(
            processes.select().where(processes.c.host == host, processes.c.ended_at.is_(None))
        )
        return [_record(row) for row in rows]
