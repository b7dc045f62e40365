"""The resolved mail's feedback link: escalation.status.feedback and the page
/status/feedback/<token>/ (no sign-in, CSRF-protected, one answer per link,
editable for 7 days, expiring unanswered after 30)."""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.test import Client

from escalation.status import feedback
from escalation.status.feedback import FeedbackAnswerFinal, FeedbackLinkExpired
from escalation.status.models import FeedbackRequest, Subscriber
from incidents.models import TimelineEvent, UserFeedback
from tests.conftest import NOW

pytestmark = pytest.mark.django_db


def subscriber(address="reader@example.com"):
    return Subscriber.objects.create(
        kind=Subscriber.Kind.EMAIL, address=address, created_at=NOW, confirmed_at=NOW
    )


@pytest.fixture
def link(clock, published):
    return feedback.feedback_request_for(incident=published, subscriber=subscriber())


def url(link):
    return f"/status/feedback/{link.token}/"


def affected_events(incident):
    return TimelineEvent.objects.filter(
        incident=incident, kind=TimelineEvent.Kind.FEEDBACK_RECORDED
    )


# ---------------------------------------------------------------- the link


def test_it_gives_one_link_per_incident_and_subscriber(clock, published):
    reader, other = subscriber(), subscriber("other@example.com")

    first = feedback.feedback_request_for(incident=published, subscriber=reader)
    again = feedback.feedback_request_for(incident=published, subscriber=reader)
    theirs = feedback.feedback_request_for(incident=published, subscriber=other)

    assert again.pk == first.pk
    assert again.token == first.token
    assert theirs.token != first.token
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", first.token)  # url-safe, 256 bits
    assert first.created_at == NOW
    assert first.answered_at is None
    assert FeedbackRequest.objects.count() == 2


# ---------------------------------------------------------------- the answer


def test_it_lands_on_the_incident_once(clock, link, published):
    feedback.feedback_answer(request=link, rating=2, comment="  Slow for an hour.  ")
    clock.shift(timedelta(days=2))
    feedback.feedback_answer(request=link, rating=4, comment="Fine now, thanks.")

    answer = UserFeedback.objects.get(incident=published)  # one, edited in place
    assert (answer.rating, answer.text, answer.satisfied) == (4, "Fine now, thanks.", True)
    assert answer.by_affected_user
    assert answer.recorded_by is None
    assert answer.recorded_at == NOW
    assert answer.updated_at == NOW + timedelta(days=2)
    assert affected_events(published).count() == 1
    link.refresh_from_db()
    assert (link.feedback_id, link.answered_at) == (answer.pk, NOW)  # the first answer


def test_it_takes_changes_for_seven_days_after_the_first_answer(clock, link):
    feedback.feedback_answer(request=link, rating=3)
    clock.shift(timedelta(days=7) - timedelta(minutes=1))
    feedback.feedback_answer(request=link, rating=5)
    clock.shift(timedelta(minutes=1))

    with pytest.raises(FeedbackAnswerFinal) as refused:
        feedback.feedback_answer(request=link, rating=1, comment="Changed my mind.")

    assert "can no longer be changed" in refused.value.message
    assert UserFeedback.objects.get().rating == 5


def test_it_expires_a_link_unanswered_for_30_days(clock, link):
    clock.shift(timedelta(days=30))

    with pytest.raises(FeedbackLinkExpired) as refused:
        feedback.feedback_answer(request=link, rating=5)

    assert "expired" in refused.value.message
    assert not UserFeedback.objects.exists()


def test_it_keeps_an_answered_link_past_30_days(clock, client, link):
    feedback.feedback_answer(request=link, rating=4, comment="Quick fix.")
    clock.shift(timedelta(days=40))

    response = client.get(url(link))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Quick fix." in body
    assert "Your answer can no longer be changed." in body
    assert "<form" not in body


