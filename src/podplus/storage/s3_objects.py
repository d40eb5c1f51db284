"""The object store as an S3 bucket (AWS, or any S3-compatible server), through ``obstore``.

``obstore`` is the Rust ``object_store`` crate (what Apache Arrow and DataFusion use) with
asyncio bindings: every call awaits without a thread, uploads from a stream go up as a
multipart upload that becomes visible only when completed, reads stream with a byte range,
and retries with backoff are built in and bounded by time.

Whatever goes wrong on the way to the store (refused connection, timeout, a 5xx, refused
credentials) becomes ``StoreUnavailable``, whose message names no endpoint, bucket or key;
the details go to the log. A missing object is ``ObjectMissing``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import BaseError
from obstore.store import S3Store

from podplus.errors import ObjectMissing, StoreUnavailable
from podplus.ids import new_id
from podplus.storage.objects import StoredObject, checked_key

if TYPE_CHECKING:
    from obstore import ObjectMeta

    from podplus.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

# An upload goes up in parts of this size (S3's smallest part is 5 MiB), two at a time:
# at most a few parts' bytes are in memory, whatever the file's size.
PART_BYTES = 8 * 1024 * 1024
_PARTS_IN_FLIGHT = 2
_READ_CHUNK_BYTES = 256 * 1024


class S3Objects:
    """``ObjectStore`` on ``bucket`` under ``prefix``, reached at ``endpoint`` (empty: AWS)."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint: str = "",
        region: str = "us-east-1",
        access_key_id: str = "",
        secret_access_key: str = "",
        timeout_s: float = 30.0,
    ) -> None:
        timeout = timedelta(seconds=timeout_s)
        config: dict[str, Any] = {"region": region}
        if endpoint:
            # Path-style (``endpoint/bucket/key``): what self-hosted stores answer, without
            # a DNS name per bucket.
            config["endpoint"] = endpoint
            config["virtual_hosted_style_request"] = False
        if access_key_id:
            config["access_key_id"] = access_key_id
            config["secret_access_key"] = secret_access_key
        self._store = S3Store(
            bucket,
            prefix=prefix or None,
            config=config,  # type: ignore[arg-type]
            client_options={
                # Plain HTTP only to an endpoint that says so (a store on this network).
                "allow_http": urlsplit(endpoint).scheme == "http",
                "connect_timeout": timeout,
                # Stalls are caught per read; a whole transfer (an hour of audio to a slow
                # listener) may take longer than any one read.
                "read_timeout": timeout,
                "timeout": timedelta(hours=6),
            },
            retry_config={"max_retries": 3, "retry_timeout": timeout},
        )
        self._retry_after_s = max(1, min(30, round(timeout_s)))

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Objects:
        parts = urlsplit(settings.storage_url)
        return cls(
            bucket=parts.netloc,
            prefix=parts.path.strip("/"),
            endpoint=settings.s3_endpoint,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            timeout_s=settings.s3_timeout_s,
        )

    def local_path(self, key: str) -> None:
        checked_key(key)
        return None

    async def put_file(self, key: str, source: Path) -> StoredObject:
        checked_key(key)
        handle = await asyncio.to_thread(source.open, "rb")
        try:
            first = await asyncio.to_thread(handle.read, PART_BYTES)
            if len(first) < PART_BYTES:
                # Small enough for one request (and S3 wants at least one part's size
                # before a multipart upload is worth it).
                await self._call("put", obstore.put_async(self._store, key, first))
            else:
                await self._call(
                    "put",
                    obstore.put_async(
                        self._store,
                        key,
                        _chunks(first, handle),
                        chunk_size=PART_BYTES,
                        max_concurrency=_PARTS_IN_FLIGHT,
                    ),
                )
        finally:
            # In a thread: a put cancelled mid-read closes the file once that read returns.
            await asyncio.to_thread(handle.close)
        stored = await self.stat(key)
        if stored is None:
            raise StoreUnavailable(retry_after_s=self._retry_after_s)
        return stored

    async def move_file_in(self, key: str, source: Path) -> StoredObject:
        stored = await self.put_file(key, source)
        await asyncio.to_thread(source.unlink, missing_ok=True)
        return stored

    async def fetch(self, key: str, destination: Path) -> StoredObject:
        temporary = destination.with_name(f".{new_id()}.part")
        try:
            with temporary.open("wb") as handle:
                async for chunk in self.read(key):
                    await asyncio.to_thread(handle.write, chunk)
            temporary.replace(destination)
        finally:
            temporary.unlink(missing_ok=True)
        stored = await self.stat(key)
        size_bytes = destination.stat().st_size
        return stored or StoredObject(key=key, size_bytes=size_bytes, etag="", modified_at=0.0)

    async def stat(self, key: str) -> StoredObject | None:
        checked_key(key)
        try:
            meta = await self._call("head", obstore.head_async(self._store, key))
        except ObjectMissing:
            return None
        return _stored(key, meta)

    async def read(
        self, key: str, *, first: int = 0, last: int | None = None
    ) -> AsyncIterator[bytes]:
        checked_key(key)
        options: dict[str, Any] = {}
        if last is not None:
            options["range"] = (first, last + 1)  # obstore's end is exclusive
        elif first:
            options["range"] = {"offset": first}
        result = await self._call(
            "get",
            obstore.get_async(self._store, key, options=options),  # type: ignore[arg-type]
        )
        stream = result.stream(min_chunk_size=_READ_CHUNK_BYTES)
        while True:
            try:
                chunk = await self._call("get", anext(stream))
            except StopAsyncIteration:
                return
            yield bytes(chunk)

    async def copy(self, source_key: str, key: str) -> StoredObject:
        checked_key(source_key)
        checked_key(key)
        await self._call("copy", obstore.copy_async(self._store, source_key, key))
        stored = await self.stat(key)
        if stored is None:
            raise ObjectMissing("No such object.")
        return stored

    async def delete(self, key: str) -> None:
        checked_key(key)
        with contextlib.suppress(ObjectMissing):
            await self._call("delete", obstore.delete_async(self._store, key))

    async def _call(self, operation: str, call: Awaitable[T]) -> T:
        """Await ``call``, translating the store's failures into podplus's errors."""
        try:
            return await call
        except FileNotFoundError:
            # obstore reports a missing object as the built-in error.
            raise ObjectMissing("No such object.") from None
        except (BaseError, OSError, ValueError, TimeoutError) as exc:
            # The log gets what happened (the store's own words name the endpoint and
            # key; the log is the operator's); the caller gets no address.
            logger.warning(
                "event=objects.store_unavailable operation=%s error=%s detail=%r",
                operation,
                type(exc).__name__,
                str(exc).splitlines()[0][:300] if str(exc) else "",
            )
            raise StoreUnavailable(retry_after_s=self._retry_after_s) from None


async def _chunks(first: bytes, handle: BinaryIO) -> AsyncIterator[bytes]:
    yield first
    while chunk := await asyncio.to_thread(handle.read, PART_BYTES):
        yield chunk


def _stored(key: str, meta: ObjectMeta) -> StoredObject:
    return StoredObject(
        key=key,
        size_bytes=int(meta["size"]),
        etag=(meta.get("e_tag") or "").strip('"'),
        modified_at=meta["last_modified"].timestamp(),
    )
