"""A page a role may not open answers 403 with the app's own page: the reason, in
the reader's language, the header to go on from, and a way back."""

import pytest

from incidents.models import UserProfile

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/archive/", "/metrics/"])
def test_it_says_why_a_page_is_refused_in_the_apps_layout(client, onduty, path):
    client.force_login(onduty)

    response = client.get(path)

    assert response.status_code == 403
    page = response.content.decode()
    # The app's layout, not a bare page.
    assert 'id="main"' in page
    assert "navbar" in page
    refusal = page.split('id="refusal"')[1].split("</p>")[0]
    assert "Only managers and tech leads may" in refusal  # the reason
    assert 'href="/"' in page


def test_it_refuses_in_the_readers_language(client, onduty):
    UserProfile.objects.update_or_create(user=onduty, defaults={"language": "zh-hans"})
    client.force_login(onduty)

    page = client.get("/archive/").content.decode()

    assert "只有管理者和技术负责人可以查看归档。" in page
    assert "无权访问" in page  # "Not allowed"
    assert "Only managers" not in page
