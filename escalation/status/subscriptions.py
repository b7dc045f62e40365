"""Subscribing to the status page: double opt-in by mail, confirming, unsubscribing.

Anyone may ask for mail of the public updates (`subscribe`): the address gets a
confirmation link and nothing else until it is followed (`confirm`). Every mail
carries a one-click unsubscribe link (`unsubscribe`, RFC 8058). The answer to a
subscription never says whether the address was known: a confirmed address gets
no second row and no second confirmation, and the caller is told the same.

Both links are signed (django.core.signing) with the subscriber's id and a tag of
its address, so a link cannot be made up, and a link of a deleted subscriber
cannot confirm another that later got the same id. The confirmation link expires
after STATUS_CONFIRM_HOURS; the unsubscribe link never does.

Throttling: STATUS_SUBSCRIBE_PER_ADDRESS subscriptions per address and
STATUS_SUBSCRIBE_PER_IP per client address in each clock hour (fixed windows).
The counts live in the database, through Django's cache API on the
STATUS_THROTTLE_CACHE alias (a DatabaseCache table): the web runs as several
gunicorn processes even in the embedded setup, and only the database is seen by
all of them in every setup (the default cache is per process, Redis is
optional). Each attempt claims one of the window's numbered slots with the
cache's atomic `add`, so two processes can never both take the last one, and
the slots expire with their window (no pruning job).

Group robots and webhooks are added by an administrator (the admin), confirmed
at once: there is no mailbox to prove.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urljoin

from django.conf import settings
from django.core import signing
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from common import clock
from common.errors import DomainError
from common.tokens import digest
from escalation import jobs
from escalation.status.models import Component, StatusMessage, Subscriber

CONFIRM_SALT = "responder.status.confirm"
UNSUBSCRIBE_SALT = "responder.status.unsubscribe"
THROTTLE_WINDOW_SECONDS = 3600
EMAIL_MAX = 254  # RFC 5321's longest path


class InvalidLink(DomainError):
    """A confirmation or unsubscribe link that was never ours, or whose subscriber
    is gone (the page answers 404)."""


class ExpiredLink(DomainError):
    """A confirmation link older than STATUS_CONFIRM_HOURS (the page answers 400)."""


class SubscribeThrottled(DomainError):
    """Too many subscriptions for the address or from the client this hour."""

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


# ---------------------------------------------------------------- links


def _address_tag(address: str) -> str:
    # Enough of the address's hash to tell a recycled id apart; reveals nothing.
    return hashlib.sha256(address.encode()).hexdigest()[:16]


def _sign(subscriber: Subscriber, salt: str) -> str:
    return signing.dumps({"s": subscriber.pk, "a": _address_tag(subscriber.address)}, salt=salt)


def confirm_token(subscriber: Subscriber) -> str:
    return _sign(subscriber, CONFIRM_SALT)


def unsubscribe_token(subscriber: Subscriber) -> str:
    return _sign(subscriber, UNSUBSCRIBE_SALT)


def absolute(path: str) -> str:
    """A link for a mail or a robot: the site's address (SITE_URL) and `path`."""
    return urljoin(settings.SITE_URL + "/", path.lstrip("/"))


def confirm_url(subscriber: Subscriber) -> str:
    return absolute(reverse("status-confirm", args=[confirm_token(subscriber)]))


def unsubscribe_url(subscriber: Subscriber) -> str:
    return absolute(reverse("status-unsubscribe", args=[unsubscribe_token(subscriber)]))


def _subscriber_of(data, *, lock: bool = True) -> Subscriber | None:
    if not isinstance(data, dict) or not isinstance(data.get("s"), int):
        return None
    found = Subscriber.objects.select_for_update() if lock else Subscriber.objects
    subscriber = found.filter(pk=data["s"]).first()
    if subscriber is None or _address_tag(subscriber.address) != data.get("a"):
        return None
    return subscriber