@pytest.mark.parametrize(
    ("rating", "comment", "field"),
    [(0, "", "rating"), (6, "", "rating"), (3, "x" * 2001, "comment")],
)
def test_it_refuses_a_bad_answer(clock, link, rating, comment, field):
    with pytest.raises(ValidationError) as refused:
        feedback.feedback_answer(request=link, rating=rating, comment=comment)

    assert set(refused.value.message_dict) == {field}
    assert not UserFeedback.objects.exists()
    link.refresh_from_db()
    assert link.answered_at is None


# ---------------------------------------------------------------- the page


def test_it_shows_the_public_title_only(clock, client, link, published, platform):
    response = client.get(url(link))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Checkout is slow" in body  # the publication's public title
    for internal in (
        published.title,
        published.number,
        published.symptoms,
        platform.name,
        "reader@example.com",
    ):
        assert internal not in body
    assert 'name="robots" content="noindex"' in body
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"]
    # The rating is a radio group in a fieldset with a legend.
    assert re.search(r"<fieldset[^>]*>\s*<legend", body)
    assert len(re.findall(r'type="radio" name="rating"', body)) == 5
    assert 'maxlength="2000"' in body


def test_it_records_a_posted_answer_and_thanks(clock, client, link, published):
    response = client.post(url(link), {"rating": "4", "comment": "Works again."})

    assert response.status_code == 302
    assert response["Location"] == url(link)
    answer = UserFeedback.objects.get(incident=published)
    assert (answer.rating, answer.text) == (4, "Works again.")
    body = client.get(url(link)).content.decode()
    assert "Thank you for your feedback." in body
    assert "You rated the fix 4 of 5 (Good)." in body
    # Changeable for 7 days, in the site's time zone with its offset.
    assert '<time datetime="2026-12-03T10:00:00+08:00">2026-12-03 10:00 +0800</time>' in body
    assert re.search(r'id="rating-4" value="4" checked', body)
    assert "Works again.</textarea>" in body
    assert "Change my answer" in body


def test_it_edits_the_answer_from_the_page(clock, client, link, published):
    client.post(url(link), {"rating": "1", "comment": "Down all morning."})
    clock.shift(timedelta(days=3))

    response = client.post(url(link), {"rating": "3", "comment": ""})

    assert response.status_code == 302
    answer = UserFeedback.objects.get(incident=published)
    assert (answer.rating, answer.text) == (3, "")
    assert affected_events(published).count() == 1


def test_it_refuses_a_change_after_seven_days_with_410(clock, client, link, published):
    client.post(url(link), {"rating": "2", "comment": "Slow."})
    clock.shift(timedelta(days=7))

    response = client.post(url(link), {"rating": "5", "comment": "Actually fine."})

    assert response.status_code == 410
    body = response.content.decode()
    assert "Your answer can no longer be changed" in body
    assert "Slow." in body  # the answer as it stays
    assert "<form" not in body
    assert UserFeedback.objects.get(incident=published).rating == 2
    assert client.post(url(link), {"rating": "9"}).status_code == 410  # not a 400 form


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rating": "6"}, "Choose a rating from 1 to 5."),
        ({"rating": "0"}, "Choose a rating from 1 to 5."),
        ({"rating": "five"}, "Choose a rating from 1 to 5."),
        ({"comment": "No rating."}, "Choose a rating from 1 to 5."),
        ({"rating": "3", "comment": "x" * 2001}, "Keep the comment within 2000 characters."),
    ],
)
def test_it_rerenders_bad_input_with_400(clock, client, link, data, message):
    response = client.post(url(link), data)

    assert response.status_code == 400
    body = response.content.decode()
    assert message in body
    assert 'role="alert"' in body
    assert 'aria-invalid="true"' in body
    if "comment" in data and len(data["comment"]) < 100:
        assert f"{data['comment']}</textarea>" in body  # nothing typed is lost
    assert not UserFeedback.objects.exists()


