"""``POST /api/productions``: upload the audio, describe the episode and queue its
assembly, in one request.

It is the creator's loop (``POST /api/media`` per file, ``POST /api/episodes``, ``POST
/api/episodes/{id}/assemble``) as one multipart form, and each step is the one those
endpoints take: the same streaming receiver and limits, the same sandboxed analysis and
quotas, the same episode description with the show's defaults, the same job queue. It
is all or nothing: a refusal names the part that failed (``files[1]: …``) and leaves
no media row, no file and no episode behind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from podplus.engine.spec import MAX_PARTS, EpisodeChanges, SpecError, parse_json, read
from podplus.errors import InvalidInput, JobQuotaExceeded, PodplusError
from podplus.ids import new_id
from podplus.probing import Analyzer
from podplus.settings import Settings
from podplus.storage.media import Media, MediaKind, MediaQuota, MediaUsage
from podplus.storage.productions import add_production
from podplus.web.episodes import describe_episode, episode_out
from podplus.web.jobs import job_out
from podplus.web.media import inspect_upload, measure_upload, media_quota, new_media
from podplus.web.requests import current_user, services
from podplus.web.schemas import ProductionAccepted, ProductionForm, json_response
from podplus.web.uploads import (
    MAX_FIELD_BYTES,
    FormShape,
    ReceivedFile,
    ReceivedForm,
    file_too_large,
    receive_form,
    while_connected,
)

# Each file part, and the kind of media its files are stored as.
PART_KINDS = {
    "files": MediaKind.CONTENT,
    "intro": MediaKind.INTRO,
    "outro": MediaKind.OUTRO,
    "music_bed": MediaKind.MUSIC,
}
# A title is at most 300 characters, each at most 4 bytes of UTF-8.
TITLE_FIELD_BYTES = 4 * MAX_FIELD_BYTES
assert {*PART_KINDS, "show_id", "title", "options"} == set(ProductionForm.model_fields)


def production_shape(settings: Settings) -> FormShape:
    """The form's parts: up to ``MAX_PARTS`` ``files``, one of each other."""
    return FormShape(
        files={name: MAX_PARTS if name == "files" else 1 for name in PART_KINDS},
        fields={
            "show_id": MAX_FIELD_BYTES,
            "title": TITLE_FIELD_BYTES,
            "options": settings.max_json_bytes,
        },
    )


async def create_production(request: Request) -> Response:
    """Store the audio, describe the episode and queue its assembly, in one request:
    202 with the episode and its job (`Location`: the job).

    The form: one `files` part per segment, in order (kind content); optionally one
    `intro`, `outro` and `music_bed` file (kinds intro, outro, music); `show_id` (the
    show's defaults fill what the episode leaves out, as in `POST /api/episodes`);
    `title` (else the first file's name); `options`, a JSON object with any other fields
    of an episode description (`{"output": {"format": "m4a"}}`; `music_bed` may give
    the uploaded bed's `gain_db` and `duck`). Each file is judged as `POST /api/media`
    judges an upload, and the quotas and analysis slots are the same. A refusal names
    the part (`files[1]: …`, `options.loudness.target_lufs: …`) and stores nothing."""
    user = await current_user(request)
    found = services(request)
    settings = found.settings
    quota = media_quota(settings)
    usage = await found.media.usage(owner_id=user.id)
    # What can be refused before the body is read is: no one sends 500 MB to hear "full".
    quota.check_room(usage)
    if await found.jobs.active_count(owner_id=user.id) >= settings.max_active_jobs_per_user:
        raise JobQuotaExceeded(limit=settings.max_active_jobs_per_user)

    def too_large(part: str | None, size_bytes: int) -> PodplusError:
        if part is not None and size_bytes > settings.max_upload_bytes:
            return file_too_large(settings.max_upload_bytes).about(part)
        refusal = quota.storage_error(usage)
        return refusal if part is None else refusal.about(part)

    async with found.analyzer.slot(user.id):
        form = await receive_form(
            request,
            shape=production_shape(settings),
            new_path=found.files.incoming_path,
            max_file_bytes=settings.max_upload_bytes,
            max_total_bytes=quota.storage_bytes - usage.size_bytes,
            too_large=too_large,
        )
        try:
            accepted = await _produce(request, form, owner_id=user.id, quota=quota, usage=usage)
        finally:
            for received in form.files:
                found.files.remove(received.path)
    # The production's transaction has committed: now the job goes to its carrier.
    job = await found.jobs.get(accepted.job.id)
    if job is not None:
        await found.queue.handed_over_later(job)
    return json_response(
        accepted, status_code=202, headers={"Location": f"/api/jobs/{accepted.job.id}"}
    )