def subscriber_for_unsubscribe(token: str, *, lock: bool = False) -> Subscriber | None:
    """The subscriber an unsubscribe link names, or None (gone already); a link
    that was never ours is InvalidLink."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        raise InvalidLink(_("This unsubscribe link is not valid.")) from None
    return _subscriber_of(data, lock=lock)


# ---------------------------------------------------------------- throttling


@dataclass(frozen=True)
class _Window:
    number: int
    left: int  # seconds until it ends


def _window(now: datetime) -> _Window:
    seconds = int(now.timestamp())
    return _Window(
        seconds // THROTTLE_WINDOW_SECONDS,
        THROTTLE_WINDOW_SECONDS - seconds % THROTTLE_WINDOW_SECONDS,
    )


def _throttle(*, email: str, ip: str | None, now: datetime) -> None:
    """Take one slot of this hour for the address and one for the client address,
    or raise SubscribeThrottled (and take none) when either has no slot left."""
    window = _window(now)
    cache = caches[settings.STATUS_THROTTLE_CACHE]
    scopes = [("address", email, settings.STATUS_SUBSCRIBE_PER_ADDRESS)]
    if ip:
        scopes.append(("ip", ip, settings.STATUS_SUBSCRIBE_PER_IP))
    free_slots = []
    for scope, value, limit in scopes:
        keys = [f"subscribe:{scope}:{digest(value)}:{window.number}:{i}" for i in range(limit)]
        taken = cache.get_many(keys)
        free_slots.append([key for key in keys if key not in taken])
    # Taken in order; `add` is atomic, so one that another process got first fails
    # and the next is tried. A refusal raises inside the caller's transaction, which
    # gives back a slot taken here for the other scope (the cache is the database).
    for free in free_slots:
        if not any(cache.add(key, 1, timeout=window.left + 60) for key in free):
            wait = clock.duration_text(timedelta(seconds=window.left))
            raise SubscribeThrottled(
                _("Too many subscription requests: please try again in %(wait)s.") % {"wait": wait},
                retry_after=window.left,
            )


# ---------------------------------------------------------------- services


def clean_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not email:
        raise ValidationError({"email": _("Enter your email address.")})
    if len(email) > EMAIL_MAX:
        raise ValidationError({"email": _("This email address is too long.")})
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": _("Enter a valid email address.")}) from None
    return email


@transaction.atomic
def subscribe(
    *,
    email: str,
    components: list[Component] | tuple = (),
    language: str,
    ip: str | None,
    now: datetime | None = None,
) -> None:
    """Ask for mail of the public updates of `components` (none: all of them).

    Double opt-in: an unknown or unconfirmed address gets (again) a confirmation
    message, and nothing else until it is confirmed; a confirmed one is left as
    it is. The caller learns nothing either way (no answer), so nobody can find
    out whether an address is subscribed. Throttled per address and per client
    address (SubscribeThrottled, with the seconds to wait), after the input is
    checked, so a typo costs no attempt.
    """
    email = clean_email(email)
    components = list(components)
    if language not in dict(settings.LANGUAGES):
        language = settings.LANGUAGE_CODE
    now = now or clock.now()
    _throttle(email=email, ip=ip, now=now)
    # Two requests at once for a new address: one row (the unique key), both lock it.
    Subscriber.objects.bulk_create(
        [Subscriber(kind=Subscriber.Kind.EMAIL, address=email, language=language, created_at=now)],
        ignore_conflicts=True,
    )
    subscriber = Subscriber.objects.select_for_update().get(
        kind=Subscriber.Kind.EMAIL, address=email
    )
    if subscriber.confirmed_at is not None:
        return
    subscriber.language = language
    subscriber.created_at = now
    subscriber.save(update_fields=["language", "created_at"])
    subscriber.components.set(components)
    message = StatusMessage.objects.create(
        subscriber=subscriber,
        kind=StatusMessage.Kind.CONFIRM,
        created_at=now,
        next_attempt_at=now,
    )
    transaction.on_commit(lambda: jobs.send_status_messages([message.pk]))


@transaction.atomic
def confirm(token: str, *, now: datetime | None = None) -> Subscriber:
    """Confirm the address a confirmation link was sent to (again: no change).
    A link older than STATUS_CONFIRM_HOURS is refused (ExpiredLink); a forged
    one, or one whose subscriber is gone, is InvalidLink."""
    max_age = timedelta(hours=settings.STATUS_CONFIRM_HOURS)
    try:
        data = signing.loads(token, salt=CONFIRM_SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise ExpiredLink(
            _("This confirmation link has expired: please subscribe again.")
        ) from None
    except signing.BadSignature:
        raise InvalidLink(_("This confirmation link is not valid.")) from None
    subscriber = _subscriber_of(data)
    if subscriber is None:
        raise InvalidLink(_("This confirmation link is not valid."))
    if subscriber.confirmed_at is None:
        subscriber.confirmed_at = now or clock.now()
        subscriber.save(update_fields=["confirmed_at"])
    return subscriber


@transaction.atomic
def unsubscribe(token: str) -> bool:
    """Delete the subscriber an unsubscribe link names (its pending messages go
    with it). Idempotent: a second use finds nobody and answers False."""
    subscriber = subscriber_for_unsubscribe(token, lock=True)
    if subscriber is None:
        return False
    subscriber.delete()
    return True


@transaction.atomic
def robot_subscriber_save(*, subscriber: Subscriber, actor, components=None) -> Subscriber:
    """Save a group robot or webhook an administrator adds or changes: confirmed at
    once (no mailbox to prove). Email addresses only come in by double opt-in."""
    if subscriber.kind == Subscriber.Kind.EMAIL:
        raise ValidationError({"kind": _("Email addresses subscribe themselves on the page.")})
    try:
        URLValidator(schemes=["http", "https"])(subscriber.address)
    except ValidationError:
        raise ValidationError({"address": _("Enter the robot's http(s) URL.")}) from None
    now = clock.now()
    if subscriber.pk is None:
        subscriber.created_at = now
        subscriber.created_by = actor
    subscriber.confirmed_at = subscriber.confirmed_at or now
    subscriber.full_clean(exclude=["components"])
    subscriber.save()
    if components is not None:
        subscriber.components.set(components)
    return subscriber
