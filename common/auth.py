"""The backend of sessions signed in before config.auth.RequestUserBackend.

A session names the backend that signed it in, and Django loads its user with
that one only if it is still in AUTHENTICATION_BACKENDS. This one stays listed
until those sessions have expired (SESSION_COOKIE_AGE, two weeks, after the
upgrade), so nobody is signed out by it; it signs nobody in (a wrong password is
checked once, by RequestUserBackend, not twice). It loads the user with their
profile in one query; roles and the unread count are then read on their own.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class ModelBackendWithProfile(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        return None

    def get_user(self, user_id):
        users = get_user_model()._default_manager.select_related("profile")
        try:
            user = users.get(pk=user_id)
        except users.model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
