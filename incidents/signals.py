"""The incidents' signals, and their receivers (wiring only; connected in
IncidentsConfig.ready)."""

from django.conf import settings
from django.dispatch import Signal
from django.utils.translation import get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header

from incidents.models import UserProfile

# Sent by the reopen service inside its transaction, with `incident` and
# `from_state`: apps above incidents (knowledge's search index) follow it
# without incidents calling up into them.
incident_reopened = Signal()


def asked_language(request) -> str:
    """The language the browser asks for: the one picked on the sign-in page (the
    language cookie), else the first of Accept-Language that we have; "" if none."""
    wanted = [request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")]
    wanted += [
        code for code, _q in parse_accept_lang_header(request.headers.get("Accept-Language", ""))
    ]
    for code in wanted:
        if not code or code == "*":
            continue
        try:
            return get_supported_language_variant(code)
        except LookupError:
            continue
    return ""


def record_browser_language(sender, request, user, **kwargs) -> None:
    """At each sign-in, keep what the browser asked for: e-mail, notices and the
    calendar feed speak it to someone who never chose a language."""
    if request is None:
        return
    language = asked_language(request)
    # Written only when it changed: a sign-in is not a reason to touch the row.
    profile = UserProfile.objects.filter(user=user).first()
    if profile is None:
        if language:
            UserProfile.objects.create(user=user, browser_language=language)
    elif profile.browser_language != language:
        UserProfile.objects.filter(pk=profile.pk).update(browser_language=language)
