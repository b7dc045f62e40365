"""The maintenance window form of /maintenance/new/ and /maintenance/<id>/edit/.

Times are read in the user's time zone (the one the pages show). A window has a
start and an end; "repeats" turns it into a recurring window whose occurrences
last as long as the first one (end − start). Matchers are one per line:
`name=value` (equal) or `name=~regex` (the whole value matches). The form only
parses; incidents.maintenance.services.validate_window decides what is valid.
"""

import re
from datetime import UTC, datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from common import clock
from incidents.forms import DATETIME_FORMAT, DateTimeLocalInput, textarea
from incidents.models import MEDIUM_TEXT, MaintenanceWindow, Service

CUSTOM = "custom"
REPEATS = [
    ("", _("Does not repeat")),
    ("FREQ=DAILY", _("Every day")),
    ("FREQ=WEEKLY", _("Every week, on the start's weekday")),
    ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", _("Every weekday (Monday to Friday)")),
    ("FREQ=MONTHLY", _("Every month, on the start's day")),
    (CUSTOM, _("Custom rule (RRULE)")),
]
PRESETS = {value for value, _label in REPEATS if value and value != CUSTOM}
UNTIL = re.compile(r";UNTIL=(\d{8})T235959$")
# `name=~regex` or `name=value`; the name is checked by validate_window.
MATCHER_LINE = re.compile(r"^\s*([^=~\s]*)\s*(=~|=)\s*(.*?)\s*$")


