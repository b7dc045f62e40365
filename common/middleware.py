"""Per-request middleware: the user's language and time zone, and the CSP header.

Each signed-in user's saved language and time zone, for every request.

Runs after AuthenticationMiddleware. LocaleMiddleware has already chosen a
language from the language cookie or the browser's Accept-Language (else
LANGUAGE_CODE); a language saved in the user's profile overrides both. The
time zone is the profile's, else TIME_ZONE (Asia/Shanghai by default).
"""

import zoneinfo

from django.conf import settings
from django.utils import timezone, translation

from common import clock, responses


class UserPreferencesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            profile = _profile(user)
            if profile is not None:
                if profile.language in dict(settings.LANGUAGES):
                    translation.activate(profile.language)
                    request.LANGUAGE_CODE = profile.language
                zone = clock.zone_named(profile.time_zone)
        timezone.activate(zone or zoneinfo.ZoneInfo(settings.TIME_ZONE))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def _profile(user):
    from incidents.models import UserProfile

    try:
        return user.profile
    except UserProfile.DoesNotExist:
        return None


class ContentSecurityPolicyMiddleware:
    """Sends settings.CONTENT_SECURITY_POLICY with every response (Django 5.2 has
    no built-in CSP)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")
        if request.path.startswith("/api/docs/"):
            policy = getattr(settings, "CONTENT_SECURITY_POLICY_DOCS", policy)
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response


class RequestSizeLimitMiddleware:
    """Refuses a body over settings.MAX_REQUEST_BYTES with 413 before anything
    reads it. Django's own DATA_UPLOAD_MAX_MEMORY_SIZE guards form posts only;
    DRF's JSON parser and the alert webhook read the stream directly."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.MAX_REQUEST_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django reads no body without a valid length
        if length > limit:
            return responses.request_too_large(request, limit)
        return self.get_response(request)
