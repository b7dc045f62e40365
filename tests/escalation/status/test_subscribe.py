"""Subscribing to the status page: double opt-in, the confirmation link and its
expiry, one-click unsubscribe (RFC 8058), throttling, no address enumeration."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client

from escalation.status import messages, services, subscriptions
from escalation.status.models import StatusMessage, Subscriber
from tests.conftest import NOW

pytestmark = pytest.mark.django_db

SUBSCRIBE = "/status/subscribe/"


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """POST the subscribe form (from `ip`), running what it queues on commit."""

    def submit(email="reader@example.com", components=(), ip="203.0.113.7", **extra):
        data = {"email": email, "components": [c.slug for c in components]}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(SUBSCRIBE, data, REMOTE_ADDR=ip, **extra)

    return submit


def link(message, name):
    found = re.search(rf"http://localhost:8000/status/{name}/[^/\s]+/", message.body)
    assert found, message.body
    return found.group(0).removeprefix("http://localhost:8000")


def publish_update(published, lead, django_capture_on_commit_callbacks, status="identified"):
    with django_capture_on_commit_callbacks(execute=True):
        update = services.incident_public_update(
            incident=published, actor=lead, status=status, message="Found the cause."
        )
    return update


# ---------------------------------------------------------------- the form


def test_it_shows_the_form_with_the_components(client, website, api_component):
    response = client.get(SUBSCRIBE)

    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="csrfmiddlewaretoken"' in body
    assert 'type="email"' in body
    assert "Website" in body
    assert "Public API" in body


def test_it_shows_the_form_in_two_queries_however_many_components(
    client, lead, platform, django_assert_num_queries
):
    for n in range(12):
        services.component_create(actor=lead, slug=f"c{n}", name=f"Part {n}", team=platform)

    with django_assert_num_queries(2):  # are there components; the components
        response = client.get(SUBSCRIBE)

    assert response.content.decode().count('name="components"') == 12


def test_it_needs_the_csrf_token_to_subscribe(db):
    response = Client(enforce_csrf_checks=True).post(SUBSCRIBE, {"email": "a@example.com"})

    assert response.status_code == 403
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize("email", ["", "not-an-address", "a@b", "x" * 250 + "@example.com"])
def test_it_rerenders_bad_input_with_a_message(clock, post, email):
    response = post(email=email)

    assert response.status_code == 400
    assert 'id="subscribe-errors"' in response.content.decode()
    assert not Subscriber.objects.exists()
    assert mail.outbox == []


# ---------------------------------------------------------------- double opt-in


def test_it_sends_only_a_confirmation_before_the_address_is_confirmed(
    clock, post, lead, published, website, django_capture_on_commit_callbacks
):
    response = post(email="  Reader@Example.com ", components=[website])

    assert response.status_code == 200
    assert 'id="subscribe-sent"' in response.content.decode()
    subscriber = Subscriber.objects.get()
    assert subscriber.address == "reader@example.com"
    assert subscriber.confirmed_at is None
    assert list(subscriber.components.all()) == [website]
    [confirmation] = mail.outbox
    assert confirmation.to == ["reader@example.com"]
    assert "Confirm your subscription" in confirmation.subject
    assert link(confirmation, "confirm")
    assert confirmation.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    publish_update(published, lead, django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 1  # nothing for an unconfirmed address
    assert not StatusMessage.objects.filter(kind=StatusMessage.Kind.UPDATE).exists()


def test_it_mails_the_updates_once_the_link_is_followed(
    clock, client, post, lead, published, django_capture_on_commit_callbacks
):
    post()
    response = client.get(link(mail.outbox[0], "confirm"))

    assert response.status_code == 200
    assert 'id="confirm-done"' in response.content.decode()
    assert Subscriber.objects.get().confirmed_at == NOW
    assert client.get(link(mail.outbox[0], "confirm")).status_code == 200  # again: no change

    publish_update(published, lead, django_capture_on_commit_callbacks)

    update_mail = mail.outbox[-1]
    assert len(mail.outbox) == 2
    assert update_mail.subject == "[Identified] Checkout is slow"
    assert "Found the cause." in update_mail.body


def test_it_refuses_a_confirmation_link_after_it_expired(clock, client, post):
    post()
    url = link(mail.outbox[0], "confirm")

    clock.shift(timedelta(hours=48, seconds=1))
    response = client.get(url)

    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert Subscriber.objects.get().confirmed_at is None


def test_it_accepts_a_confirmation_link_until_it_expires(clock, client, post):
    post()
    clock.shift(timedelta(hours=47, minutes=59))

    assert client.get(link(mail.outbox[0], "confirm")).status_code == 200
    assert Subscriber.objects.get().confirmed_at == NOW + timedelta(hours=47, minutes=59)


@pytest.mark.parametrize(
    "token",
    [
        "nonsense",
        # signed for unsubscribing, not for confirming
        subscriptions.unsubscribe_token(Subscriber(pk=1, address="reader@example.com")),
    ],
    # Not the token: it is signed with the time, so each xdist worker would
    # collect a test of another name when collecting straddles a second.
    ids=["nonsense", "unsubscribe-token"],
)
def test_it_answers_404_to_a_confirmation_link_that_is_not_ours(clock, client, post, token):
    post()

    response = client.get(f"/status/confirm/{token}/")

    assert response.status_code == 404
    assert 'id="confirm-problem"' in response.content.decode()
    assert Subscriber.objects.get().confirmed_at is None


def test_it_refuses_the_link_of_a_deleted_subscriber_for_whoever_got_its_id(clock, client):
    gone = Subscriber(pk=41, address="gone@example.com")
    Subscriber.objects.create(pk=41, address="new@example.com", created_at=NOW)

    response = client.get(f"/status/confirm/{subscriptions.confirm_token(gone)}/")

    assert response.status_code == 404
    assert Subscriber.objects.get().confirmed_at is None


def test_it_writes_in_the_language_of_the_page(clock, post):
    post(HTTP_ACCEPT_LANGUAGE="zh-Hans")

    assert Subscriber.objects.get().language == "zh-hans"


def test_it_switches_the_language_with_lang_and_remembers_it(clock, client, post):
    response = client.get(f"{SUBSCRIBE}?lang=zh-hans", HTTP_ACCEPT_LANGUAGE="en")

    assert '<html lang="zh-hans">' in response.content.decode()
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    post(HTTP_ACCEPT_LANGUAGE="en")  # the cookie wins
    assert Subscriber.objects.get().language == "zh-hans"


# ---------------------------------------------------------------- no enumeration


def test_it_answers_a_confirmed_address_exactly_as_an_unknown_one(clock, post):
    Subscriber.objects.create(address="known@example.com", created_at=NOW, confirmed_at=NOW)

    known = post(email="known@example.com")
    unknown = post(email="unknown@example.com")

    assert known.status_code == unknown.status_code == 200
    assert known.content == unknown.content
    assert Subscriber.objects.filter(address="known@example.com").count() == 1
    assert [m.to for m in mail.outbox] == [["unknown@example.com"]]  # no second confirmation


def test_it_refreshes_an_unconfirmed_address_with_a_new_confirmation(
    clock, post, website, api_component
):
    post(components=[website])
    clock.shift(timedelta(minutes=5))
    post(components=[api_component])

    subscriber = Subscriber.objects.get()
    assert list(subscriber.components.all()) == [api_component]
    assert subscriber.created_at == NOW + timedelta(minutes=5)
    assert len(mail.outbox) == 2


# ---------------------------------------------------------------- unsubscribe


@pytest.fixture
def confirmed(clock, client, post):
    post()
    client.get(link(mail.outbox[0], "confirm"))
    return Subscriber.objects.get()


def test_it_carries_the_unsubscribe_headers_on_every_mail(
    confirmed, lead, published, django_capture_on_commit_callbacks
):
    publish_update(published, lead, django_capture_on_commit_callbacks)

    for sent in mail.outbox:
        url = subscriptions.unsubscribe_url(confirmed)
        assert sent.extra_headers["List-Unsubscribe"] == f"<{url}>"
        assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert url in sent.body
        assert url.startswith("http://localhost:8000/status/unsubscribe/")


def test_it_unsubscribes_with_the_one_click_post_without_a_csrf_token(confirmed):
    url = subscriptions.unsubscribe_url(confirmed).removeprefix("http://localhost:8000")
    mailer = Client(enforce_csrf_checks=True)

    response = mailer.post(
        url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    assert 'id="unsubscribe-done"' in response.content.decode()
    assert not Subscriber.objects.exists()
    assert mailer.post(url).status_code == 200  # again: nothing left, same answer


def test_it_asks_before_unsubscribing_on_a_get(confirmed, client):
    url = subscriptions.unsubscribe_url(confirmed).removeprefix("http://localhost:8000")

    response = client.get(url)

    assert response.status_code == 200
    body = response.content.decode()
    assert '<form method="post"' in body
    assert "csrfmiddlewaretoken" not in body
    assert Subscriber.objects.exists()


def test_it_answers_404_to_a_forged_unsubscribe_link(confirmed, client):
    token = subscriptions.confirm_token(confirmed)  # a confirmation token does not unsubscribe

    assert client.post(f"/status/unsubscribe/{token}/").status_code == 404
    assert client.get("/status/unsubscribe/made-up/").status_code == 404
    assert Subscriber.objects.exists()


def test_it_sends_nothing_more_after_unsubscribing(
    confirmed, client, lead, published, django_capture_on_commit_callbacks
):
    client.post(subscriptions.unsubscribe_url(confirmed).removeprefix("http://localhost:8000"))
    update = publish_update(published, lead, django_capture_on_commit_callbacks)

    assert messages.fan_out(update.pk) == []
    assert len(mail.outbox) == 1  # the confirmation only


# ---------------------------------------------------------------- throttling


def test_it_throttles_an_address_with_retry_after(clock, post):
    for n in range(3):
        assert post(ip=f"198.51.100.{n}").status_code == 200
    clock.shift(timedelta(minutes=10))

    response = post(ip="198.51.100.9")

    assert response.status_code == 429
    assert response["Retry-After"] == str(50 * 60)  # until the hour's window ends
    assert 'id="subscribe-throttled"' in response.content.decode()
    assert len(mail.outbox) == 3
    clock.shift(timedelta(minutes=50))
    assert post(ip="198.51.100.9").status_code == 200


def test_it_throttles_a_client_address(clock, post):
    for n in range(10):
        assert post(email=f"reader{n}@example.com").status_code == 200

    response = post(email="reader10@example.com")

    assert response.status_code == 429
    assert response["Retry-After"] == "3600"
    assert not Subscriber.objects.filter(address="reader10@example.com").exists()
    assert post(email="reader10@example.com", ip="192.0.2.1").status_code == 200


def test_it_throttles_a_confirmed_address_like_any_other(clock, post):
    Subscriber.objects.create(address="known@example.com", created_at=NOW, confirmed_at=NOW)

    answers = [post(email="known@example.com", ip=f"198.51.100.{n}") for n in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]


def test_it_costs_no_attempt_to_mistype(clock, post):
    for _ in range(5):
        post(email="reader@example")

    assert post(email="reader@example.com").status_code == 200


def test_it_gives_back_the_address_slot_when_the_client_is_throttled(clock, post):
    for n in range(10):
        post(email=f"reader{n}@example.com")
    assert post(email="victim@example.com").status_code == 429

    for n in range(3):
        assert post(email="victim@example.com", ip=f"192.0.2.{n}").status_code == 200


def test_it_counts_every_process_in_the_database(clock):
    subscriptions.subscribe(email="a@example.com", language="en", ip="192.0.2.1", now=NOW)

    table = settings.CACHES[settings.STATUS_THROTTLE_CACHE]["LOCATION"]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        assert cursor.fetchone()[0] == 2  # one slot for the address, one for the client
