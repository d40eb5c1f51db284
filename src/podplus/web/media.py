"""``/api/media``: upload, list, show and delete audio files and cover images."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from podplus.engine.probe import ProbeResult
from podplus.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PodplusError,
    UnsupportedMedia,
)
from podplus.ids import isoformat, new_id
from podplus.probing import Analyzer, ProbeFailed, check_figures
from podplus.settings import Settings
from podplus.storage.media import Media, MediaKind, MediaQuota
from podplus.web.paging import page_query
from podplus.web.requests import current_user, services
from podplus.web.schemas import MediaOut, MediaUpload, Page, json_response
from podplus.web.uploads import file_too_large, receive_upload, while_connected

# The form's parts, from the one declaration of its body.
UPLOAD_FIELDS = frozenset(MediaUpload.model_fields)


def media_out(item: Media) -> MediaOut:
    return MediaOut(
        id=item.id,
        filename=item.filename,
        kind=item.kind,
        size_bytes=item.size_bytes,
        duration_s=item.duration_s,
        sample_rate=item.sample_rate,
        channels=item.channels,
        codec=item.codec,
        loudness_lufs=item.loudness_lufs,
        created_at=isoformat(item.created_at),
    )


async def upload_media(request: Request) -> Response:
    """Stream the file to disk, probe it, refuse it on what it declares, then measure it.

    Refused before it is read: an owner at a quota, or with as many analyses running as
    they may. Refused on its headers, before anything is decoded: audio longer, wider or
    at a higher rate than the limits allow. A measurement past its time limit, or a
    client that hangs up, stops the analysis at once; a refused upload leaves nothing.
    """
    user = await current_user(request)
    found = services(request)
    settings = found.settings
    quota = media_quota(settings)
    usage = await found.media.usage(owner_id=user.id)
    quota.check_room(usage)
    room_bytes = quota.storage_bytes - usage.size_bytes

    def refusal() -> PodplusError:
        if room_bytes < settings.max_upload_bytes:
            return quota.storage_error(usage)
        return file_too_large(settings.max_upload_bytes)

    # The slot is taken before the body is read: a user already at the limit is refused
    # before sending 500 MB, not after.
    async with found.analyzer.slot(user.id):
        upload = await receive_upload(
            request,
            destination=found.files.incoming_path(),
            max_bytes=min(settings.max_upload_bytes, room_bytes),
            fields=UPLOAD_FIELDS,
            too_large=refusal,
        )
        try:
            try:
                kind = MediaKind(upload.fields.get("kind") or MediaKind.CONTENT.value)
            except ValueError:
                kinds = ", ".join(k.value for k in MediaKind)
                raise InvalidInput(f"kind: must be one of {kinds}.", field="kind") from None
            info, loudness = await while_connected(
                request,
                _analyse(
                    found.analyzer,
                    upload.path,
                    kind,
                    check_duration=lambda duration_s: quota.check(
                        usage, size_bytes=upload.size_bytes, duration_s=duration_s
                    ),
                ),
            )
            item = new_media(
                media_id=new_id(),
                owner_id=user.id,
                kind=kind,
                filename=upload.filename,
                size_bytes=upload.size_bytes,
                info=info,
                loudness_lufs=loudness,
            )
            # Into the store (a rename where it is the local folder), then the row.
            await found.objects.move_file_in(item.storage_name, upload.path)
            try:
                await found.media.add_within(item, quota)
            except BaseException:
                await found.objects.delete(item.storage_name)
                raise
        finally:
            found.files.remove(upload.path)
    return json_response(media_out(item), status_code=201)


def new_media(
    *,
    media_id: str,
    owner_id: str,
    kind: MediaKind,
    filename: str,
    size_bytes: int,
    info: ProbeResult,
    loudness_lufs: float | None,
) -> Media:
    """The row of an analysed upload, stored under its id."""
    return Media(
        id=media_id,
        owner_id=owner_id,
        kind=kind,
        filename=filename,
        storage_name=media_id,
        size_bytes=size_bytes,
        duration_s=info.duration_s if kind.is_audio else None,
        sample_rate=info.sample_rate if kind.is_audio else None,
        channels=info.channels if kind.is_audio else None,
        codec=info.codec,
        loudness_lufs=loudness_lufs,
        created_at=time.time(),
    )


async def _analyse(
    analyzer: Analyzer,
    path: Path,
    kind: MediaKind,
    *,
    check_duration: Callable[[float], None],
) -> tuple[ProbeResult, float | None]:
    """Probe, judge on the declared figures (and the duration quota), then measure."""
    info = await inspect_upload(analyzer, path, kind, check_duration=check_duration)
    return info, await measure_upload(analyzer, path, kind, info)


async def inspect_upload(
    analyzer: Analyzer,
    path: Path,
    kind: MediaKind,
    *,
    check_duration: Callable[[float], None],
) -> ProbeResult:
    """Probe the file and judge it on what it declares (and ``check_duration`` on its
    length), before a sample is decoded; ``UnsupportedMedia`` or ``MediaOverLimit`` if not."""
    try:
        info = await analyzer.probe(path)
    except ProbeFailed as exc:
        raise UnsupportedMedia(_unreadable(kind, str(exc))) from exc
    if not kind.is_audio:
        if not info.is_image:
            raise UnsupportedMedia(_unreadable(kind, "it is not a JPEG, PNG or WebP image"))
        return info
    if not info.has_audio:
        raise UnsupportedMedia(_unreadable(kind, "it has no audio stream"))
    check_duration(check_figures(info, analyzer.limits))
    return info


async def measure_upload(
    analyzer: Analyzer, path: Path, kind: MediaKind, info: ProbeResult
) -> float | None:
    """The integrated loudness of an inspected audio file (None for an image)."""
    if not kind.is_audio:
        return None
    try:
        return await analyzer.integrated_lufs(path, duration_s=info.duration_s or 0.0)
    except ProbeFailed as exc:
        raise UnsupportedMedia(_unreadable(kind, str(exc))) from exc


def media_quota(settings: Settings) -> MediaQuota:
    """The quotas on one owner's uploads."""
    return MediaQuota(
        storage_bytes=settings.quota_storage_bytes,
        files=settings.quota_media_files,
        duration_s=settings.quota_media_duration_s,
    )


async def list_media(request: Request) -> Response:
    user = await current_user(request)
    query = page_query(request, list_name="media", owner_id=user.id)
    page = await services(request).media.owned_by(
        owner_id=user.id, limit=query.limit, after=query.after
    )
    return json_response(
        Page[MediaOut](items=[media_out(item) for item in page.items], next=query.cursor(page.next))
    )


async def get_media(request: Request) -> Response:
    user = await current_user(request)
    return json_response(media_out(await _owned(request, user.id)))


async def delete_media(request: Request) -> Response:
    user = await current_user(request)
    item = await _owned(request, user.id)
    found = services(request)
    if await found.media.in_active_assembly(item.id):
        raise Conflict("An episode that uses this file is being assembled; try again after.")
    await found.media.delete(item.id)
    await found.objects.delete(item.storage_name)
    return Response(status_code=204)


async def _owned(request: Request, owner_id: str) -> Media:
    item = await services(request).media.get(request.path_params["media_id"], owner_id=owner_id)
    if item is None:
        raise NotFound("No such media.")
    return item


def _unreadable(kind: MediaKind, why: str) -> str:
    wanted = "an audio file" if kind.is_audio else "an image"
    return f"The upload can't be read as {wanted}: {why}."
