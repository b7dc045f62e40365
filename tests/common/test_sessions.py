"""common.sessions: Django's database sessions, their read written out; they read
what Django's own store reads."""

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore as DjangoStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from common.sessions import SessionStore

pytestmark = pytest.mark.django_db


def saved(**data) -> str:
    store = SessionStore()
    store.update(data)
    store.save()
    return store.session_key


def test_it_reads_a_saved_session_as_djangos_store_does():
    key = saved(user="4", language="zh-hans")

    ours, django = SessionStore(key), DjangoStore(key)

    assert dict(ours.items()) == dict(django.items()) == {"user": "4", "language": "zh-hans"}
    assert ours.session_key == key


@pytest.mark.parametrize("key", ["expired", "unknown"])
def test_an_expired_or_unknown_session_reads_empty_and_is_not_revived(key):
    if key == "expired":
        key = saved(user="4")
        Session.objects.filter(session_key=key).update(
            expire_date=timezone.now() - timedelta(seconds=1)
        )
    else:
        key = "x" * 32

    store = SessionStore(key)
    assert dict(store.items()) == dict(DjangoStore(key).items()) == {}
    store["fresh"] = 1
    store.save()

    assert store.session_key != key  # a new session, never the old key brought back
    assert Session.objects.get(session_key=store.session_key).get_decoded() == {"fresh": 1}
