"""Each request's user in one query, with what every page reads about them.

Django's ModelBackend, whose get_user (called by AuthenticationMiddleware, once
per request, lazily) loads in the same query as the user:

- the profile (language, time zone: incidents.middleware),
- the unread notice counter (the header's number: escalation.selectors.unread_count),
- the roles, teams and cross-team work (incidents.rules.context, kept on the user).

So a signed-in page pays two queries for its basics: the session and this. The
session stays in the database, read on every request: a sign-out or a password
change (which rotates the session hash Django checks after get_user) takes effect
in every worker at once.

Here, in the wiring, because it joins the models of several apps.
"""

import json

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db.models.expressions import RawSQL

from incidents import rules

MEMBERSHIPS = "responder_memberships"


class RequestUserBackend(ModelBackend):
    def get_user(self, user_id):
        model = get_user_model()
        try:
            user_id = model._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        users = model._default_manager.select_related("profile", "unread_counter")
        memberships = rules.memberships_subquery(user_id)
        if memberships is not None:
            # rules' own SQL (table names from the models), the user's id a parameter
            users = users.annotate(**{MEMBERSHIPS: RawSQL(*memberships)})  # nosec B611
        try:
            user = users.get(pk=user_id)
        except model.DoesNotExist:
            return None
        rows = user.__dict__.pop(MEMBERSHIPS, None)
        if not self.user_can_authenticate(user):
            return None
        if rows is not None:
            rules.remember(user, json.loads(rows))
        return user
