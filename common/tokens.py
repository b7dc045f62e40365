"""API tokens (DRF authtoken: one per user): the one way to create or revoke them;
and how other secrets that travel in URLs are stored (digest, derived_secret).

The settings page, the admin and `manage.py drf_create_token` all end in a
Token row; revoking deletes it, and the next request with it gets 401.
"""

import base64
import hashlib
import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.crypto import salted_hmac
from rest_framework.authtoken.models import Token

log = logging.getLogger(__name__)


@transaction.atomic
def api_token_create(*, user: AbstractBaseUser, actor: AbstractBaseUser) -> str:
    """A new token for `user`, replacing any earlier one (which stops working).

    Returns the key; it is shown once and only its first characters afterwards.
    """
    Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    log.info("API token created for %s by %s", user.get_username(), actor.get_username())
    return token.key


@transaction.atomic
def api_token_revoke(*, user: AbstractBaseUser, actor: AbstractBaseUser) -> bool:
    """Revoke `user`'s token; False if there was none."""
    deleted, _ = Token.objects.filter(user=user).delete()
    if deleted:
        log.info("API token of %s revoked by %s", user.get_username(), actor.get_username())
    return bool(deleted)


def key_hint(key: str) -> str:
    """Enough of a key to tell tokens apart, not enough to use one."""
    return f"{key[:6]}…"


def digest(secret: str) -> str:
    """What is stored of a secret that arrives in a URL: its SHA-256, so a leaked
    database or backup does not hand out live addresses."""
    return hashlib.sha256(secret.encode()).hexdigest()


def derived_secret(purpose: str, nonce: str) -> str:
    """A URL-safe secret worked out from a stored random `nonce` and SECRET_KEY: the
    server can show it again, a copy of the database alone cannot."""
    mac = salted_hmac(f"responder.{purpose}", nonce, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")
