"""One webhook attempt: check where the URL leads now, sign, POST, and say how it went.

Before every attempt the host is resolved again and every address checked
(``podplus.security.targets``); the request then goes to the checked address itself, with
the URL's host in the ``Host`` header and in TLS (SNI and the certificate check), so a DNS
answer that changes after the check can't redirect it. Redirects are not followed (a 3xx
is a failed attempt, as the Standard Webhooks specification advises), no proxy from the
environment is used, and no connection is kept: each attempt opens its own, so a
connection made for one host name is never reused for another on the same address.

The whole attempt (DNS included) has one time limit. The answer's body is never read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from importlib.metadata import version

import httpx

from podplus.errors import WebhookSecretUnreadable, WebhookTargetRefused
from podplus.security.targets import TargetPolicy, parse_target
from podplus.security.webhook_secrets import SecretBox, signature
from podplus.storage.webhook_deliveries import AttemptOutcome, ClaimedDelivery

logger = logging.getLogger(__name__)

GONE = 410
RETRY_AFTER_CODES = frozenset({429, 503})


class WebhookSender:
    """Makes attempts; holds one HTTP client (no keep-alive, no redirects, no proxies)."""

    def __init__(
        self,
        *,
        policy: TargetPolicy,
        box: SecretBox,
        timeout_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._policy = policy
        self._box = box
        self._timeout_s = timeout_s
        self._clock = clock
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_keepalive_connections=0),
            headers={"User-Agent": f"podplus-webhooks/{version('podplus')}"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def attempt(self, claimed: ClaimedDelivery) -> AttemptOutcome:
        """Send ``claimed`` once. Never raises for what the network or receiver does."""
        delivery = claimed.delivery
        try:
            secret = self._box.open(claimed.secret_sealed, webhook_id=delivery.webhook_id)
        except WebhookSecretUnreadable as exc:
            logger.error(
                "event=webhooks.secret_unreadable webhook_id=%s delivery_id=%s",
                delivery.webhook_id,
                delivery.id,
            )
            return AttemptOutcome(error=exc.message, retryable=False)
        try:
            async with asyncio.timeout(self._timeout_s):
                pinned = await self._policy.pin(parse_target(claimed.url))
                timestamp = int(self._clock())
                body = delivery.payload.encode()
                request = self._client.build_request(
                    "POST",
                    pinned.url,
                    content=body,
                    headers={
                        "Host": pinned.host_header,
                        "Content-Type": "application/json",
                        "webhook-id": delivery.message_id,
                        "webhook-timestamp": str(timestamp),
                        "webhook-signature": signature(
                            secret, message_id=delivery.message_id, timestamp=timestamp, body=body
                        ),
                    },
                    extensions=(
                        {} if pinned.sni_hostname is None else {"sni_hostname": pinned.sni_hostname}
                    ),
                )
                response = await self._client.send(request, stream=True)
                await response.aclose()
        except WebhookTargetRefused as exc:
            return AttemptOutcome(error=f"not sent: {exc.reason}")
        except ValueError as exc:  # a URL saved before a rule tightened
            return AttemptOutcome(error=f"not sent: the URL {exc}", retryable=False)
        except (TimeoutError, httpx.TimeoutException):
            return AttemptOutcome(error=f"no answer within {self._timeout_s:g} s")
        except httpx.HTTPError as exc:
            # The class says enough (ConnectError, RemoteProtocolError…); the message may
            # carry the address, which the owner already knows from the URL.
            return AttemptOutcome(error=f"{type(exc).__name__}: {exc}"[:200])
        code = response.status_code
        return AttemptOutcome(
            response_code=code,
            error=None if 200 <= code < 300 else _failure(code),
            retry_after_s=_retry_after_s(response) if code in RETRY_AFTER_CODES else None,
            retryable=code != GONE,
        )


def _failure(code: int) -> str:
    if code == GONE:
        return "the receiver answered 410 Gone: no more attempts"
    if 300 <= code < 400:
        return f"the receiver answered {code}: redirects are not followed; update the URL"
    return f"the receiver answered {code}"


def _retry_after_s(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after", "").strip()
    return float(raw) if raw.isdigit() else None
