"""Webhook signing secrets and signatures, as the Standard Webhooks specification has them.

A secret is 32 random bytes, shown to its owner once as ``whsec_`` + base64. Signing needs
the secret itself, so it can't be stored hashed like a password; it is stored *sealed*:
AES-256-GCM under a key derived from the server's secret key (``PODPLUS_SECRET_KEY`` or
``secret.key``), with the webhook's id as associated data. A copy of the database alone
reveals no secret, and a sealed secret moved to another webhook's row does not open.

    secret = new_secret()
    shown = serialize(secret)                               # "whsec_…", once, to its owner
    sealed = box.seal(secret, webhook_id=webhook.id)        # what the database keeps
    signature(box.open(sealed, webhook_id=webhook.id), message_id="msg_…",
              timestamp=1767225600, body=b'{"type":…}')     # "v1,<base64 HMAC-SHA256>"
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from podplus.errors import WebhookSecretUnreadable

SECRET_PREFIX = "whsec_"
# The specification asks for 24 to 64 random bytes.
SECRET_BYTES = 32
NONCE_BYTES = 12
SEALED_VERSION = "v1."


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def serialize(secret: bytes) -> str:
    """The secret as its owner sees it: ``whsec_`` and standard base64."""
    return SECRET_PREFIX + base64.b64encode(secret).decode("ascii")


def signature(secret: bytes, *, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.digest(secret, signed, hashlib.sha256)).decode("ascii")


class SecretBox:
    """Seals and opens webhook secrets under a key derived from the server's secret key."""

    def __init__(self, *, secret_key: str) -> None:
        key = hmac.digest(
            secret_key.encode(), b"podplus encryption key: webhook secrets", hashlib.sha256
        )
        self._aead = AESGCM(key)

    def seal(self, secret: bytes, *, webhook_id: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, secret, webhook_id.encode())
        return SEALED_VERSION + base64.urlsafe_b64encode(sealed).decode("ascii")

    def open(self, sealed: str, *, webhook_id: str) -> bytes:
        """The secret; ``WebhookSecretUnreadable`` if it wasn't sealed for this webhook with
        this server's key (the secret key changed, or the row was tampered with)."""
        try:
            raw = base64.urlsafe_b64decode(sealed.removeprefix(SEALED_VERSION))
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], webhook_id.encode())
        except (InvalidTag, ValueError, binascii.Error):
            raise WebhookSecretUnreadable(webhook_id) from None
