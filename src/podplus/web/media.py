"""``/api/media``: upload, list, show and delete audio files and cover images."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from podplus.errors import Conflict, InvalidInput, NotFound, UnsupportedMedia
from podplus.ids import isoformat, new_id
from podplus.probing import ProbeFailed, integrated_lufs, probe
from podplus.storage.media import Media, MediaKind
from podplus.web.requests import current_user, services
from podplus.web.schemas import MediaOut, Page, json_response
from podplus.web.uploads import receive_upload


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
    user = await current_user(request)
    found = services(request)
    upload = await receive_upload(
        request,
        destination=found.files.incoming_path(),
        max_bytes=found.settings.max_upload_bytes,
    )
    try:
        try:
            kind = MediaKind(upload.fields.get("kind") or MediaKind.CONTENT.value)
        except ValueError:
            kinds = ", ".join(k.value for k in MediaKind)
            raise InvalidInput(f"kind: must be one of {kinds}.") from None
        try:
            info = await probe(upload.path)
        except ProbeFailed as exc:
            raise UnsupportedMedia(_unreadable(kind, str(exc))) from exc
        if kind.is_audio and not info.has_audio:
            raise UnsupportedMedia(_unreadable(kind, "it has no audio stream"))
        if not kind.is_audio and not info.is_image:
            raise UnsupportedMedia(_unreadable(kind, "it is not a JPEG, PNG or WebP image"))
        loudness = None
        if kind.is_audio:
            try:
                loudness = await integrated_lufs(upload.path, nice=found.settings.engine_nice)
            except ProbeFailed as exc:
                raise UnsupportedMedia(_unreadable(kind, str(exc))) from exc
        media_id = new_id()
        item = Media(
            id=media_id,
            owner_id=user.id,
            kind=kind,
            filename=_display_name(upload.filename),
            storage_name=media_id,
            size_bytes=upload.size_bytes,
            duration_s=info.duration_s if kind.is_audio else None,
            sample_rate=info.sample_rate if kind.is_audio else None,
            channels=info.channels if kind.is_audio else None,
            codec=info.codec,
            loudness_lufs=loudness,
            created_at=time.time(),
        )
        found.files.publish(upload.path, found.files.media_path(item.storage_name))
        try:
            await found.media.add(item)
        except BaseException:
            found.files.remove(found.files.media_path(item.storage_name))
            raise
    finally:
        found.files.remove(upload.path)
    return json_response(media_out(item), status_code=201)


async def list_media(request: Request) -> Response:
    user = await current_user(request)
    items = await services(request).media.owned_by(owner_id=user.id)
    return json_response(Page[MediaOut](items=[media_out(item) for item in items]))


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
    found.files.remove(found.files.media_path(item.storage_name))
    return Response(status_code=204)


async def _owned(request: Request, owner_id: str) -> Media:
    item = await services(request).media.get(request.path_params["media_id"], owner_id=owner_id)
    if item is None:
        raise NotFound("No such media.")
    return item


def _unreadable(kind: MediaKind, why: str) -> str:
    wanted = "an audio file" if kind.is_audio else "an image"
    return f"The upload can't be read as {wanted}: {why}."


def _display_name(filename: str) -> str:
    # Kept only to show back to its owner; the bytes on disk are named by id.
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return (name or "upload")[:255]
