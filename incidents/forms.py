"""Web forms for each step of the process.

Forms only parse and label input; every rule lives in incidents.services,
which the views call with `form.service_kwargs()`. Forms that act on an
incident carry its `version`, so a form opened before someone else's change
is refused as stale (the view shows a conflict and keeps the typed text).
"""

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from common import clock
from incidents import selectors, services
from incidents.models import (
    LONG_TEXT,
    MEDIUM_TEXT,
    SUMMARY_TEXT,
    Category,
    Incident,
    LogEntry,
    Service,
    Severity,
    Source,
    State,
    Team,
    UserProfile,
)

User = get_user_model()

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    """The browser's date-and-time picker; values are in the user's time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format=DATETIME_FORMAT)


def datetime_field(label, *, required=False, help_text=""):
    return forms.DateTimeField(
        label=label,
        required=required,
        help_text=help_text,
        widget=DateTimeLocalInput(),
        input_formats=[DATETIME_FORMAT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
    )


def textarea(rows=3):
    return forms.Textarea(attrs={"rows": rows})


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        full = obj.get_full_name()
        return f"{full} ({obj.username})" if full else obj.username


class UsersChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        full = obj.get_full_name()
        return f"{full} ({obj.username})" if full else obj.username


def team_people(team_id, also=()):
    """Active members and tech leads of a team: who can own or help; `also`
    adds people by id (e.g. a helper from another team who already helps)."""
    return (
        User.objects.filter(is_active=True)
        .filter(Q(teams=team_id) | Q(led_teams=team_id) | Q(pk__in=list(also)))
        .distinct()
        .order_by("username")
    )


# ---------------------------------------------------------------- step 1


class IntakeForm(forms.Form):
    """Step 1: what on-duty staff record at once."""

    title = forms.CharField(
        label=_("Title"),
        max_length=200,
        help_text=_("One line: what is broken, where. E.g. “Order service returns HTTP 500”."),
    )
    symptoms = forms.CharField(
        label=_("Initial symptoms"),
        max_length=LONG_TEXT,
        widget=textarea(4),
        help_text=_("What users or monitoring see: error messages, pages, times."),
    )
    severity = forms.ChoiceField(
        label=_("Level (your first judgement)"),
        choices=Severity.choices,
        widget=forms.RadioSelect,
        help_text=_("The tech lead confirms or changes it when grading."),
    )
    impact_scope = forms.CharField(
        label=_("Impact scope"),
        max_length=MEDIUM_TEXT,
        widget=textarea(2),
        help_text=_("E.g. “checkout unusable”, “reports module slow”."),
    )
    affected_users = forms.IntegerField(
        label=_("Affected users (estimate)"), min_value=0, initial=0
    )
    source = forms.ChoiceField(label=_("Source"), choices=Source.choices)
    category = forms.ChoiceField(label=_("Category"), choices=Category.choices)
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none())
    service = forms.ModelChoiceField(
        label=_("Service or module"), queryset=Service.objects.none(), required=False
    )
    received_at = datetime_field(
        _("Received at"),
        required=True,
        help_text=_("When the problem reached us; the deadlines count from here."),
    )
    occurred_at = datetime_field(_("Occurred at"), help_text=_("If known."))
    urgent = forms.BooleanField(
        label=_("Urgent — I phoned the tech lead"),
        required=False,
        help_text=_(
            "For a whole system down: phone the tech lead now. Responder also pages "
            "the tech leads through every channel."
        ),
    )
    phone_call_to = forms.CharField(label=_("Whom did you phone?"), max_length=100, required=False)
    phone_call_at = datetime_field(_("When did you phone?"), help_text=_("Empty means now."))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        teams = selectors.visible_teams(user)
        self.fields["team"].queryset = teams
        self.fields["service"].queryset = Service.objects.filter(team__in=teams).select_related(
            "team"
        )
        if not self.is_bound:
            # The team is rarely a choice: the only one the user sees, else their own.
            own = selectors.default_team(user)
            only = list(teams[:2])
            team = only[0] if len(only) == 1 else own
            if team is not None:
                self.initial.setdefault("team", team.pk)
            self.initial.setdefault("received_at", clock.now())
            self.initial.setdefault("severity", Severity.P2)
            self.initial.setdefault("source", Source.USER_COMPLAINT)
            self.initial.setdefault("affected_users", 0)

    def clean(self):
        data = super().clean()
        if not data.get("urgent"):
            # The phone fields are hidden (and ignored) unless "urgent" is ticked:
            # what a browser lets the user leave in them must not block filing.
            for name in ("phone_call_to", "phone_call_at"):
                data.pop(name, None)
        elif not (data.get("phone_call_to") or "").strip():
            self.add_error(
                "phone_call_to", _("An urgent incident needs the name of the tech lead you phoned.")
            )
        # The times' rules (incidents.services) in the same round as every other
        # error, for the times that could be read.
        if data.get("received_at"):
            problems = services.intake_time_errors(
                received_at=data["received_at"],
                occurred_at=data.get("occurred_at"),
                phone_call_at=data.get("phone_call_at"),
                now=clock.now(),
            )
            for name, messages in problems.items():
                if name not in self._errors:
                    self.add_error(name, messages)
        return data

    def service_kwargs(self):
        d = self.cleaned_data
        return {
            "title": d["title"],
            "symptoms": d["symptoms"],
            "severity": d["severity"],
            "source": d["source"],
            "category": d["category"],
            "impact_scope": d["impact_scope"],
            "affected_users": d["affected_users"] or 0,
            "team": d["team"],
            "service": d.get("service"),
            "received_at": d["received_at"],
            "occurred_at": d.get("occurred_at"),
            "urgent": bool(d.get("urgent")),
            "phone_call_to": (d.get("phone_call_to") or "") if d.get("urgent") else "",
            "phone_call_at": d.get("phone_call_at") if d.get("urgent") else None,
        }


# ---------------------------------------------------------------- actions on an incident


class IncidentForm(forms.Form):
    """A form acting on one incident; `version` is the copy the user saw."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, incident: Incident, **kwargs):
        self.incident = incident
        # Several action forms share a page: give each its own element ids.
        kwargs.setdefault("auto_id", f"id_{type(self).__name__.removesuffix('Form').lower()}_%s")
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["version"] = incident.version

    def service_kwargs(self):
        data = dict(self.cleaned_data)
        data["expected_version"] = data.pop("version")
        return data


