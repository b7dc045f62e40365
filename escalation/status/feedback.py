"""The feedback link of a `resolved` mail: one affected user's rating of the fix.

Each email subscriber told that an incident is resolved gets one personal link
(a FeedbackRequest, one per incident and subscriber, however often the incident
is resolved). Its answer — a rating 1–5 and a comment — lands on the incident
as the affected users' feedback (incidents.UserFeedback, by_affected_user) with
one timeline entry; changing it edits that feedback in place. The answer may be
changed for FEEDBACK_EDIT_DAYS after it was first given; a link never answered
expires after FEEDBACK_EXPIRY_DAYS.

The token is random (secrets) and stored as it is: the resolved mail, retried
by the worker, must be able to show the same link again.
"""

import secrets
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from common import clock
from common.errors import DomainError
from escalation.status.models import FeedbackRequest, Subscriber
from incidents.models import Incident, UserFeedback
from incidents.services.verification import incident_affected_user_feedback

FEEDBACK_EDIT_DAYS = 7
FEEDBACK_EXPIRY_DAYS = 30
COMMENT_MAX = 2000
RATINGS = range(1, 6)


class FeedbackLinkExpired(DomainError):
    """The link was never answered and is older than FEEDBACK_EXPIRY_DAYS."""


class FeedbackAnswerFinal(DomainError):
    """The answer was given more than FEEDBACK_EDIT_DAYS ago: it stays as it is."""


def new_token() -> str:
    return secrets.token_urlsafe(32)  # 43 characters, 256 bits


@transaction.atomic
def feedback_request_for(*, incident: Incident, subscriber: Subscriber) -> FeedbackRequest:
    """The personal feedback link of `subscriber` for `incident`: the one made
    before (a resolved mail sent again carries the same link), else a new one."""
    request, _created = FeedbackRequest.objects.get_or_create(
        incident=incident,
        subscriber=subscriber,
        defaults={"token": new_token(), "created_at": clock.now()},
    )
    return request


def feedback_request_by_token(token: str) -> FeedbackRequest | None:
    """The link holding `token`, with what its page shows (the publication's
    public title and the answer), or None."""
    if not token or len(token) > 64:
        return None
    return (
        FeedbackRequest.objects.select_related("incident__publication", "feedback")
        .filter(token=token)
        .first()
    )


def expires_at(request: FeedbackRequest) -> datetime:
    """When an unanswered link stops working."""
    return request.created_at + timedelta(days=FEEDBACK_EXPIRY_DAYS)


def changeable_until(request: FeedbackRequest) -> datetime | None:
    """Until when the answer may be changed (None: not answered yet)."""
    if request.answered_at is None:
        return None
    return request.answered_at + timedelta(days=FEEDBACK_EDIT_DAYS)


def is_expired(request: FeedbackRequest, now: datetime) -> bool:
    return request.answered_at is None and now >= expires_at(request)


def is_final(request: FeedbackRequest, now: datetime) -> bool:
    """Answered, and the time to change the answer is over."""
    until = changeable_until(request)
    return until is not None and now >= until


def check_not_expired(request: FeedbackRequest, now: datetime) -> None:
    """Refuse a link that was never answered in time (its page is gone)."""
    if is_expired(request, now):
        raise FeedbackLinkExpired(
            _(
                "This feedback link has expired: links that are not used within "
                "%(days)s days stop working."
            )
            % {"days": FEEDBACK_EXPIRY_DAYS}
        )


def check_open(request: FeedbackRequest, now: datetime) -> None:
    """Refuse an answer on a link that no longer takes one."""
    check_not_expired(request, now)
    if is_final(request, now):
        raise FeedbackAnswerFinal(
            _(
                "Your answer can no longer be changed: answers can be changed for "
                "%(days)s days after they are given."
            )
            % {"days": FEEDBACK_EDIT_DAYS}
        )


@transaction.atomic
def feedback_answer(*, request: FeedbackRequest, rating: int, comment: str = "") -> FeedbackRequest:
    """Record the answer of a feedback link on its incident, or change it.

    One answer per link: the first creates the incident's UserFeedback (and one
    timeline entry), later ones edit it in place for FEEDBACK_EDIT_DAYS after the
    first. An unanswered link older than FEEDBACK_EXPIRY_DAYS takes no answer.
    Whoever holds the link may answer: there is no one to sign in."""
    # Locked, so two quick submissions of the same link make one answer.
    request = (
        FeedbackRequest.objects.select_for_update(of=("self",))
        .select_related("incident")
        .get(pk=request.pk)
    )
    now = clock.now()
    check_open(request, now)
    if rating not in RATINGS:
        raise ValidationError({"rating": _("Choose a rating from 1 to 5.")})
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise ValidationError(
            {
                "comment": _("Keep the comment within %(max)s characters (it has %(length)s).")
                % {"max": COMMENT_MAX, "length": len(comment)}
            }
        )
    feedback = None
    if request.feedback_id is not None:
        feedback = UserFeedback.objects.get(pk=request.feedback_id)
    feedback = incident_affected_user_feedback(
        incident=request.incident,
        rating=rating,
        comment=comment,
        feedback=feedback,
    )
    request.feedback = feedback
    request.answered_at = request.answered_at or now
    request.save(update_fields=["feedback", "answered_at"])
    return request


def incident_affected_feedback(incident: Incident) -> dict:
    """What the affected users answered through their feedback links, for the
    workspace's step-5 section: how many, the average rating and each answer
    (rating, comment, when) — never who (no address)."""
    answers = [
        {
            "rating": rating,
            "comment": text,
            "answered_at": recorded_at,
            "changed_at": updated_at if updated_at and updated_at != recorded_at else None,
        }
        for rating, text, recorded_at, updated_at in UserFeedback.objects.filter(
            incident=incident, by_affected_user=True, rating__isnull=False
        )
        .order_by("recorded_at", "id")
        .values_list("rating", "text", "recorded_at", "updated_at")
    ]
    count = len(answers)
    average = round(sum(a["rating"] for a in answers) / count, 1) if count else None
    return {"count": count, "average": average, "answers": answers}