async def _produce(
    request: Request, form: ReceivedForm, *, owner_id: str, quota: MediaQuota, usage: MediaUsage
) -> ProductionAccepted:
    found = services(request)
    if not form.named("files"):
        raise InvalidInput("files: send the audio as one or more `files` parts.", field="files")
    media_ids = {received.part: new_id() for received in form.files}
    # The description is checked before any file is analysed: a typo in the options
    # costs no loudness pass.
    episode = await describe_episode(
        request,
        episode_fields(form, media_ids),
        owner_id=owner_id,
        fresh={media_ids[item.part]: PART_KINDS[item.name] for item in form.files},
    )
    items = await while_connected(
        request,
        _analysed(
            found.analyzer, form.files, media_ids, owner_id=owner_id, quota=quota, usage=usage
        ),
    )
    published: list[str] = []
    try:
        for received, item in zip(form.files, items, strict=True):
            await found.objects.move_file_in(item.storage_name, received.path)
            published.append(item.storage_name)
        job = await add_production(
            found.database,
            media=found.media,
            episodes=found.episodes,
            jobs=found.jobs,
            items=items,
            quota=quota,
            episode=episode,
            max_active_jobs=found.settings.max_active_jobs_per_user,
        )
    except BaseException:
        for key in published:
            await found.objects.delete(key)
        raise
    return ProductionAccepted(episode=episode_out(episode, job), job=job_out(job))


def episode_fields(form: ReceivedForm, media_ids: dict[str, str]) -> dict[str, Any]:
    """The episode's description (as ``POST /api/episodes`` takes it) from the form: the
    ``options``, the files as segments, intro, outro and bed, the title and the show.
    Something said twice (an ``intro`` file and ``options.intro_id``) is refused."""
    fields = form.fields
    data = _options(fields.get("options"), bed_id=_first_id(form, "music_bed", media_ids))
    for name in ("intro", "outro"):
        media_id = _first_id(form, name, media_ids)
        if media_id is not None:
            if f"{name}_id" in data:
                raise InvalidInput(
                    f"{name}: sent as a file and as options.{name}_id; send one of them.",
                    field=name,
                )
            data[f"{name}_id"] = media_id
    files = form.named("files")
    data["segments"] = [{"media_id": media_ids[item.part]} for item in files]
    if "title" in fields:
        if "title" in data:
            raise InvalidInput(
                "title: sent as a part and as options.title; send one of them.", field="title"
            )
        data["title"] = fields["title"]
    elif "title" not in data:
        data["title"] = PurePath(files[0].filename).stem or files[0].filename
    if "show_id" in fields:
        data["show_id"] = fields["show_id"]
    return data


def _options(text: str | None, *, bed_id: str | None) -> dict[str, Any]:
    """The ``options`` part: a JSON object of episode fields, read with the episode's
    partial model (``podplus.engine.spec.EpisodeChanges``), as sent (the show's defaults
    fill the rest key by key)."""
    data: Any = {}
    if text is not None:
        try:
            data = parse_json(text)
        except SpecError as exc:
            raise InvalidInput(f"options: {exc.message}.", field="options") from None
        if not isinstance(data, dict):
            raise InvalidInput("options: must be a JSON object.", field="options")
        if "segments" in data:
            raise InvalidInput(
                "options.segments: the `files` parts are the segments; send each as a part.",
                field="options",
            )
    if bed_id is not None:
        bed = data.get("music_bed", {})
        if bed is None or (isinstance(bed, dict) and "media_id" in bed):
            raise InvalidInput(
                "music_bed: sent as a file and as options.music_bed; send the bed once (options "
                "may give its gain_db and duck).",
                field="music_bed",
            )
        # The uploaded bed, with the gain and ducking the options give it (if any).
        data["music_bed"] = {**bed, "media_id": bed_id} if isinstance(bed, dict) else bed
    try:
        read(EpisodeChanges, data)
    except SpecError as exc:
        raise InvalidInput(f"options.{exc.message}", field="options") from None
    return dict(data)


def _first_id(form: ReceivedForm, name: str, media_ids: dict[str, str]) -> str | None:
    sent = form.named(name)
    return media_ids[sent[0].part] if sent else None


async def _analysed(
    analyzer: Analyzer,
    files: list[ReceivedFile],
    media_ids: dict[str, str],
    *,
    owner_id: str,
    quota: MediaQuota,
    usage: MediaUsage,
) -> list[Media]:
    """Every file judged as an upload is, the quotas counting the ones before it. All are
    judged on their headers before any is measured: a bad last file costs no loudness
    pass of the others."""
    inspected = []
    so_far = usage
    for received in files:
        kind = PART_KINDS[received.name]
        try:
            info = await inspect_upload(
                analyzer,
                received.path,
                kind,
                check_duration=_duration_check(quota, so_far, size_bytes=received.size_bytes),
            )
        except PodplusError as exc:
            raise exc.about(received.part) from None
        so_far = dataclasses.replace(
            so_far,
            files=so_far.files + 1,
            size_bytes=so_far.size_bytes + received.size_bytes,
            duration_s=so_far.duration_s + (info.duration_s or 0.0),
        )
        inspected.append((received, kind, info))
    items = []
    for received, kind, info in inspected:
        try:
            loudness = await measure_upload(analyzer, received.path, kind, info)
        except PodplusError as exc:
            raise exc.about(received.part) from None
        items.append(
            new_media(
                media_id=media_ids[received.part],
                owner_id=owner_id,
                kind=kind,
                filename=received.filename,
                size_bytes=received.size_bytes,
                info=info,
                loudness_lufs=loudness,
            )
        )
    return items


def _duration_check(
    quota: MediaQuota, usage: MediaUsage, *, size_bytes: int
) -> Callable[[float], None]:
    """The duration quota's check of one more file of ``size_bytes`` on top of ``usage``."""

    def check(duration_s: float) -> None:
        quota.check(usage, size_bytes=size_bytes, duration_s=duration_s)

    return check
