"""Webhook secrets: Standard Webhooks' format and signatures, and sealed at rest."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks import Webhook

from podplus.errors import WebhookSecretUnreadable
from podplus.security.webhook_secrets import SecretBox, new_secret, serialize, signature

KEY = "k" * 48


def test_a_secret_is_whsec_and_24_to_64_random_bytes_in_base64() -> None:
    secret = new_secret()
    shown = serialize(secret)
    assert shown.startswith("whsec_")
    assert base64.b64decode(shown.removeprefix("whsec_")) == secret
    assert 24 <= len(secret) <= 64
    assert new_secret() != secret


def test_a_signature_verifies_with_the_standardwebhooks_library() -> None:
    secret = new_secret()
    body = b'{"type":"webhook.test","timestamp":"2026-01-01T00:00:00.000Z","data":{}}'
    now = int(time.time())
    headers = {
        "webhook-id": "msg_abc",
        "webhook-timestamp": str(now),
        "webhook-signature": signature(secret, message_id="msg_abc", timestamp=now, body=body),
    }
    assert Webhook(serialize(secret)).verify(body, headers)["type"] == "webhook.test"
    tampered = body.replace(b"webhook.test", b"job.succeeded")
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(serialize(secret)).verify(tampered, headers)


def test_a_sealed_secret_opens_only_for_its_webhook_under_the_same_key() -> None:
    box = SecretBox(secret_key=KEY)
    secret = new_secret()
    sealed = box.seal(secret, webhook_id="w1")
    assert secret not in base64.urlsafe_b64decode(sealed.removeprefix("v1."))
    assert serialize(secret).removeprefix("whsec_") not in sealed
    assert box.open(sealed, webhook_id="w1") == secret
    assert box.seal(secret, webhook_id="w1") != sealed  # a fresh nonce each time
    with pytest.raises(WebhookSecretUnreadable):
        box.open(sealed, webhook_id="w2")
    with pytest.raises(WebhookSecretUnreadable):
        SecretBox(secret_key="another key " * 4).open(sealed, webhook_id="w1")
    with pytest.raises(WebhookSecretUnreadable):
        box.open("v1.not-base64!", webhook_id="w1")
