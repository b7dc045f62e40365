"""config.auth: each request's user with their profile, unread count and roles in
one query; sessions still checked in the database on every request."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from common.auth import ModelBackendWithProfile
from config import auth
from config.auth import RequestUserBackend
from escalation import selectors
from escalation.models import UnreadCounter
from incidents import rules
from incidents.models import UserProfile
from tests.factories import assigned_incident

pytestmark = pytest.mark.django_db


def fresh_context(user) -> tuple:
    """rules.context read by its own query, on a freshly loaded user."""
    again = get_user_model().objects.get(pk=user.pk)
    ctx = rules.context(again)
    return ctx, rules.cross_team_work(again)


def test_it_loads_the_user_profile_counter_and_roles_in_one_query(lead):
    UserProfile.objects.update_or_create(user=lead, defaults={"language": "zh-hans"})
    UnreadCounter.objects.create(user=lead, count=4)
    with CaptureQueriesContext(connection) as captured:
        user = RequestUserBackend().get_user(lead.pk)
        assert user.profile.language == "zh-hans"
        assert selectors.unread_count(user=user) == 4
        assert rules.has_role(user, rules.Role.TECH_LEAD)
        assert rules.context(user).team_ids
    assert len(captured.captured_queries) == 1


@pytest.mark.parametrize("who", ["lead", "onduty", "manager", "admin", "pay_engineer", "helper"])
def test_it_reads_the_same_roles_and_teams_as_rules(request, who, lead, onduty, owner, helper):
    assigned_incident(lead=lead, reporter=onduty, owner=owner, helpers=[helper])
    worker = request.getfixturevalue("pay_engineer")
    assigned_incident(lead=lead, reporter=onduty, owner=worker)  # work in another team
    user = request.getfixturevalue(who)

    loaded = RequestUserBackend().get_user(user.pk)

    assert (rules.context(loaded), rules.cross_team_work(loaded)) == fresh_context(user)


def test_it_answers_a_user_without_profile_or_counter(lead, django_assert_num_queries):
    UserProfile.objects.filter(user=lead).delete()
    with django_assert_num_queries(1):
        user = RequestUserBackend().get_user(lead.pk)
        assert selectors.unread_count(user=user) == 0
    with pytest.raises(UserProfile.DoesNotExist):
        user.profile  # noqa: B018


def test_it_refuses_an_inactive_unknown_or_malformed_user(lead):
    lead.is_active = False
    lead.save()
    assert RequestUserBackend().get_user(lead.pk) is None
    assert RequestUserBackend().get_user(999_999) is None
    assert RequestUserBackend().get_user("not-a-number") is None


def test_a_page_pays_two_queries_for_session_and_user(client, lead):
    client.force_login(lead)
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/accounts/password/").status_code == 200
    sql = [q["sql"] for q in captured.captured_queries]
    assert len(sql) == 2, "\n".join(sql)
    assert 'FROM "django_session"' in sql[0]
    if connection.vendor == "postgresql":  # the statement prepared on the connection
        assert sql[1].startswith(f"EXECUTE {auth.PREPARED} ")
    else:
        assert 'FROM "auth_user"' in sql[1]


def test_it_signs_in_through_the_login_form_with_this_backend(client, lead):
    client.post("/accounts/login/", {"username": "lead", "password": "responder-test"})
    assert client.session["_auth_user_backend"] == "config.auth.RequestUserBackend"


def test_a_password_changed_elsewhere_ends_the_session(lead):
    one, two = Client(), Client()
    one.force_login(lead)
    two.force_login(lead)
    assert one.get("/my/").status_code == 200

    lead.set_password("a-much-Longer-pass-2026")
    lead.save()

    assert one.get("/my/").status_code == 302
    assert two.get("/my/")["Location"].startswith("/accounts/login/")


def test_a_sign_out_ends_the_session_for_every_worker(client, lead):
    client.force_login(lead)
    key = client.cookies["sessionid"].value
    client.post("/accounts/logout/")
    other = Client()  # another process: nothing of the first one's memory
    other.cookies["sessionid"] = key
    assert other.get("/my/").status_code == 302


def test_a_session_of_the_previous_backend_still_loads_its_user(client, lead):
    client.force_login(lead, backend="common.auth.ModelBackendWithProfile")
    body = client.get("/dashboard/").content.decode()
    assert 'id="current-user"' in body


def test_the_previous_backend_signs_nobody_in(lead):
    assert ModelBackendWithProfile().authenticate(None, username="lead", password="x") is None
    assert (
        ModelBackendWithProfile().authenticate(None, username="lead", password="responder-test")
        is None
    )


# ---------------------------------------------------------------- PostgreSQL's prepared query

postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the prepared query is PostgreSQL's"
)


def loaded_state(user) -> dict:
    """Everything the request's user carries: its columns, its profile's and
    counter's (or that it has none), and its roles and work."""
    related = {}
    for name in ("profile", "unread_counter"):
        try:
            obj = getattr(user, name)
        except ObjectDoesNotExist as e:
            related[name] = type(e).__name__
        else:
            related[name] = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}
            assert obj.user is user  # no query: cached both ways
    return {
        "user": {f.attname: getattr(user, f.attname) for f in user._meta.concrete_fields},
        **related,
        "context": rules.context(user),
        "work": rules.cross_team_work(user),
    }


@postgresql
@pytest.mark.parametrize("who", ["lead", "onduty", "manager", "admin", "pay_engineer", "helper"])
def test_the_prepared_query_reads_what_the_orm_reads(
    request, who, lead, onduty, owner, helper, django_assert_num_queries
):
    assigned_incident(lead=lead, reporter=onduty, owner=owner, helpers=[helper])
    worker = request.getfixturevalue("pay_engineer")
    assigned_incident(lead=lead, reporter=onduty, owner=worker)  # work in another team
    user = request.getfixturevalue(who)
    UnreadCounter.objects.update_or_create(user=lead, defaults={"count": 3})
    UserProfile.objects.filter(user=onduty).delete()  # one without a profile

    def state(read):
        with django_assert_num_queries(1):  # the profile and counter come with the user
            loaded, rows = read(user.pk)
            rules.remember(loaded, json.loads(rows))
            return loaded_state(loaded)

    assert state(auth._prepared_user) == state(auth._orm_user)


@postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_new_connection_prepares_the_query_again_unseen_by_query_counts(lead):
    RequestUserBackend().get_user(lead.pk)
    connection.close()  # the next query opens a new connection
    with CaptureQueriesContext(connection) as captured:
        assert RequestUserBackend().get_user(lead.pk) == lead
        assert RequestUserBackend().get_user(lead.pk) == lead
    assert [q["sql"].split(" (")[0] for q in captured.captured_queries] == [
        f"EXECUTE {auth.PREPARED}"
    ] * 2


@postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_prepared_query_outlives_a_rolled_back_transaction(lead):
    connection.close()

    def rolled_back():
        with transaction.atomic():
            assert RequestUserBackend().get_user(lead.pk) == lead  # prepared in here
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        rolled_back()
    assert RequestUserBackend().get_user(lead.pk) == lead
