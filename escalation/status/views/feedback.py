"""/status/feedback/<token>/: an affected user's rating of the fix, from the
link of the `resolved` mail (no sign-in, CSRF-protected).

GET shows the publication's public title (never the incident's own) and the
form; once answered, a thank-you with the answer, and the form again while the
answer may still be changed. Unknown token 404; a link that expired unanswered
410. The rules are escalation.status.feedback's."""

import zoneinfo

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from common import clock
from common.forms import add_errors
from common.languages import language_switch
from escalation.status import feedback
from escalation.status.feedback import FeedbackAnswerFinal, FeedbackLinkExpired

RATING_LABELS = {
    1: _("Very poor"),
    2: _("Poor"),
    3: _("Fair"),
    4: _("Good"),
    5: _("Very good"),
}


class FeedbackForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("Your rating"),
        choices=[(n, n) for n in feedback.RATINGS],
        coerce=int,
        error_messages={
            "required": _("Choose a rating from 1 to 5."),
            "invalid_choice": _("Choose a rating from 1 to 5."),
        },
    )
    comment = forms.CharField(
        label=_("Comment (optional)"),
        required=False,
        max_length=feedback.COMMENT_MAX,
        widget=forms.Textarea,
        error_messages={
            "max_length": _("Keep the comment within %(limit_value)s characters."),
        },
    )


def _private(response):
    # The token is in the address: links to other sites must not carry it on. Not
    # "no-referrer": browsers then post the form with `Origin: null`, which fails
    # Django's CSRF origin check.
    response["Referrer-Policy"] = "same-origin"
    return response


def _time(at):
    """A <time> in the site's time zone with its offset (the public pages' times)."""
    if at is None:
        return ""
    local = at.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE))
    return format_html(
        '<time datetime="{}">{}</time>', local.isoformat(), local.strftime("%Y-%m-%d %H:%M %z")
    )


def _page(request, link, form, *, status=200, error="", expired=False):
    now = clock.now()
    answer = link.feedback if link.answered_at is not None else None
    publication = getattr(link.incident, "publication", None)
    context = {
        "form": form,
        "public_title": publication.public_title if publication is not None else "",
        "answer": answer,
        "answer_label": RATING_LABELS.get(answer.rating) if answer and answer.rating else "",
        "ratings": [(n, RATING_LABELS[n]) for n in feedback.RATINGS],
        "expired": expired,
        "final": feedback.is_final(link, now),
        "until_html": _time(feedback.changeable_until(link)),
        "comment_max": feedback.COMMENT_MAX,
        "error": error,
    }
    return render(request, "status/feedback.html", context, status=status)


def _gone(request, link):
    """410: the link expired unanswered, or its answer can no longer be changed
    (shown as it stays), in the service's words."""
    try:
        feedback.check_open(link, clock.now())
    except (FeedbackLinkExpired, FeedbackAnswerFinal) as e:
        expired = isinstance(e, FeedbackLinkExpired)
        page = _page(request, link, None, status=410, expired=expired, error=e.message)
        return _private(page)
    raise AssertionError("the link still takes an answer")


@never_cache
@require_http_methods(["GET", "POST"])
@language_switch
def feedback_page(request, token):
    link = feedback.feedback_request_by_token(token)
    if link is None:
        raise Http404
    if feedback.is_expired(link, clock.now()):
        return _gone(request, link)
    initial = {}
    if link.answered_at is not None and link.feedback is not None:
        initial = {"rating": link.feedback.rating, "comment": link.feedback.text}
    if request.method == "GET":
        return _private(_page(request, link, FeedbackForm(initial=initial)))
    if feedback.is_final(link, clock.now()):
        return _gone(request, link)
    form = FeedbackForm(request.POST)
    if not form.is_valid():
        return _private(_page(request, link, form, status=400))
    try:
        feedback.feedback_answer(
            request=link,
            rating=form.cleaned_data["rating"],
            comment=form.cleaned_data["comment"],
        )
    except ValidationError as e:
        add_errors(form, e)
        return _private(_page(request, link, form, status=400))
    except (FeedbackLinkExpired, FeedbackAnswerFinal):  # the time ran out meanwhile
        return _gone(request, feedback.feedback_request_by_token(token))
    return _private(HttpResponseRedirect(request.path))
