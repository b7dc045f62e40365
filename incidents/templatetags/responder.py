from datetime import UTC

from django import template
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.timesince import timeuntil
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

from common import clock, people
from incidents import fragments, timeline

register = template.Library()


# The one duration formatter (common.clock), as a filter.
register.filter("duration_text", clock.duration_text)


@register.filter
def state_label(value: str) -> str:
    """A stored state ("in_progress") as its label ("In progress")."""
    from incidents.models import State

    return State(value).label if value in State.values else value


@register.filter
def channel_label(code: str) -> str:
    """A delivery channel's name for people ("inapp" → "in-app")."""
    from escalation.models import TeamChannel

    labels = {"email": _("email"), "inapp": _("in-app"), **dict(TeamChannel.Kind.choices)}
    return str(labels.get(code, code))


# The one way pages name a person (common.people): `{{ incident.owner|who }}`,
# `{{ incident.reporter|who:_("monitoring") }}`, `{{ helpers|names }}`.
register.filter("who", people.display_name)
register.filter("names", people.display_names)


@register.simple_tag
def paused(incident):
    """A held clock's cell: since when, and whom the incident waits on."""
    return format_html(
        '<span class="clock-paused" title="{}">{} {}<small>{}</small></span>',
        incident.pause_reason,
        _("paused since"),
        dateformat.format(timezone.localtime(incident.paused_at), "m-d H:i"),
        (_("waiting on %(party)s") % {"party": incident.pause_waiting_on})
        if incident.pause_waiting_on
        else incident.pause_reason[:80],
    )


@register.simple_tag
def deadline(at, running, now):
    """A deadline cell: its countdown (responder.js keeps it ticking) and local
    time, "overdue" once past, "stopped" when its clock is not running (the
    `clock` tag says why).

    A tag rather than an included template: dashboards render it 300 times.
    """
    if not running:
        return format_html('<span class="clock-stopped">{}</span>', _("stopped"))
    if not at:
        return "—"
    overdue = at < now
    if overdue:
        text = _("overdue")
    elif isinstance(now, fragments.CountdownLater):  # a cached row: filled in per page
        text = mark_safe(f"{fragments.MARK}{at.isoformat()}{fragments.MARK}{fragments.MARK}")  # nosec B308 B703
    else:
        text = timeuntil(at, now)
    return format_html(
        '<span data-deadline="{}" class="{}"><span class="countdown">{}</span>'
        "<small>{}</small></span>",
        at.astimezone(UTC).isoformat(timespec="seconds"),
        "overdue" if overdue else "",
        text,
        dateformat.format(timezone.localtime(at), "m-d H:i"),
    )


# clock → (its deadline, whether it runs, when it stopped for good) on an Incident.
_CLOCKS = {
    "respond": ("respond_by", "respond_clock_running", "acknowledged_at"),
    "resolve": ("resolve_by", "resolve_clock_running", "restored_at"),
    "update": ("next_update_by", "update_clock_running", None),
}


@register.simple_tag(name="clock")
def clock_cell(incident, name, now):
    """The cell of one of the incident's clocks ("respond", "resolve", "update"):
    the deadline's countdown while it runs, else why it does not (DESIGN.md
    "Clocks"): met (on time or late), paused, not started yet (the update clock
    starts at acknowledge), or how the incident was closed (resolved, archived,
    cancelled)."""
    at_field, running_field, stop_field = _CLOCKS[name]
    at = getattr(incident, at_field)
    if getattr(incident, running_field):
        return deadline(at, True, now)
    stopped_at = getattr(incident, stop_field) if stop_field else None
    if stopped_at is not None:
        on_time = at is None or stopped_at <= at
        return format_html(
            '<span class="clock-stopped {}" title="{}">{}</span>',
            "clock-met" if on_time else "clock-met-late",
            dateformat.format(timezone.localtime(stopped_at), "m-d H:i"),
            pgettext("clock", "met") if on_time else pgettext("clock", "met late"),
        )
    if name != "respond" and incident.paused_at is not None:
        text = _("paused")
    elif name == "update" and incident.is_open:
        text = _("not started yet")
    else:
        # Closed: say how, a bare "stopped" leaves the reader guessing why.
        text = _CLOSED.get(incident.state) or _("stopped")
    return format_html('<span class="clock-stopped">{}</span>', text)


