"""Each signed-in user's saved language and time zone, for every request.

Runs after AuthenticationMiddleware. LocaleMiddleware has already chosen a
language from the language cookie or the browser's Accept-Language (else
LANGUAGE_CODE); a language saved in the user's profile overrides both. The
time zone is the profile's, else TIME_ZONE (Asia/Shanghai by default).

Here, not in common/, because the profile is this app's model.
"""

import zoneinfo

from django.conf import settings
from django.contrib.auth.middleware import get_user
from django.utils import timezone, translation
from django.utils.functional import SimpleLazyObject

from common import clock
from incidents.models import UserProfile


class UserPreferencesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = None
        user = getattr(request, "user", None)
        if isinstance(user, SimpleLazyObject):
            # Read here anyway (the profile's language): the views get the user
            # itself instead of the lazy wrapper, each of whose attribute reads
            # is two calls (a 100-row dashboard checks 300 permissions: a tenth
            # of its time went through the wrapper).
            user = request.user = get_user(request)
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
    try:
        return user.profile
    except UserProfile.DoesNotExist:
        return None
