"""In a real browser, script in every text of an incident stays text: loading the
workspace and the dashboard fires no dialog and adds no element, and the
payload reads as the text it is. (tests/security/test_inert_text.py checks
every page's HTML; this checks what Chromium makes of two of them.)"""

from playwright.sync_api import expect

from tests.security.payloads import build

INJECTED = """() => ({
    images: document.querySelectorAll('img[src="x"]').length,
    handlers: [...document.querySelectorAll('*')].filter(
        el => [...el.attributes].some(a => a.name.startsWith('on'))).length,
    scripts: [...document.scripts].filter(s => s.textContent.includes('alert(')).length,
    javascriptLinks: document.querySelectorAll('[href^="javascript:" i]').length,
})"""


def test_it_fires_nothing_from_an_incident_full_of_payloads(login_as):
    world = build()
    page = login_as(world.lead.username)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    for path in (f"/incidents/{world.main.pk}/", f"/incidents/{world.reopened.pk}/", "/dashboard/"):
        page.goto(path)
        expect(page.locator("main, body").first).to_contain_text('<script>alert("X')
        assert page.evaluate(INJECTED) == {
            "images": 0,
            "handlers": 0,
            "scripts": 0,
            "javascriptLinks": 0,
        }, path

    assert dialogs == []
