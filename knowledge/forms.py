"""Forms of step 6: the post-mortem editor, action items, articles, search, metrics."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common import clock
from incidents.forms import UserChoiceField, UsersChoiceField, team_people, textarea
from incidents.models import LONG_TEXT, Team
from knowledge.models import RootCause

# The timeline is pre-filled with every audit event: room for a long incident.
TIMELINE_TEXT = 100_000


class PostMortemForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    summary = forms.CharField(
        label=_("Summary"),
        widget=textarea(3),
        required=False,
        max_length=LONG_TEXT,
        help_text=_("What happened, in a few sentences."),
    )
    timeline = forms.CharField(
        label=_("Timeline"),
        widget=textarea(10),
        required=False,
        max_length=TIMELINE_TEXT,
        help_text=_("Pre-filled from the incident's record; edit freely."),
    )
    root_cause_category = forms.ChoiceField(
        label=_("Root-cause category"),
        choices=[("", "—"), *RootCause.choices],
        required=False,
    )
    root_cause = forms.CharField(
        label=_("Root cause"),
        widget=textarea(3),
        required=False,
        max_length=LONG_TEXT,
        help_text=_("E.g. “monitoring did not cover this, so the fault was found late”."),
    )
    contributing_factors = forms.CharField(
        label=_("Contributing factors"), widget=textarea(3), required=False, max_length=LONG_TEXT
    )
    lessons = forms.CharField(
        label=_("Lessons learned"), widget=textarea(3), required=False, max_length=LONG_TEXT
    )
    meeting_date = forms.DateField(
        label=_("Post-mortem meeting date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    attendees = UsersChoiceField(
        label=_("Attendees"),
        queryset=Team.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    other_attendees = forms.CharField(
        label=_("Other attendees"),
        required=False,
        max_length=300,
        help_text=_("People without an account, e.g. the vendor's engineer."),
    )

    def __init__(self, *args, incident, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attendees"].queryset = team_people(incident.team_id)

    def clean_meeting_date(self):
        value = self.cleaned_data.get("meeting_date")
        if value and value > timezone.localdate(clock.now()):
            raise forms.ValidationError(_("The meeting cannot be in the future."))
        return value

    def service_kwargs(self):
        data = dict(self.cleaned_data)
        data["expected_version"] = data.pop("version")
        return data


class ActionItemForm(forms.Form):
    text = forms.CharField(label=_("Improvement action"), max_length=1000)
    owner = UserChoiceField(label=_("Owner"), queryset=Team.objects.none())
    due_date = forms.DateField(
        label=_("Due date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args, incident, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = team_people(incident.team_id)
        self.prefix = "action"


class ArticleForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    symptoms = forms.CharField(
        label=_("Symptoms"), widget=textarea(3), required=False, max_length=LONG_TEXT
    )
    diagnosis = forms.CharField(
        label=_("Diagnosis"), widget=textarea(3), required=False, max_length=LONG_TEXT
    )
    workaround = forms.CharField(
        label=_("Workaround"), widget=textarea(3), required=False, max_length=LONG_TEXT
    )
    fix = forms.CharField(label=_("Fix"), widget=textarea(3), required=False, max_length=LONG_TEXT)
    lessons = forms.CharField(
        label=_("Lessons"), widget=textarea(3), required=False, max_length=LONG_TEXT
    )
    tags = forms.CharField(
        label=_("Tags"),
        max_length=200,
        required=False,
        help_text=_("Comma-separated, e.g. “database, connection pool”."),
    )


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Search the knowledge base"),
        max_length=200,
        required=False,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("e.g. connection pool exhausted")}
        ),
    )


class MetricsFilter(forms.Form):
    """The metrics page's query, parsed; knowledge.selectors.metrics_scope judges it."""

    start = forms.DateField(
        label=_("Received from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control form-control-sm"}),
    )
    end = forms.DateField(
        label=_("Received to"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control form-control-sm"}),
    )
    team = forms.CharField(
        label=_("Team"),
        required=False,
        max_length=50,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].widget.choices = [
            ("", _("All teams")),
            *((team.slug, team.name) for team in teams),
        ]