class EditForm(IncidentForm):
    """Correct the intake details. Only a tech lead may move `received_at`."""

    title = IntakeForm.base_fields["title"]
    symptoms = IntakeForm.base_fields["symptoms"]
    impact_scope = IntakeForm.base_fields["impact_scope"]
    affected_users = forms.IntegerField(label=_("Affected users"), min_value=0)
    source = IntakeForm.base_fields["source"]
    category = IntakeForm.base_fields["category"]
    received_at = datetime_field(_("Received at"), required=True)
    occurred_at = datetime_field(_("Occurred at"))

    def __init__(self, *args, incident: Incident, may_move_received_at: bool, **kwargs):
        super().__init__(*args, incident=incident, **kwargs)
        for name in self.fields:
            if name != "version":
                self.initial.setdefault(name, getattr(incident, name))
        if not may_move_received_at:
            del self.fields["received_at"]

    def service_kwargs(self):
        # Only what the user changed: a time shown to the minute must not
        # rewrite the stored seconds (and move every deadline).
        changed = {f: self.cleaned_data[f] for f in self.changed_data if f != "version"}
        return {"expected_version": self.cleaned_data["version"], **changed}


class AcknowledgeForm(IncidentForm):
    note = forms.CharField(label=_("Note"), required=False, max_length=500)