def test_it_answers_404_for_an_unknown_token(clock, client, link):
    assert client.get("/status/feedback/not-a-token/").status_code == 404
    assert client.post("/status/feedback/not-a-token/", {"rating": "5"}).status_code == 404
    assert client.get(f"/status/feedback/{'x' * 80}/").status_code == 404
    assert not UserFeedback.objects.exists()


def test_it_answers_410_for_an_expired_link(clock, client, link):
    clock.shift(timedelta(days=30) - timedelta(seconds=1))
    assert client.get(url(link)).status_code == 200
    clock.shift(timedelta(seconds=1))

    shown = client.get(url(link))
    posted = client.post(url(link), {"rating": "5"})

    assert shown.status_code == posted.status_code == 410
    body = shown.content.decode()
    assert "This feedback link has expired" in body
    assert "not used within 30 days" in body
    assert 'href="/status/"' in body
    assert "<form" not in body
    assert not UserFeedback.objects.exists()


def test_it_enforces_csrf(clock, link, published):
    browser = Client(enforce_csrf_checks=True)

    refused = browser.post(url(link), {"rating": "5"})

    assert refused.status_code == 403
    assert not UserFeedback.objects.exists()
    page = browser.get(url(link)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    accepted = browser.post(url(link), {"rating": "5", "csrfmiddlewaretoken": token})
    assert accepted.status_code == 302
    assert UserFeedback.objects.get(incident=published).rating == 5


def test_it_switches_the_language_and_remembers_it(clock, client, link):
    response = client.get(url(link) + "?lang=zh-hans")

    assert '<html lang="zh-hans">' in response.content.decode()
    assert response.cookies["django_language"].value == "zh-hans"
    assert '<html lang="en">' in client.get(url(link) + "?lang=en").content.decode()


def test_its_query_count_stays_small(clock, client, link, django_assert_num_queries):
    with django_assert_num_queries(1):  # the link with its publication and answer
        assert client.get(url(link)).status_code == 200
    feedback.feedback_answer(request=link, rating=4, comment="Good.")
    with django_assert_num_queries(1):
        assert client.get(url(link)).status_code == 200


# ---------------------------------------------------------------- the workspace


def test_it_summarises_the_affected_users_answers(clock, published, lead):
    first = feedback.feedback_request_for(incident=published, subscriber=subscriber())
    second = feedback.feedback_request_for(
        incident=published, subscriber=subscriber("b@example.com")
    )
    feedback.feedback_answer(request=first, rating=5, comment="Quick.")
    clock.shift(timedelta(hours=1))
    feedback.feedback_answer(request=second, rating=2)
    clock.shift(timedelta(hours=1))
    feedback.feedback_answer(request=second, rating=2, comment="Took long.")
    # What staff wrote down is not an affected user's rating.
    UserFeedback.objects.create(
        incident=published, text="Users are happy.", recorded_by=lead, recorded_at=NOW
    )

    summary = feedback.incident_affected_feedback(published)

    assert summary == {
        "count": 2,
        "average": 3.5,
        "answers": [
            {"rating": 5, "comment": "Quick.", "answered_at": NOW, "changed_at": None},
            {
                "rating": 2,
                "comment": "Took long.",
                "answered_at": NOW + timedelta(hours=1),
                "changed_at": NOW + timedelta(hours=2),
            },
        ],
    }
    html = render_to_string("status/_affected_feedback.html", {"feedback": summary})
    assert "2 answers, average rating 3.5 of 5." in html
    assert "★★★★★" in html
    assert "★★☆☆☆" in html
    assert "5 of 5" in html
    assert "2 of 5" in html
    assert "Took long." in html
    assert "example.com" not in html
    assert 'aria-hidden="true"' in html  # the stars; the number says it in words


def test_it_summarises_no_answers(clock, published, django_assert_num_queries):
    with django_assert_num_queries(1):
        summary = feedback.incident_affected_feedback(published)

    assert summary == {"count": 0, "average": None, "answers": []}
    html = render_to_string("status/_affected_feedback.html", {"feedback": summary})
    assert "No affected user has answered the feedback link yet." in html
