"""common.auth: each request's user comes with their profile in the same query."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common.auth import ModelBackendWithProfile
from incidents.models import UserProfile

pytestmark = pytest.mark.django_db


def test_it_loads_the_user_with_the_profile_in_one_query(lead):
    UserProfile.objects.update_or_create(user=lead, defaults={"language": "zh-hans"})
    with CaptureQueriesContext(connection) as captured:
        user = ModelBackendWithProfile().get_user(lead.pk)
        assert user.profile.language == "zh-hans"
    assert len(captured.captured_queries) == 1


def test_it_answers_a_user_without_a_profile(lead):
    UserProfile.objects.filter(user=lead).delete()
    user = ModelBackendWithProfile().get_user(lead.pk)
    assert user == lead
    with pytest.raises(UserProfile.DoesNotExist):
        user.profile  # noqa: B018


def test_it_refuses_an_inactive_or_unknown_user(lead):
    lead.is_active = False
    lead.save()
    assert ModelBackendWithProfile().get_user(lead.pk) is None
    assert ModelBackendWithProfile().get_user(999_999) is None


def test_a_page_no_longer_reads_the_profile_on_its_own(client, lead):
    client.force_login(lead)
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/accounts/password/").status_code == 200
    assert not any('FROM "incidents_userprofile"' in q["sql"] for q in captured.captured_queries)
