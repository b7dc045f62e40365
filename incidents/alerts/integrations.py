"""Alert integrations: tokens, request signatures, the per-minute rate limit."""

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from common import clock
from incidents.models import (
    DEFAULT_ALERT_RATE_LIMIT,
    AlertIntegration,
    AlertRateWindow,
    Severity,
    SignatureSeen,
    Team,
)

TOKEN_BYTES = 32
HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
SIGNATURE_MAX_AGE = timedelta(minutes=5)


class RateLimited(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"rate limit exceeded; retry after {retry_after} s")
        self.retry_after = retry_after


class BadSignature(Exception):
    pass


class IntegrationRevoked(Exception):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def integration_create(
    *,
    name: str,
    team: Team,
    rate_limit_per_minute: int = DEFAULT_ALERT_RATE_LIMIT,
    signing_secret: str = "",
    default_severity: str = Severity.P2,
) -> tuple[AlertIntegration, str]:
    """Create an integration; returns it and its token, which is never stored."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    integration = AlertIntegration(
        name=name.strip(),
        team=team,
        token_hash=hash_token(token),
        token_hint=token[:6],
        rate_limit_per_minute=rate_limit_per_minute,
        signing_secret=signing_secret,
        default_severity=default_severity,
    )
    integration.full_clean()
    integration.save()
    return integration, token


def integration_revoke(*, integration: AlertIntegration) -> AlertIntegration:
    if integration.revoked_at is None:
        integration.revoked_at = clock.now()
        integration.save(update_fields=["revoked_at"])
    return integration


def integration_for_token(token: str) -> AlertIntegration | None:
    """The active integration with this token, or None (unknown or revoked)."""
    if not token or len(token) > 200:
        return None
    integration = (
        AlertIntegration.objects.select_related("team").filter(token_hash=hash_token(token)).first()
    )
    if integration is None or not integration.is_active:
        return None
    return integration


def check_signature(
    integration: AlertIntegration, *, body: bytes, timestamp: str | None, signature: str | None
) -> None:
    """Refuse unsigned, badly signed or replayed (older than 5 min) requests."""
    if not integration.signing_secret:
        return
    if not timestamp or not signature:
        raise BadSignature(
            _("This integration requires X-Responder-Timestamp and X-Responder-Signature.")
        )
    try:
        sent = datetime.fromtimestamp(int(timestamp), tz=UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise BadSignature(_("X-Responder-Timestamp must be Unix seconds.")) from exc
    if abs(clock.now() - sent) > SIGNATURE_MAX_AGE:
        raise BadSignature(_("The signed timestamp is more than 5 minutes away from now."))
    expected = hmac.new(
        integration.signing_secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    given = signature.removeprefix("sha256=").strip()
    if not HEX64.match(given) or not hmac.compare_digest(expected, given.lower()):
        raise BadSignature(_("The signature does not match the body."))
    try:
        with transaction.atomic():
            SignatureSeen.objects.filter(seen_at__lt=clock.now() - 2 * SIGNATURE_MAX_AGE).delete()
            SignatureSeen.objects.create(
                integration=integration, signature=expected, seen_at=clock.now()
            )
    except IntegrityError as exc:
        raise BadSignature(_("This signed request was received before (replay).")) from exc


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Responder-Signature value a sender puts on `body` (for senders and tests)."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def check_rate(integration: AlertIntegration) -> None:
    """Count this request in the current minute; RateLimited past the limit.

    One statement (an upsert returning the count) in its own short transaction;
    the windows older than an hour are pruned when a minute's window is created,
    not on every request.
    """
    now = clock.now()
    window = now.replace(second=0, microsecond=0)
    table = connection.ops.quote_name(AlertRateWindow._meta.db_table)
    with transaction.atomic():
        if connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1:
            # Only when this is the whole transaction (never inside a caller's): a
            # crash may lose the last fraction of a second of counts, which lets a
            # sender a few requests over its limit for that minute; in exchange the
            # request does not wait for the WAL to be flushed to disk.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        # PostgreSQL and SQLite >= 3.35 both have ON CONFLICT ... RETURNING. The
        # table is the model's own name, quoted; the values are parameters.
        insert = f"INSERT INTO {table} (integration_id, window_start, count) VALUES (%s, %s, 1)"  # nosec B608
        upsert = (
            f" ON CONFLICT (integration_id, window_start) DO UPDATE SET count = {table}.count + 1"  # nosec B608
        )
        with connection.cursor() as cursor:
            cursor.execute(
                insert + upsert + " RETURNING count",
                [integration.pk, connection.ops.adapt_datetimefield_value(window)],
            )
            count = cursor.fetchone()[0]
        if count == 1:  # a new minute: forget the windows older than an hour
            AlertRateWindow.objects.filter(
                integration=integration, window_start__lt=window - timedelta(hours=1)
            ).delete()
    if count > integration.rate_limit_per_minute:
        raise RateLimited(retry_after=max(1, 60 - now.second))
