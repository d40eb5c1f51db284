"""The URL map: every endpoint podplus serves, in one table.

Each entry says what the endpoint takes and answers; Starlette's routes and the OpenAPI
document (``/openapi.json``, rendered at ``/docs``) are both built from this list.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from podplus.engine.spec import EpisodeChanges, EpisodeInput
from podplus.web import admin, episode_audio, episodes, health, jobs, media, openapi, users
from podplus.web.audio import AUDIO_TYPES
from podplus.web.operations import FORM, HTML, MULTIPART, Body, Link, Operation, Parameter, Reply
from podplus.web.pages import WebApp
from podplus.web.paging import LIST_ERRORS, LIST_PARAMETERS
from podplus.web.schemas import (
    AudioLink,
    EngineProcess,
    EpisodeOut,
    Health,
    JobAccepted,
    JobOut,
    MediaOut,
    MediaUpload,
    Page,
    PasswordChange,
    TokenOut,
    TokenRequest,
    UserCreate,
    UserOut,
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


def _episode_links() -> dict[str, Link]:
    this = {"episode_id": "$response.body#/id"}
    return {
        "GetEpisode": Link("get_episode", this),
        "UpdateEpisode": Link("update_episode", this),
        "DeleteEpisode": Link("delete_episode", this),
        "AssembleEpisode": Link("assemble", this),
        "EpisodeAudio": Link("episode_audio", this),
        "EpisodeAudioUrl": Link("episode_audio_url", this),
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
            body=Body(EpisodeInput),
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
            endpoint=episodes.update_episode,
            tag="episodes",
            summary="Change an episode",
            body=Body(EpisodeChanges),
            replies=(Reply(200, "The changed episode (its old audio is gone).", EpisodeOut),),
            errors={409: "The episode is being assembled."},
        ),
        Operation(
            method="DELETE",
            path="/api/episodes/{episode_id}",
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