# How a closed incident's clock cell says why it no longer runs.
_CLOSED = {
    "resolved": pgettext_lazy("clock", "resolved"),
    "archived": pgettext_lazy("clock", "archived"),
    "cancelled": pgettext_lazy("clock", "cancelled"),
}


@register.simple_tag
def check_result(label, passed):
    """One check of a verification, "Functional test: passed", its colon as the
    reader's language writes it (full-width in Chinese)."""
    result = _("passed") if passed else _("failed")
    return _("%(label)s: %(text)s") % {"label": label, "text": result}


@register.filter
def described_by(field, ids: str):
    """The form field, its input also described by the elements `ids` (a note
    such as "needed before archiving"), its help text still linked."""
    widget = field.field.widget
    own = f"{field.auto_id}_helptext" if field.help_text else ""
    widget.attrs["aria-describedby"] = " ".join(part for part in (own, ids) if part)
    return field


@register.filter
def event_text(event) -> str:
    """A timeline event's text in the reader's language (incidents.timeline.describe)."""
    return timeline.describe(event)


# The workspace's action buttons (top of the page), by the action's value.
_BUTTONS = {
    "acknowledge": gettext_lazy("Acknowledge"),
    "grade": gettext_lazy("Grade"),
    "assign": gettext_lazy("Assign"),
    "log": gettext_lazy("Add to the log"),
    "resolve": gettext_lazy("Resolve"),
    "verify": gettext_lazy("Verify"),
    "notify-users": gettext_lazy("Notify users"),
    "feedback": gettext_lazy("Record feedback"),
    "archive": gettext_lazy("Archive"),
    "reopen": gettext_lazy("Reopen"),
    "cancel": gettext_lazy("Cancel"),
    "pause": gettext_lazy("Pause the SLA"),
    "resume": gettext_lazy("Resume the SLA"),
}


@register.filter
def action_button(action: str) -> str:
    """An action's button text on the workspace ("notify-users" → "Notify users")."""
    label = _BUTTONS.get(action)
    return str(label) if label is not None else ""


@register.simple_tag(takes_context=True)
def action_box(context, key, action, summary, form=None, box_id="", summary_id=""):
    """An action's form behind its summary, on the workspace.

    Drawn when it opens (static/js/workspace.js fetches data-form), or with the
    page when `form` is given (a refused post, ?open=key). Without JavaScript the
    link asks for the page with the form drawn. Reads `incident` (and for the
    status page's box `status_page`) from the page. In Python: a workspace shows
    up to a dozen boxes, and as template includes they were a tenth of its
    rendering.
    """
    incident = context["incident"]
    if key == "publish":
        query = f"last_update={context['status_page']['last_update']}"
    else:
        query = f"version={incident.version}"
    if form:
        name = "incidents/_status_form.html" if key == "publish" else "incidents/_action_form.html"
        with context.push(key=key, action=action, form=form):
            body = context.template.engine.get_template(name).render(context)
    else:
        body = format_html(
            '<a class="small" href="?open={}#form-{}">{}</a>', key, key, _("Open the form")
        )
    return format_html(
        '<details class="action-box mt-2" data-action="{}" id="{}" data-form="{}?{}"{}>\n'
        '  <summary class="fw-semibold"{}>{}</summary>\n'
        '  <div class="action-body">{}</div>\n'
        "</details>",
        key,
        box_id or f"action-{key}",
        reverse("incident-form", args=[incident.pk, action]),
        query,
        mark_safe(' data-loaded="1" open') if form else "",  # nosec B308 B703: a constant
        format_html(' id="{}"', summary_id) if summary_id else "",
        summary,
        body,
    )