class LocalDateTimeField(forms.DateTimeField):
    """A wall-clock time in the active (the user's) time zone; a time a DST change
    skips means the first instant after the gap, a repeated one its first
    occurrence (common.clock.resolve_local)."""

    widget = DateTimeLocalInput

    def __init__(self, **kwargs):
        kwargs.setdefault("input_formats", [DATETIME_FORMAT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, datetime) and timezone.is_aware(value):
            return value
        with timezone.override(UTC):  # parse only; the wall time is placed below
            parsed = super().to_python(value)
        zone = timezone.get_current_timezone()
        return clock.resolve_local(parsed.replace(tzinfo=None), zone)[0].astimezone(zone)


def parse_matchers(text: str) -> list[dict]:
    """One matcher per non-empty line: `name=value` or `name=~regex`; lines starting
    with # are comments. Raises forms.ValidationError naming each bad line."""
    found, problems = [], []
    for n, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = MATCHER_LINE.match(line)
        if match is None or not match[1]:
            problems.append(
                gettext("Line %(n)s: write name=value or name=~regex.") % {"n": n},
            )
            continue
        value = match[3]
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        found.append({"name": match[1], "value": value, "is_regex": match[2] == "=~"})
    if problems:
        raise forms.ValidationError(problems)
    return found


def matchers_text(matchers) -> str:
    """Stored matchers as the form's lines."""
    return "\n".join(
        f"{m.get('name', '')}{'=~' if m.get('is_regex') else '='}{m.get('value', '')}"
        for m in matchers or ()
    )


class WindowForm(forms.Form):
    team = forms.ChoiceField(label=_("Team"))
    title = forms.CharField(label=_("Title"), max_length=200)
    starts_at = LocalDateTimeField(label=_("Starts"))
    ends_at = LocalDateTimeField(
        label=_("Ends"),
        help_text=_("For a repeating window: when the first occurrence ends."),
    )
    repeat = forms.ChoiceField(label=_("Repeats"), choices=REPEATS, required=False)
    rule = forms.CharField(
        label=_("Custom rule"),
        required=False,
        max_length=500,
        help_text=_(
            "An RFC 5545 RRULE without DTSTART, e.g. FREQ=WEEKLY;BYDAY=TU,TH or "
            "FREQ=MONTHLY;BYDAY=1SA. Used when “Repeats” is “Custom rule”."
        ),
    )
    until = forms.DateField(
        label=_("Repeat until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Empty: keeps repeating."),
    )
    calendar = forms.ChoiceField(
        label=_("On which days"),
        choices=MaintenanceWindow.Calendar.choices,
        required=False,
        help_text=_("Only for a repeating window."),
    )
    mode = forms.ChoiceField(
        label=_("Matching alerts"),
        choices=MaintenanceWindow.Mode.choices,
        initial=MaintenanceWindow.Mode.SUPPRESS,
        widget=forms.RadioSelect,
    )
    matchers = forms.CharField(
        label=_("Alert matchers"),
        required=False,
        max_length=MEDIUM_TEXT,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "class": "font-monospace"}),
        help_text=_(
            "One per line: name=value (equal) or name=~regex (the whole value matches), "
            "e.g. alertname=DiskFull or instance=~db-[0-9]+. Every line must match. "
            "Empty: every alert of the team (or of the services chosen)."
        ),
    )
    services = forms.MultipleChoiceField(
        label=_("Services"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only alerts whose service label is one of these. None chosen: any service."),
    )
    public = forms.BooleanField(label=_("Announce on the public status page"), required=False)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=MEDIUM_TEXT, widget=textarea(3)
    )

    def __init__(self, *args, teams, window=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.window = window
        self.teams = {team.slug: team for team in teams}
        self.fields["team"].choices = [(team.slug, team.name) for team in teams]
        if window is not None:  # disabled: the posted value is ignored for this one
            self.initial["team"] = window.team.slug
            self.fields["team"].disabled = True
            self.fields["team"].help_text = _("A window stays with its team.")
        services = Service.objects.filter(team__in=list(self.teams.values())).select_related("team")
        self.services = {str(s.pk): s for s in services}
        several = len(self.teams) > 1
        self.fields["services"].choices = [
            (key, f"{s.team.name} · {s.name}" if several else s.name)
            for key, s in self.services.items()
        ]
        if not self.services:
            self.fields["services"].help_text = _("The team has no services yet.")

    @classmethod
    def initial_for(cls, window: MaintenanceWindow) -> dict:
        zone = timezone.get_current_timezone()
        ends_at = window.ends_at
        if window.recurrence:
            ends_at = window.starts_at + timedelta(minutes=window.duration_minutes or 0)
        rule, until = window.recurrence, None
        found = UNTIL.search(rule)
        if found:
            until = datetime.strptime(found[1], "%Y%m%d").date()
            rule = rule[: found.start()]
        repeat = rule if rule in PRESETS else (CUSTOM if rule else "")
        if repeat == CUSTOM:
            rule, until = window.recurrence, None
        return {
            "team": window.team.slug,
            "title": window.title,
            "starts_at": window.starts_at.astimezone(zone),
            "ends_at": ends_at.astimezone(zone) if ends_at else None,
            "repeat": repeat,
            "rule": rule if repeat == CUSTOM else "",
            "until": until,
            "calendar": window.calendar,
            "mode": window.mode,
            "matchers": matchers_text(window.matchers),
            "services": [str(s.pk) for s in window.services.all()],
            "public": window.public,
            "description": window.description,
        }

    def clean_team(self):
        return self.teams[self.cleaned_data["team"]]

    def clean_matchers(self):
        return parse_matchers(self.cleaned_data["matchers"])

    def clean_services(self):
        return [self.services[key] for key in self.cleaned_data["services"]]

    def recurrence(self) -> str:
        repeat = self.cleaned_data.get("repeat", "")
        if not repeat:
            return ""
        rule = (self.cleaned_data.get("rule") or "").strip() if repeat == CUSTOM else repeat
        until = self.cleaned_data.get("until")
        if rule and until and "UNTIL=" not in rule.upper():
            rule += f";UNTIL={until:%Y%m%d}T235959"
        return rule

    def clean(self):
        data = super().clean()
        if data.get("repeat") == CUSTOM and not (data.get("rule") or "").strip():
            self.add_error("rule", gettext("Write the rule, or choose a simpler repeat."))
        return data

    def window_fields(self) -> dict:
        """The cleaned input as the keyword arguments of window_create/window_update."""
        data = self.cleaned_data
        recurrence = self.recurrence()
        starts_at, ends_at = data["starts_at"], data["ends_at"]
        duration = None
        if recurrence:
            duration = int((ends_at - starts_at).total_seconds() // 60)
            ends_at = None
        return {
            "title": data["title"],
            "description": data.get("description", ""),
            "starts_at": starts_at,
            "ends_at": ends_at,
            "recurrence": recurrence,
            "duration_minutes": duration,
            "matchers": data.get("matchers") or [],
            "services": data.get("services") or [],
            "mode": data["mode"],
            "calendar": data.get("calendar") or "",
            "public": data.get("public", False),
        }

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        """Put validate_window's errors on the fields the user typed them in."""
        custom = self.cleaned_data.get("repeat") == CUSTOM
        where = {
            "recurrence": "rule" if custom else "repeat",
            "duration_minutes": "ends_at",
        }
        for name, messages in errors.items():
            field = where.get(name, name)
            if field in self.errors:
                continue
            self.add_error(field if field in self.fields else None, messages)


def default_times(now: datetime) -> tuple[datetime, datetime]:
    """A new window's suggested start (the next whole hour, local) and end (+2 h)."""
    zone = timezone.get_current_timezone()
    local = now.astimezone(zone)
    start = datetime.combine(local.date(), time(local.hour), tzinfo=zone) + timedelta(hours=1)
    return start, start + timedelta(hours=2)
