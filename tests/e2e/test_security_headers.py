"""The Content-Security-Policy the pages actually satisfy: the browser reports any
violation as a console error, which fails the test (browser_problems)."""

from playwright.sync_api import expect


def test_it_renders_the_api_docs_and_admin_under_the_policy(login_as, admin):
    admin.is_staff = admin.is_superuser = True
    admin.save()
    page = login_as("admin")
    response = page.goto("/api/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Responder")

    page.goto("/admin/incidents/incident/")
    expect(page.locator("#content h1")).to_be_visible()
    page.goto("/metrics/")
    expect(page.locator("svg.chart").first).to_be_visible()
