"""API tokens (DRF authtoken: one per user): the one way to create or revoke them.

The settings page, the admin and `manage.py drf_create_token` all end in a
Token row; revoking deletes it, and the next request with it gets 401.
"""

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
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
