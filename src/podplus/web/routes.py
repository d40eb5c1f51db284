"""The URL map: every endpoint podplus serves, in one table.

Each entry says what the endpoint takes and answers; Starlette's routes and the OpenAPI
document (``/openapi.json``, rendered at ``/docs``) are both built from this list.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from podplus.errors import ArtworkNotJpegOrPng, ArtworkRefused, PublishRefused
from podplus.feeds.artwork import ARTWORK_MEDIA_TYPES
from podplus.feeds.chapters import CHAPTERS_MEDIA_TYPE
from podplus.feeds.items import ENCLOSURE_TYPES
from podplus.feeds.rss import FEED_MEDIA_TYPE
from podplus.web import (
    admin,
    episode_audio,
    episodes,
    feeds,
    health,
    jobs,
    media,
    openapi,
    productions,
    public_audio,
    publishing,
    shows,
    users,
    webhooks,
)
from podplus.web.audio import AUDIO_TYPES
from podplus.web.caching_headers import IMMUTABLE
from podplus.web.exceptions import ERROR_REASONS
from podplus.web.operations import (
    FORM,
    HTML,
    MULTIPART,
    Body,
    Link,
    Operation,
    Parameter,
    Reply,
    query_parameters,
)
from podplus.web.pages import WebApp
from podplus.web.paging import LIST_ERRORS, LIST_PARAMETERS
from podplus.web.public_urls import ARTWORK_PATH, AUDIO_PATH, CHAPTERS_PATH, FEED_PATH
from podplus.web.schemas import (
    ArtworkUpload,
    AudioLink,
    EngineProcess,
    EpisodeChanges,
    EpisodeCreate,
    EpisodeOut,
    Health,
    JobAccepted,
    JobOut,
    MediaOut,
    MediaUpload,
    Page,
    PasswordChange,
    ProductionAccepted,
    ProductionForm,
    PublishRequest,
    ShowChanges,
    ShowInput,
    ShowOut,
    ShowStats,
    StatsQuery,
    TokenOut,
    TokenRequest,
    UserCreate,
    UserOut,
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryOut,
    WebhookOut,
)

AUDIO_SCHEMA = {"type": "string", "format": "binary"}
AUDIO_MEDIA_TYPES = tuple(AUDIO_TYPES.values())
TEXT_SCHEMA = {"type": "string"}
ANY_JSON_OBJECT = {"type": "object"}
RANGE_PARAMETER = Parameter(
    "Range",
    "header",
    "One byte range, e.g. bytes=0-1023; several ranges or a malformed header get the whole file.",
)
AUDIO_REPLIES = (
    Reply(200, "The whole file.", media_type=AUDIO_MEDIA_TYPES, raw_schema=AUDIO_SCHEMA),
    Reply(206, "The range asked for.", media_type=AUDIO_MEDIA_TYPES, raw_schema=AUDIO_SCHEMA),
)
PUBLIC_FILE_HEADERS = {
    "ETag": "The content's hash: the file under this name never changes.",
    "Cache-Control": IMMUTABLE,
}
NOT_MODIFIED = Reply(304, "Not modified since the copy the client has (If-None-Match).")


def _public_file_replies(media_types: tuple[str, ...]) -> tuple[Reply, ...]:
    return (
        Reply(200, "The whole file.", media_type=media_types, raw_schema=AUDIO_SCHEMA,
              headers=PUBLIC_FILE_HEADERS),
        Reply(206, "The range asked for.", media_type=media_types, raw_schema=AUDIO_SCHEMA,
              headers=PUBLIC_FILE_HEADERS),
        NOT_MODIFIED,
    )  # fmt: skip


def _show_links() -> dict[str, Link]:
    this = {"show_id": "$response.body#/id"}
    return {
        "GetShow": Link("get_show", this),
        "UpdateShow": Link("update_show", this),
        "DeleteShow": Link("delete_show", this),
        "UploadArtwork": Link("upload_artwork", this),
        "ShowStats": Link("show_stats", this),
    }


def _episode_links() -> dict[str, Link]:
    this = {"episode_id": "$response.body#/id"}
    return {
        "GetEpisode": Link("get_episode", this),
        "UpdateEpisode": Link("update_episode", this),
        "DeleteEpisode": Link("delete_episode", this),
        "AssembleEpisode": Link("assemble", this),
        "EpisodeAudio": Link("episode_audio", this),
        "EpisodeAudioUrl": Link("episode_audio_url", this),
        "PublishEpisode": Link("publish_episode", this),
        "UnpublishEpisode": Link("unpublish_episode", this),
    }


def _webhook_links() -> dict[str, Link]:
    this = {"webhook_id": "$response.body#/id"}
    return {
        "GetWebhook": Link("get_webhook", this),
        "DeleteWebhook": Link("delete_webhook", this),
        "WebhookDeliveries": Link("list_deliveries", this),
        "TestWebhook": Link("send_test_event", this),
    }


def _job_links(field: str) -> dict[str, Link]:
    this = {"job_id": f"$response.body#/{field}"}
    return {"GetJob": Link("get_job", this), "CancelJob": Link("cancel_job", this)}


def operations(web: WebApp) -> list[Operation]:
    media_links = {
        "GetMedia": Link("get_media", {"media_id": "$response.body#/id"}),
        "DeleteMedia": Link("delete_media", {"media_id": "$response.body#/id"}),
    }
    return [
        # -- Accounts --------------------------------------------------------------------
        Operation(
            method="POST",
            path="/api/users",
            endpoint=users.create_user,
            tag="accounts",
            summary="Sign up",
            auth=None,
            body=Body(UserCreate),
            replies=(Reply(201, "The account.", UserOut),),
            errors={
                409: "An account with this email already exists.",
                429: "Too many sign-ups from this address; Retry-After says when to try again.",
            },
        ),
        Operation(
            method="POST",
            path="/api/auth/token",
            endpoint=users.issue_token,
            tag="accounts",
            summary="Log in: trade email and password for a bearer token",
            auth=None,
            body=Body(TokenRequest, FORM),
            replies=(Reply(200, "A bearer token.", TokenOut),),
            errors={
                401: "Wrong email or password.",
                429: "Too many failed logins; Retry-After says when to try again.",
            },
        ),
        Operation(
            method="GET",
            path="/api/users/me",
            endpoint=users.me,
            tag="accounts",
            summary="The account the token belongs to",
            replies=(Reply(200, "The account.", UserOut),),
        ),
        Operation(
            method="POST",
            path="/api/auth/logout",
            endpoint=users.log_out,
            tag="accounts",
            summary="Log out: end this token",
            replies=(Reply(204, "The token no longer works."),),
        ),
        Operation(
            method="POST",
            path="/api/auth/logout-all",
            endpoint=users.log_out_everywhere,
            tag="accounts",
            summary="Log out everywhere: end every token of the account",
            replies=(Reply(204, "No token issued until now works any more."),),
        ),
        Operation(
            method="POST",
            path="/api/users/me/password",
            endpoint=users.change_password,
            tag="accounts",
            summary="Change the password: end every earlier token, get a fresh one",
            body=Body(PasswordChange),
            replies=(Reply(200, "A fresh bearer token; earlier ones no longer work.", TokenOut),),
            errors={
                403: "The current password is wrong.",
                429: "Too many failed logins; Retry-After says when to try again.",
            },
        ),
        # -- Media -----------------------------------------------------------------------
        Operation(
            method="POST",
            path="/api/media",
            uses_store=True,
            endpoint=media.upload_media,
            tag="media",
            summary="Upload an audio file or a cover image",
            body=Body(MediaUpload, MULTIPART),
            replies=(
                Reply(201, "The stored file, probed and measured.", MediaOut, links=media_links),
            ),
            errors={
                413: "Over the upload size limit, longer than the duration limit, too costly "
                "to analyse in its time limit, or past a media quota (code `quota_exceeded`: "
                "storage, files or duration; the message names it and its value).",
                415: "Not audio (or, for kind=cover, not an image), or a sample rate or "
                "channel count over the limits.",
                422: "A form part this endpoint doesn't take, one sent twice, an unknown "
                "kind, or a file name with control characters; the message names it.",
                429: "As many of your uploads are being analysed as may be at once; "
                "Retry-After says when to try again.",
            },
        ),
        Operation(
            method="GET",
            path="/api/media",
            endpoint=media.list_media,
            tag="media",
            summary="Your uploads, newest first, a page at a time",
            parameters=LIST_PARAMETERS,
            replies=(Reply(200, "A page of uploads.", Page[MediaOut]),),
            errors=LIST_ERRORS,
        ),
        Operation(
            method="GET",
            path="/api/media/{media_id}",
            endpoint=media.get_media,
            tag="media",
            summary="One upload",
            replies=(Reply(200, "The upload.", MediaOut),),
        ),
        Operation(
            method="DELETE",
            path="/api/media/{media_id}",
            uses_store=True,
            endpoint=media.delete_media,
            tag="media",
            summary="Delete an upload",
            replies=(Reply(204, "Deleted."),),
            errors={409: "An episode that uses the file is being assembled."},
        ),
        # -- Episodes --------------------------------------------------------------------
        Operation(
            method="GET",
            path="/api/spec/episode",
            endpoint=openapi.episode_schema,
            tag="episodes",
            summary="The episode description's JSON Schema: fields, limits, defaults",
            auth=None,
            replies=(Reply(200, "A JSON Schema (draft 2020-12).", raw_schema=ANY_JSON_OBJECT),),
        ),
        Operation(
            method="POST",
            path="/api/episodes",
            endpoint=episodes.create_episode,
            tag="episodes",
            summary="Describe an episode",
            body=Body(EpisodeCreate),
            replies=(Reply(201, "The episode, a draft.", EpisodeOut, links=_episode_links()),),
        ),
        Operation(
            method="GET",
            path="/api/episodes",
            endpoint=episodes.list_episodes,
            tag="episodes",
            summary="Your episodes, newest first, a page at a time",
            parameters=LIST_PARAMETERS,
            replies=(Reply(200, "A page of episodes.", Page[EpisodeOut]),),
            errors=LIST_ERRORS,
        ),
        Operation(
            method="GET",
            path="/api/episodes/{episode_id}",
            endpoint=episodes.get_episode,
            tag="episodes",
            summary="One episode and its latest job",
            replies=(Reply(200, "The episode.", EpisodeOut),),
        ),
        Operation(
            method="PATCH",
            path="/api/episodes/{episode_id}",
            uses_store=True,
            endpoint=episodes.update_episode,
            tag="episodes",
            summary="Change an episode",
            body=Body(EpisodeChanges),
            replies=(Reply(200, "The changed episode (its old audio is gone).", EpisodeOut),),
            errors={
                409: "The episode is being assembled, or is published and would leave its show."
            },
        ),
        Operation(
            method="DELETE",
            path="/api/episodes/{episode_id}",
            uses_store=True,
            endpoint=episodes.delete_episode,
            tag="episodes",
            summary="Delete an episode and its audio",
            replies=(Reply(204, "Deleted."),),
            errors={409: "The episode is being assembled."},
        ),
        *[
            Operation(
                method=method,
                path="/api/episodes/{episode_id}/audio",
                endpoint=episode_audio.episode_audio,
                tag="episodes",
                summary="The assembled audio (byte ranges supported)",
                parameters=(RANGE_PARAMETER,),
                replies=AUDIO_REPLIES,
                errors={416: "The range is outside the file."},
                uses_store=True,
            )
            for method in ("GET", "HEAD")
        ],
        Operation(
            method="GET",
            path="/api/episodes/{episode_id}/audio-url",
            endpoint=episode_audio.episode_audio_url,
            tag="episodes",
            summary="A short-lived URL for the audio that needs no token (players, downloads)",
            replies=(Reply(200, "The signed URL and when it expires.", AudioLink),),
        ),
        *[
            Operation(
                method=method,
                path=episode_audio.SIGNED_AUDIO_PATH,
                endpoint=episode_audio.signed_episode_audio,
                tag="episodes",
                summary="The assembled audio through a signed URL (byte ranges supported)",
                auth=None,
                parameters=(
                    Parameter(
                        "expires",
                        "query",
                        "When the URL expires (epoch seconds), as signed.",
                        schema={"type": "integer", "minimum": 0},
                        required=True,
                    ),
                    Parameter("sig", "query", "The signature.", required=True),
                    RANGE_PARAMETER,
                ),
                replies=AUDIO_REPLIES,
                errors={
                    403: "The URL is not one podplus signed for this file, or it has expired.",
                    416: "The range is outside the file.",
                },
            )
            for method in ("GET", "HEAD")
        ],
        # -- Jobs ------------------------------------------------------------------------
        Operation(
            method="POST",
            path="/api/episodes/{episode_id}/assemble",
            endpoint=jobs.assemble,
            tag="jobs",
            summary="Queue the episode's assembly",
            replies=(
                Reply(
                    202,
                    "Queued; follow the job at the Location.",
                    JobAccepted,
                    headers={"Location": "The job's URL."},
                    links=_job_links("job_id"),
                ),
            ),
            errors={
                409: "The episode is already queued or assembling.",
                429: "You have as many jobs queued or running as your quota allows.",
            },
        ),
        Operation(
            method="GET",
            path="/api/jobs",
            endpoint=jobs.list_jobs,
            tag="jobs",
            summary="Your jobs, newest first, a page at a time",
            parameters=LIST_PARAMETERS,
            replies=(Reply(200, "A page of jobs.", Page[JobOut]),),
            errors=LIST_ERRORS,
        ),
        Operation(
            method="GET",
            path="/api/jobs/{job_id}",
            endpoint=jobs.get_job,
            tag="jobs",
            summary="One job: status, progress, phase, error",
            replies=(Reply(200, "The job.", JobOut),),
        ),
        Operation(
            method="POST",
            path="/api/jobs/{job_id}/cancel",
            endpoint=jobs.cancel_job,
            tag="jobs",
            summary="Cancel a queued or running job",
            replies=(Reply(202, "Cancelling (or cancelled, if it was queued).", JobOut),),
            errors={409: "The job has already finished."},
        ),
        # -- Productions -----------------------------------------------------------------
        Operation(
            method="POST",
            path="/api/productions",
            uses_store=True,
            endpoint=productions.create_production,
            tag="jobs",
            summary="Upload audio, describe the episode and queue its assembly, in one request",
            body=Body(ProductionForm, MULTIPART),
            replies=(
                Reply(
                    202,
                    "Stored and queued: the episode and its job; follow the job at the Location.",
                    ProductionAccepted,
                    headers={"Location": "The job's URL."},
                    links={
                        **_job_links("job/id"),
                        "GetEpisode": Link(
                            "get_episode", {"episode_id": "$response.body#/episode/id"}
                        ),
                    },
                ),
            ),
            errors={
                400: "The body is not a multipart form.",
                413: "A file over the upload size limit, longer than the duration limit or "
                "too costly to analyse, or past a media quota (code `quota_exceeded`); the "
                "message names the part (`files[1]: …`).",
                415: "A file that is not audio, or whose sample rate or channel count is over "
                "the limits; the message names the part.",
                422: "A part this form doesn't take, no `files` part, a part sent twice or "
                "said twice (an `intro` file and `options.intro_id`), bad `options`, an "
                "unknown show, or a field of the episode that is wrong; the message names it.",
                429: "As many of your uploads are being analysed as may be at once "
                "(Retry-After), or as many jobs queued or running as your quota allows "
                "(code `quota_exceeded`).",
            },
        ),
        # -- Shows -----------------------------------------------------------------------
        Operation(
            method="POST",
            path="/api/shows",
            endpoint=shows.create_show,
            tag="shows",
            summary="Create a show: a podcast with a public feed",
            body=Body(ShowInput),
            replies=(Reply(201, "The show and its feed URL.", ShowOut, links=_show_links()),),
            errors={
                409: "The slug is, or was, another account's show's; you have as many shows "
                "as allowed; or the server has no public address for feeds (set "
                "PODPLUS_PUBLIC_URL)."
            },
        ),
        Operation(
            method="GET",
            path="/api/shows",
            endpoint=shows.list_shows,
            tag="shows",
            summary="Your shows, newest first, a page at a time",
            parameters=LIST_PARAMETERS,
            replies=(Reply(200, "A page of shows.", Page[ShowOut]),),
            errors=LIST_ERRORS,
        ),
        Operation(
            method="GET",
            path="/api/shows/{show_id}",
            endpoint=shows.get_show,
            tag="shows",
            summary="One show",
            replies=(Reply(200, "The show.", ShowOut),),
        ),
        Operation(
            method="PATCH",
            path="/api/shows/{show_id}",
            endpoint=shows.update_show,
            tag="shows",
            summary="Change a show",
            body=Body(ShowChanges),
            replies=(Reply(200, "The changed show.", ShowOut),),
            errors={409: "The slug is, or was, another account's show's."},
        ),
        Operation(
            method="DELETE",
            path="/api/shows/{show_id}",
            uses_store=True,
            endpoint=shows.delete_show,
            tag="shows",
            summary="Delete a show and its feed (its episodes stay, unpublished)",
            replies=(Reply(204, "Deleted."),),
        ),
        Operation(
            method="PUT",
            path="/api/shows/{show_id}/artwork",
            uses_store=True,
            endpoint=shows.upload_artwork,
            tag="shows",
            summary="Upload the show's artwork",
            body=Body(ArtworkUpload, MULTIPART),
            replies=(Reply(200, "The show with its new artwork.", ShowOut),),
            errors={
                413: "Larger than artwork can be.",
                415: "Not one JPEG or PNG image.",
                422: "Not what directories take (square, 1400 to 3000 px, RGB; the message "
                "names the rule), or a form part this endpoint doesn't take.",
                429: "As many of your uploads are being analysed as may be at once; "
                "Retry-After says when to try again.",
            },
            reasons={
                415: ERROR_REASONS[ArtworkNotJpegOrPng][1],
                422: ERROR_REASONS[ArtworkRefused][1],
            },
        ),
        Operation(
            method="GET",
            path="/api/shows/{show_id}/stats",
            endpoint=shows.show_stats,
            tag="shows",
            summary="Downloads per episode and day",
            parameters=query_parameters(StatsQuery),
            replies=(Reply(200, "The counts.", ShowStats),),
            errors={422: "`days` is wrong."},
        ),
        # -- Public feeds and files --------------------------------------------------------
        Operation(
            method="GET",
            path=FEED_PATH,
            endpoint=feeds.show_feed,
            tag="feeds",
            summary="A show's podcast feed (RSS 2.0, itunes and podcast namespaces)",
            auth=None,
            parameters=(
                Parameter("If-None-Match", "header", "An ETag of the feed; 304 if unchanged."),
                Parameter("If-Modified-Since", "header", "A date; 304 if unchanged since."),
            ),
            replies=(
                Reply(
                    200,
                    "The feed; gzipped when Accept-Encoding allows.",
                    media_type=FEED_MEDIA_TYPE,
                    raw_schema=TEXT_SCHEMA,
                    headers={"ETag": "The feed's version.", "Last-Modified": "Its last change."},
                ),
                Reply(304, "Not modified since the copy the client has."),
                Reply(
                    301,
                    "A slug the show had before: its feed is at Location now.",
                    headers={"Location": "The show's feed URL now."},
                ),
            ),
            errors={410: "The show was deleted; apps should unsubscribe."},
        ),
        Operation(
            method="GET",
            path=CHAPTERS_PATH,
            endpoint=feeds.episode_chapters,
            tag="feeds",
            summary="A published episode's chapters (Podcasting 2.0 JSON chapters)",
            auth=None,
            replies=(
                Reply(
                    200,
                    "The chapters.",
                    media_type=CHAPTERS_MEDIA_TYPE,
                    raw_schema=ANY_JSON_OBJECT,
                ),
            ),
        ),
        *[
            Operation(
                method=method,
                path=AUDIO_PATH,
                endpoint=public_audio.public_audio,
                tag="feeds",
                summary="A published episode's audio (byte ranges supported)",
                auth=None,
                parameters=(RANGE_PARAMETER,),
                replies=_public_file_replies(tuple(dict.fromkeys(ENCLOSURE_TYPES.values()))),
                errors={416: "The range is outside the file."},
                uses_store=True,
            )
            for method in ("GET", "HEAD")
        ],
        *[
            Operation(
                method=method,
                path=ARTWORK_PATH,
                endpoint=public_audio.public_artwork,
                tag="feeds",
                summary="A show's artwork",
                auth=None,
                parameters=(RANGE_PARAMETER,),
                replies=_public_file_replies(ARTWORK_MEDIA_TYPES),
                errors={416: "The range is outside the file."},
                uses_store=True,
            )
            for method in ("GET", "HEAD")
        ],
        # -- Publishing ------------------------------------------------------------------
        Operation(
            method="POST",
            path="/api/episodes/{episode_id}/publish",
            uses_store=True,
            endpoint=publishing.publish_episode,
            tag="publishing",
            summary="Publish (or schedule, or publish again) an episode in its show's feed",
            body=Body(PublishRequest),
            replies=(Reply(200, "The episode with its publication.", EpisodeOut),),
            errors={
                409: "Not ready (assemble it first), in no show, or not mp3/m4a audio; or the "
                "server has no public address for feeds (set PODPLUS_PUBLIC_URL).",
                422: "A field is wrong, or the episode's title or notes don't fit a feed, "
                "or a serial show's episode has no number; the message names it.",
            },
            reasons={409: ERROR_REASONS[PublishRefused][1]},
        ),
        Operation(
            method="POST",
            path="/api/episodes/{episode_id}/unpublish",
            endpoint=publishing.unpublish_episode,
            tag="publishing",
            summary="Take an episode out of its show's feed",
            replies=(Reply(200, "The episode, unpublished (it keeps its GUID).", EpisodeOut),),
        ),
        # -- Webhooks --------------------------------------------------------------------
        Operation(
            method="POST",
            path="/api/webhooks",
            endpoint=webhooks.create_webhook,
            tag="webhooks",
            summary="Add a webhook: a URL and the events to POST to it, signed",
            body=Body(WebhookCreate),
            replies=(
                Reply(
                    201,
                    "The webhook and its signing secret (shown this once).",
                    WebhookCreated,
                    headers={"Location": "The webhook's URL."},
                    links=_webhook_links(),
                ),
            ),
            errors={
                409: "You have as many webhooks as one account may.",
                422: "A field is wrong, or the URL's host resolves to an address webhooks "
                "may not reach (loopback, private, link-local, CGNAT, multicast, reserved, "
                "cloud metadata) or to none; the message names the rule.",
            },
        ),
        Operation(
            method="GET",
            path="/api/webhooks",
            endpoint=webhooks.list_webhooks,
            tag="webhooks",
            summary="Your webhooks, newest first, a page at a time",
            parameters=LIST_PARAMETERS,
            replies=(Reply(200, "A page of webhooks.", Page[WebhookOut]),),
            errors=LIST_ERRORS,
        ),
        Operation(
            method="GET",
            path="/api/webhooks/{webhook_id}",
            endpoint=webhooks.get_webhook,
            tag="webhooks",
            summary="One webhook (never its secret)",
            replies=(Reply(200, "The webhook.", WebhookOut),),
        ),
        Operation(
            method="DELETE",
            path="/api/webhooks/{webhook_id}",
            endpoint=webhooks.delete_webhook,
            tag="webhooks",
            summary="Delete a webhook and its delivery log",
            replies=(Reply(204, "Deleted; nothing more is sent to it."),),
        ),
        Operation(
            method="GET",
            path="/api/webhooks/{webhook_id}/deliveries",
            endpoint=webhooks.list_deliveries,
            tag="webhooks",
            summary="The webhook's deliveries, newest first: status, attempts, next try",
            parameters=LIST_PARAMETERS,
            replies=(Reply(200, "A page of deliveries.", Page[WebhookDeliveryOut]),),
            errors=LIST_ERRORS,
        ),
        Operation(
            method="POST",
            path="/api/webhooks/{webhook_id}/test",
            endpoint=webhooks.send_test_event,
            tag="webhooks",
            summary="Queue a webhook.test event for the webhook",
            replies=(
                Reply(202, "Queued; its progress is in the delivery log.", WebhookDeliveryOut),
            ),
        ),
        # -- Operations ------------------------------------------------------------------
        Operation(
            method="GET",
            path="/healthz",
            endpoint=health.healthz,
            tag="operations",
            summary="Liveness and readiness",
            auth=None,
            replies=(Reply(200, "Healthy.", Health),),
            errors={503: "The database does not answer."},
        ),
        Operation(
            method="GET",
            path="/metrics",
            endpoint=admin.metrics,
            tag="operations",
            summary="Prometheus metrics",
            auth=None,
            replies=(
                Reply(
                    200, "The exposition format.", media_type="text/plain", raw_schema=TEXT_SCHEMA
                ),
            ),
        ),
        Operation(
            method="GET",
            path="/api/admin/processes",
            endpoint=admin.processes,
            tag="operations",
            summary="The engine processes running on this host (admins only)",
            replies=(Reply(200, "The processes.", Page[EngineProcess]),),
            errors={403: "Only an admin may see them."},
        ),
        Operation(
            method="GET",
            path="/openapi.json",
            endpoint=openapi.openapi_json,
            tag="operations",
            summary="This API's OpenAPI document",
            auth=None,
            replies=(Reply(200, "OpenAPI 3.1.", raw_schema=ANY_JSON_OBJECT),),
        ),
        # -- The web app -----------------------------------------------------------------
        *[
            Operation(
                method="GET",
                path=path,
                endpoint=endpoint,
                tag="web app",
                summary=summary,
                auth=None,
                replies=(Reply(200, "The page.", media_type=HTML, raw_schema=TEXT_SCHEMA),),
            )
            for path, endpoint, summary in [
                ("/", web.landing, "The landing page"),
                ("/studio", web.studio, "The studio"),
                ("/docs", web.docs, "The API reference"),
            ]
        ],
    ]


def app_routes(operations: list[Operation], web: WebApp) -> list[BaseRoute]:
    """Starlette's routes: one per operation, then the web app's static files."""
    routes: list[BaseRoute] = [
        Route(op.path, op.endpoint, methods=[op.method], name=op.operation_id) for op in operations
    ]
    return [*routes, web.static_files()]
