"""The dashboard's rows refresh through htmx, but never under a quick form being filled in."""

from playwright.sync_api import expect

from tests.factories import new_incident

REFRESH = """() => new Promise(done => {
  const rows = document.querySelector('#dashboard-rows');
  rows.dataset.marker = 'before';
  htmx.ajax('GET', rows.getAttribute('hx-get'), {source: rows, target: rows, swap: 'outerHTML'})
    .then(() => done(document.querySelector('#dashboard-rows').dataset.marker || 'swapped'));
})"""


def test_it_refreshes_the_rows_when_nobody_is_typing(login_as, lead, onduty):
    incident = new_incident(reporter=onduty, title="Refresh me")
    page = login_as("lead")
    page.goto("/dashboard/")
    expect(page.locator(f"#row-{incident.pk}")).to_be_visible()

    assert page.evaluate(REFRESH) == "swapped"
    expect(page.locator(f"#row-{incident.pk}")).to_be_visible()


def test_it_does_not_refresh_under_an_open_quick_form(login_as, lead, onduty):
    incident = new_incident(reporter=onduty, title="Grade me")
    page = login_as("lead")
    page.goto("/dashboard/")
    row = page.locator(f"#row-{incident.pk}")
    row.locator("summary", has_text="Grade").click()
    row.locator("textarea[name=diagnosis]").fill("Half typed diagnosis")

    assert page.evaluate(REFRESH) == "before"  # the request was cancelled
    expect(row.locator("textarea[name=diagnosis]")).to_have_value("Half typed diagnosis")


def test_it_labels_the_cells_of_the_phone_layout_after_a_refresh_too(login_as, lead, onduty):
    # The labels are copied from the headers by responder.js, not sent in every row.
    incident = new_incident(reporter=onduty, title="Label me")
    page = login_as("lead")
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto("/dashboard/")
    row = page.locator(f"#row-{incident.pk}")
    for label in ("Team", "Owner", "Respond", "Resolve", "Next update"):
        expect(row.locator(f"td[data-label='{label}']")).to_have_count(1)

    assert page.evaluate(REFRESH) == "swapped"
    expect(row.locator("td[data-label='Owner']")).to_have_count(1)
    # The phone layout shows the label before the value.
    content = row.locator("td[data-label='Team']").evaluate(
        "(td) => getComputedStyle(td, '::before').content"
    )
    assert content == '"Team: "', content


def test_its_refresh_gets_304_while_nothing_changed_and_keeps_the_rows(login_as, lead, onduty):
    incident = new_incident(reporter=onduty, title="Unchanged")
    page = login_as("lead")
    page.goto("/dashboard/")
    statuses = []
    page.on(
        "response",
        lambda r: statuses.append(r.status) if "fragment=rows" in r.url else None,
    )
    assert page.evaluate(REFRESH) == "swapped"  # the first refresh learns the validator
    assert page.evaluate(REFRESH) == "before"  # 304: nothing swapped
    page.wait_for_timeout(200)  # the response event may trail the promise
    assert statuses == [200, 304]
    expect(page.locator(f"#row-{incident.pk} [data-deadline] .countdown").first).to_contain_text(
        "left"
    )

    # A write: the next refresh brings new rows.
    from incidents import services

    services.incident_acknowledge(incident=incident, actor=lead)
    assert page.evaluate(REFRESH) == "swapped"
    expect(page.locator(f"#row-{incident.pk} .state-badge")).to_have_text("Acknowledged")


def test_a_quick_form_opened_before_the_scripts_ran_still_loads(login_as, lead, onduty):
    # Opened while the page was still loading, before anyone listened for its toggle.
    incident = new_incident(reporter=onduty, title="Grade me early")
    page = login_as("lead")
    held = []
    page.route("**/htmx.min*.js", lambda route: held.append(route))
    page.goto("/dashboard/", wait_until="commit")
    row = page.locator(f"#row-{incident.pk}")
    row.locator("summary", has_text="Grade").click()
    assert len(held) == 1  # htmx (and the page's script after it) has not run yet
    expect(row.locator("textarea[name=diagnosis]")).to_have_count(0)

    held[0].continue_()

    expect(row.locator("textarea[name=diagnosis]")).to_be_visible()