class GradeForm(IncidentForm):
    severity = forms.ChoiceField(label=_("Level"), choices=Severity.choices)
    diagnosis = forms.CharField(
        label=_("Diagnosis"),
        max_length=LONG_TEXT,
        widget=textarea(3),
        help_text=_("What is wrong and why you chose this level."),
    )
    reproduced = forms.NullBooleanField(
        label=_("Reproduced in a test environment?"),
        required=False,
        widget=forms.Select(
            choices=[("unknown", _("Not tried")), ("true", _("Yes")), ("false", _("No"))]
        ),
    )
    findings = forms.CharField(
        label=_("Logs and monitoring findings"),
        max_length=LONG_TEXT,
        widget=textarea(2),
        required=False,
        help_text=_("CPU, memory, response times, error logs."),
    )
    impact_assessment = forms.CharField(
        label=_("Impact assessment"),
        max_length=LONG_TEXT,
        widget=textarea(2),
        required=False,
        help_text=_("Core business? How many users? Could it spread?"),
    )

    def __init__(self, *args, incident, **kwargs):
        super().__init__(*args, incident=incident, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("severity", incident.severity)


class AssignForm(IncidentForm):
    owner = UserChoiceField(label=_("Owner"), queryset=User.objects.none())
    helpers = UsersChoiceField(
        label=_("Helpers"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    goal = forms.CharField(
        label=_("Goal"),
        required=False,
        max_length=500,
        help_text=_("Empty: the level's goal, e.g. “P0: restore within 2 h …”."),
    )
    time_limit = datetime_field(_("Time limit"), help_text=_("Empty: the resolve deadline."))
    contact_name = forms.CharField(label=_("External contact"), required=False, max_length=100)
    contact_organisation = forms.CharField(label=_("Organisation"), required=False, max_length=100)
    contact_details = forms.CharField(
        label=_("Phone, email or ticket"), required=False, max_length=200
    )
    contact_owes = forms.CharField(
        label=_("What they owe us"), required=False, max_length=MEDIUM_TEXT, widget=textarea(2)
    )

    CONTACT_FIELDS = ("contact_name", "contact_organisation", "contact_details", "contact_owes")

    def __init__(self, *args, incident, people=None, **kwargs):
        super().__init__(*args, incident=incident, **kwargs)
        helper_ids = [u.pk for u in incident.helpers.all()] if incident.owner_id else []
        if people is None:
            # Who already works on it stays choosable, even from another team.
            people = team_people(incident.team_id, also=[incident.owner_id, *helper_ids])
        self.fields["owner"].queryset = people
        self.fields["helpers"].queryset = people
        if not self.is_bound and incident.owner_id:
            # A reassignment opens with what is there: saving it to change only the
            # owner must not drop the helpers or replace the goal and time limit.
            self.initial.setdefault("owner", incident.owner_id)
            self.initial.setdefault("helpers", helper_ids)
            self.initial.setdefault("goal", incident.goal)
            self.initial.setdefault("time_limit", incident.time_limit)
        kept = list(incident.external_contacts.order_by("added_at", "id"))
        if kept:
            self.fields["contact_name"].help_text = _(
                "Kept: %(contacts)s. Fill in these fields to add another contact."
            ) % {
                "contacts": "; ".join(
                    f"{c.name} ({c.organisation})" if c.organisation else c.name for c in kept
                )
            }

    def clean(self):
        data = super().clean()
        if any(data.get(f) for f in self.CONTACT_FIELDS[1:]) and not data.get("contact_name"):
            self.add_error("contact_name", _("Give the contact's name."))
        return data

    def service_kwargs(self):
        d = self.cleaned_data
        contacts = []
        if d.get("contact_name"):
            contacts.append(
                {
                    "name": d["contact_name"],
                    "organisation": d.get("contact_organisation", ""),
                    "contact": d.get("contact_details", ""),
                    "owes": d.get("contact_owes", ""),
                }
            )
        time_limit = d.get("time_limit")
        stored = self.incident.time_limit
        if time_limit and stored and time_limit == stored.replace(second=0, microsecond=0):
            # The form shows minutes: the time limit as it opened keeps its seconds.
            time_limit = stored
        return {
            "expected_version": d["version"],
            "owner": d["owner"],
            "helpers": list(d.get("helpers") or []),
            "goal": d.get("goal", ""),
            "time_limit": time_limit,
            "external_contacts": contacts,
        }


class LogForm(IncidentForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=LogEntry.Kind.choices)
    text = forms.CharField(
        label=_("What happened"),
        max_length=LONG_TEXT,
        widget=textarea(3),
        help_text=_("E.g. “ran the database restart script”, “switched to the standby”."),
    )
    happened_at = datetime_field(
        _("Happened at"), help_text=_("Empty means now; earlier if you log after the fact.")
    )

    def __init__(self, *args, incident, **kwargs):
        super().__init__(*args, incident=incident, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("kind", LogEntry.Kind.PROGRESS)


class ResolveForm(IncidentForm):
    workaround = forms.CharField(
        label=_("Temporary workaround"),
        required=False,
        max_length=LONG_TEXT,
        widget=textarea(2),
        help_text=_("Restart, failover, rollback …"),
    )
    fix = forms.CharField(
        label=_("Long-term fix"),
        required=False,
        max_length=LONG_TEXT,
        widget=textarea(2),
        help_text=_("Code or architecture change; may follow later."),
    )

    def __init__(self, *args, incident, **kwargs):
        super().__init__(*args, incident=incident, **kwargs)
        if not self.is_bound:
            # The owner logged them already: start from the latest of each.
            for kind in (LogEntry.Kind.WORKAROUND, LogEntry.Kind.FIX):
                latest = (
                    incident.log_entries.filter(kind=kind)
                    .order_by("-happened_at", "-id")
                    .values_list("text", flat=True)
                    .first()
                )
                if latest:
                    self.initial.setdefault(kind.value, latest)


PASS_FAIL = [("passed", _("Passed")), ("failed", _("Failed"))]


class VerifyForm(IncidentForm):
    """Step 5: three checks, each passed or failed with its evidence."""

    functional = forms.ChoiceField(
        label=_("Functional test: repeat the original steps"),
        choices=PASS_FAIL,
        widget=forms.RadioSelect,
    )
    functional_evidence = forms.CharField(
        label=_("Functional test evidence"),
        required=False,
        max_length=LONG_TEXT,
        widget=textarea(2),
    )
    regression = forms.ChoiceField(
        label=_("Regression test: nothing else broke"),
        choices=PASS_FAIL,
        widget=forms.RadioSelect,
    )
    regression_evidence = forms.CharField(
        label=_("Regression test evidence"),
        required=False,
        max_length=LONG_TEXT,
        widget=textarea(2),
    )
    monitoring = forms.ChoiceField(
        label=_("Monitoring: CPU, memory, success rate normal"),
        choices=PASS_FAIL,
        widget=forms.RadioSelect,
    )
    monitoring_evidence = forms.CharField(
        label=_("Monitoring evidence"),
        required=False,
        max_length=LONG_TEXT,
        widget=textarea(2),
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, max_length=LONG_TEXT, widget=textarea(2)
    )

    def clean(self):
        data = super().clean()
        for check in ("functional", "regression", "monitoring"):
            if data.get(check) == "failed" and not (data.get(f"{check}_evidence") or "").strip():
                self.add_error(f"{check}_evidence", _("Say what failed, for the owner."))
        return data

    def service_kwargs(self):
        d = self.cleaned_data
        return {
            "expected_version": d["version"],
            "functional_ok": d["functional"] == "passed",
            "regression_ok": d["regression"] == "passed",
            "monitoring_ok": d["monitoring"] == "passed",
            "functional_evidence": d.get("functional_evidence", ""),
            "regression_evidence": d.get("regression_evidence", ""),
            "monitoring_evidence": d.get("monitoring_evidence", ""),
            "notes": d.get("notes", ""),
        }


class NotifyUsersForm(IncidentForm):
    message = forms.CharField(
        label=_("What the users were told"),
        max_length=LONG_TEXT,
        widget=textarea(2),
        help_text=_("E.g. “The problem you reported is fixed.”"),
    )


class FeedbackForm(IncidentForm):
    text = forms.CharField(label=_("Users' feedback"), max_length=LONG_TEXT, widget=textarea(2))
    satisfied = forms.NullBooleanField(
        label=_("Satisfied?"),
        required=False,
        widget=forms.Select(
            choices=[("unknown", _("Not said")), ("true", _("Yes")), ("false", _("No"))]
        ),
    )


class ArchiveForm(IncidentForm):
    summary = forms.CharField(
        label=_("Archive summary"),
        max_length=SUMMARY_TEXT,
        widget=textarea(4),
        help_text=_("Symptoms, diagnosis, solution, time taken and lessons learned."),
    )


class ReasonForm(IncidentForm):
    reason = forms.CharField(label=_("Reason"), max_length=LONG_TEXT, widget=textarea(2))


class CancelForm(ReasonForm):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=LONG_TEXT,
        widget=textarea(2),
        help_text=_("Duplicate of which incident, or why it is a false alarm."),
    )


class PauseForm(IncidentForm):
    reason = forms.CharField(
        label=_("What are you waiting for?"),
        max_length=MEDIUM_TEXT,
        widget=textarea(2),
        help_text=_(
            "The resolve and update clocks stop until you resume; the response clock does not."
        ),
    )
    waiting_on = forms.CharField(
        label=_("Waiting on"),
        required=False,
        max_length=200,
        help_text=_("The vendor, customer or other team, e.g. “Huawei support, ticket 4471”."),
    )


class ResumeForm(IncidentForm):
    """No fields: resuming needs no input."""


# ---------------------------------------------------------------- list filters


def _small_widgets(form):
    """Compact Bootstrap classes for the filter bars (rendered without crispy)."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            continue
        css = (
            "form-select form-select-sm"
            if isinstance(widget, forms.Select)
            else ("form-control form-control-sm")
        )
        widget.attrs["class"] = css


class _TeamChoices:
    """For a list's filter form with a team list (its field `team`)."""

    @cached_property
    def team_choices(self) -> tuple[tuple[str, str], ...]:
        """The teams offered as (slug, name), read once: the team list then draws
        from them, and the page keeps its drawn filters by them."""
        field = self.fields["team"]
        pairs = tuple(field.queryset.values_list("slug", "name"))
        field.widget.choices = [("", field.empty_label), *pairs]
        return pairs


class DashboardFilter(_TeamChoices, forms.Form):
    team = forms.ModelChoiceField(
        label=_("Team"), queryset=Team.objects.none(), required=False, to_field_name="slug"
    )
    severity = forms.ChoiceField(
        label=_("Level"), choices=[("", _("All levels")), *Severity.choices], required=False
    )
    state = forms.ChoiceField(label=_("State"), required=False)
    owner = forms.CharField(label=_("Owner (username)"), required=False, max_length=150)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)

    def __init__(self, *args, teams, states=State.choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams
        self.fields["team"].empty_label = _("All teams")
        self.fields["state"].choices = [("", _("All states")), *states]
        _small_widgets(self)

    def filter_kwargs(self) -> dict:
        """The chosen filters as selectors.filter_incidents' arguments; none when
        the query string does not parse (the page then lists every open incident)."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "teams": [data["team"]] if data["team"] else [],
            "severities": [data["severity"]] if data["severity"] else [],
            "states": [data["state"]] if data["state"] else [],
            "owner": data["owner"],
            "overdue": True if data["overdue"] else None,  # unticked: overdue or not
        }


class ArchiveFilter(_TeamChoices, forms.Form):
    date_from = forms.DateField(
        label=_("Received from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("Received to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    team = forms.ModelChoiceField(
        label=_("Team"), queryset=Team.objects.none(), required=False, to_field_name="slug"
    )
    severity = forms.ChoiceField(
        label=_("Level"), choices=[("", _("All levels")), *Severity.choices], required=False
    )
    category = forms.ChoiceField(
        label=_("Category"), choices=[("", _("All categories")), *Category.choices], required=False
    )
    state = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=[
            ("", _("Resolved and archived")),
            (State.RESOLVED, State.RESOLVED.label),
            (State.ARCHIVED, State.ARCHIVED.label),
        ],
    )
    q = forms.CharField(label=_("Search"), required=False, max_length=200)

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams
        self.fields["team"].empty_label = _("All teams")
        _small_widgets(self)

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return data


# ---------------------------------------------------------------- the user's own settings

COMMON_ZONES = ["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore", "UTC"]


def zone_choices():
    import zoneinfo

    others = sorted(z for z in zoneinfo.available_timezones() if z not in COMMON_ZONES)
    return [("", _("Site default")), *((z, z) for z in COMMON_ZONES), *((z, z) for z in others)]


class ProfileForm(forms.ModelForm):
    class Meta:
        model = UserProfile
        fields = ["language", "time_zone", "email_notices", "inapp_notices", "phone"]
        labels = {
            "language": _("Language"),
            "time_zone": _("Time zone"),
            "email_notices": _("Escalation notices by email"),
            "inapp_notices": _("Escalation notices in Responder"),
            "phone": _("Phone"),
        }
        help_texts = {"language": _("Empty: your browser's language.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"] = forms.ChoiceField(
            label=_("Time zone"), choices=zone_choices(), required=False
        )
        self.fields["language"].choices = [("", _("Browser's language"))] + [
            c for c in self.fields["language"].choices if c[0]
        ]
