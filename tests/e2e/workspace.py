"""The workspace's action forms in a browser: each sits in a box that draws it
when opened (static/js/workspace.js)."""

from playwright.sync_api import Locator, Page, expect


def open_form(page: Page, key: str) -> Locator:
    """Open the box of the action `key` (grade, log, notifyusers …) unless it is
    open already, and answer its form once drawn."""
    box = page.locator(f"details.action-box[data-action='{key}']")
    if box.get_attribute("open") is None:
        box.locator("summary").click()
    form = page.locator(f"#form-{key}")
    expect(form).to_be_visible()
    return form
