"""``/api/webhooks``: where to POST which events, their delivery log, and a test event.

Handlers only write rows: deliveries are sent by the workers (``podplus.jobs.
webhook_deliverer``), never while a request waits. The URL is checked here (every address
its host resolves to) and again before every delivery.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from podplus.errors import NotFound
from podplus.ids import isoformat, new_id
from podplus.security.targets import parse_target
from podplus.security.webhook_secrets import new_secret, serialize
from podplus.storage.webhook_deliveries import Delivery
from podplus.storage.webhooks import Webhook, WebhookEvent
from podplus.web.paging import page_query
from podplus.web.requests import current_user, json_body, services
from podplus.web.schemas import (
    Page,
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryOut,
    WebhookOut,
    json_response,
)


def webhook_out(webhook: Webhook) -> WebhookOut:
    return WebhookOut(
        id=webhook.id,
        url=webhook.url,
        events=[event.value for event in webhook.events],
        created_at=isoformat(webhook.created_at),
    )


def delivery_out(delivery: Delivery) -> WebhookDeliveryOut:
    return WebhookDeliveryOut(
        id=delivery.message_id,
        type=delivery.event_type,
        status=delivery.status,
        attempts=delivery.attempts,
        last_response_code=delivery.last_response_code,
        last_error=delivery.last_error,
        next_attempt_at=isoformat(delivery.next_attempt_at),
        last_attempt_at=isoformat(delivery.last_attempt_at),
        created_at=isoformat(delivery.created_at),
    )


async def create_webhook(request: Request) -> Response:
    """Add a webhook. Its signing secret is in this answer and never again.

    The URL's host is resolved now, and every address it has must be public (unless the
    operator allows private ones); before each delivery it is resolved and checked again,
    and the request goes to the address that was checked."""
    user = await current_user(request)
    wanted = await json_body(request, WebhookCreate)
    found = services(request)
    await found.webhook_targets.addresses(parse_target(wanted.url))
    webhook_id, secret = new_id(), new_secret()
    webhook = await found.webhooks.create(
        webhook_id=webhook_id,
        owner_id=user.id,
        url=wanted.url,
        events=[WebhookEvent(name) for name in wanted.events],
        secret_sealed=found.webhook_secrets.seal(secret, webhook_id=webhook_id),
        max_per_owner=found.settings.max_webhooks_per_user,
    )
    created = WebhookCreated(**webhook_out(webhook).model_dump(), secret=serialize(secret))
    return json_response(
        created, status_code=201, headers={"Location": f"/api/webhooks/{webhook.id}"}
    )


async def list_webhooks(request: Request) -> Response:
    user = await current_user(request)
    query = page_query(request, list_name="webhooks", owner_id=user.id)
    page = await services(request).webhooks.owned_by(
        owner_id=user.id, limit=query.limit, after=query.after
    )
    return json_response(
        Page[WebhookOut](
            items=[webhook_out(item) for item in page.items], next=query.cursor(page.next)
        )
    )


async def get_webhook(request: Request) -> Response:
    user = await current_user(request)
    return json_response(webhook_out(await _owned(request, user.id)))


async def delete_webhook(request: Request) -> Response:
    """Delete the webhook and its delivery log; nothing more is sent to it."""
    user = await current_user(request)
    if not await services(request).webhooks.delete(
        request.path_params["webhook_id"], owner_id=user.id
    ):
        raise NotFound("No such webhook.")
    return Response(status_code=204)


async def list_deliveries(request: Request) -> Response:
    """The webhook's deliveries, newest first: status, attempts, the receiver's last
    answer, and when the next attempt is due."""
    user = await current_user(request)
    webhook = await _owned(request, user.id)
    query = page_query(request, list_name=f"deliveries.{webhook.id}", owner_id=user.id)
    page = await services(request).deliveries.for_webhook(
        webhook.id, limit=query.limit, after=query.after
    )
    return json_response(
        Page[WebhookDeliveryOut](
            items=[delivery_out(item) for item in page.items], next=query.cursor(page.next)
        )
    )


async def send_test_event(request: Request) -> Response:
    """Queue a `webhook.test` event for this webhook, whatever events it asked for; the
    delivery's progress is in its log."""
    user = await current_user(request)
    webhook = await _owned(request, user.id)
    found = services(request)
    delivery = await found.deliveries.record_test(owner_id=user.id, webhook_id=webhook.id)
    if delivery is None:  # deleted meanwhile
        raise NotFound("No such webhook.")
    if found.deliverer is not None:
        found.deliverer.wake()
    return json_response(delivery_out(delivery), status_code=202)


async def _owned(request: Request, owner_id: str) -> Webhook:
    webhook = await services(request).webhooks.get(
        request.path_params["webhook_id"], owner_id=owner_id
    )
    if webhook is None:
        raise NotFound("No such webhook.")
    return webhook
