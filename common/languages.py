"""Choosing a page's language without signing in: `?lang=` on a public page (the
status page's header links) switches it, and the choice is remembered in
Django's language cookie, as the signed-in header's switch does."""

import functools

from django.conf import settings
from django.utils import translation

COOKIE_MAX_AGE = 365 * 24 * 3600


def pick_language(request) -> str | None:
    """Activate the language `?lang=` names; None if it names none we speak."""
    language = request.GET.get("lang", "")
    if language not in dict(settings.LANGUAGES):
        return None
    translation.activate(language)
    request.LANGUAGE_CODE = language
    return language


def remember_language(response, language: str | None) -> None:
    """Keep `language` for the next visits (the language cookie)."""
    if language:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=COOKIE_MAX_AGE,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )


def language_switch(view):
    """A view whose `?lang=` picks its language, remembered in the cookie."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        language = pick_language(request)
        response = view(request, *args, **kwargs)
        remember_language(response, language)
        return response

    return wrapped
