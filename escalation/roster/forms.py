"""The duty roster's forms: a rotation, an override, a handover note.

Times are read in the team's time zone (the roster views activate it)."""

import re
from datetime import UTC, datetime, time

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from common import clock as wall
from escalation.roster.models import ALL_WEEKDAYS, Layer
from incidents.forms import datetime_field, textarea

User = get_user_model()

WEEKDAYS = [
    ("0", _("Mon")),
    ("1", _("Tue")),
    ("2", _("Wed")),
    ("3", _("Thu")),
    ("4", _("Fri")),
    ("5", _("Sat")),
    ("6", _("Sun")),
]


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%H:%M")


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class RotationForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    layer = forms.ChoiceField(label=_("Layer"), choices=Layer.choices)
    participants = forms.CharField(
        label=_("Participants, in order"),
        widget=textarea(4),
        max_length=2000,
        help_text=_(
            "Usernames, one per line or separated by commas; the first takes the first shift."
        ),
    )
    shift_days = forms.IntegerField(
        label=_("Shift length (days)"),
        min_value=1,
        max_value=28,
        initial=7,
        help_text=_("1: daily, 7: weekly, or any number of days up to 28."),
    )
    handoff_time = forms.TimeField(label=_("Handoff time"), initial=time(9, 0), widget=TimeInput())
    start_date = forms.DateField(label=_("Start date"), widget=DateInput())
    weekdays = forms.MultipleChoiceField(
        label=_("Weekdays covered"),
        choices=WEEKDAYS,
        initial=list(ALL_WEEKDAYS),
        widget=forms.CheckboxSelectMultiple,
    )
    day_start = forms.TimeField(
        label=_("Daily from"), required=False, widget=TimeInput(), help_text=_("Empty: all day.")
    )
    day_end = forms.TimeField(
        label=_("Daily until"),
        required=False,
        widget=TimeInput(),
        help_text=_(
            "Before “daily from”: an overnight shift (e.g. 18:00 until 09:00); equal to "
            "it: 24 hours from then."
        ),
    )

    def clean_participants(self):
        names = [n for n in re.split(r"[\s,，、]+", self.cleaned_data["participants"]) if n]
        if not names:
            raise forms.ValidationError(_("Name at least one participant."))
        if len(names) > 50:
            raise forms.ValidationError(_("At most 50 participants."))
        users = {u.username: u for u in User.objects.filter(username__in=names)}
        unknown = [n for n in names if n not in users]
        if unknown:
            raise forms.ValidationError(
                _("No such user: %(names)s.") % {"names": ", ".join(unknown)}
            )
        return [users[n] for n in names]

    @classmethod
    def initial_for(cls, rotation) -> dict:
        return {
            "name": rotation.name,
            "layer": rotation.layer,
            "participants": "\n".join(
                m.user.username for m in rotation.members.select_related("user")
            ),
            "shift_days": rotation.shift_days,
            "handoff_time": rotation.handoff_time,
            "start_date": rotation.start_date,
            "weekdays": list(rotation.weekdays),
            "day_start": rotation.day_start,
            "day_end": rotation.day_end,
        }


class WallClockField(forms.DateTimeField):
    """A local date and time in the active time zone (the team's), accepted even in
    the hour a DST change repeats or skips: a repeated time means its first
    occurrence, a skipped one the first instant after the gap. `resolved` says
    which, so the form can tell the user what it did."""

    resolved = ""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        with timezone.override(UTC):  # parse only: the wall time is read below
            aware = super().to_python(value)
        if isinstance(value, datetime) and timezone.is_aware(value):
            return value
        zone = timezone.get_current_timezone()
        instant, self.resolved = wall.resolve_local(aware.replace(tzinfo=None), zone)
        return instant.astimezone(zone)


def wall_clock_field(label):
    field = datetime_field(label, required=True)
    return WallClockField(
        label=label, required=True, widget=field.widget, input_formats=field.input_formats
    )


class OverrideForm(forms.Form):
    layer = forms.ChoiceField(label=_("Layer"), choices=Layer.choices)
    user = forms.ChoiceField(label=_("Who is on call instead"))
    start = wall_clock_field(pgettext_lazy("an override's start", "From"))
    end = wall_clock_field(pgettext_lazy("an override's end", "Until"))
    note = forms.CharField(label=_("Note"), required=False, max_length=200)

    def __init__(self, *args, people, **kwargs):
        kwargs.setdefault("auto_id", "override_%s")  # shares the page with the note form
        super().__init__(*args, **kwargs)
        self.people = {u.username: u for u in people}
        self.fields["user"].choices = [
            (u.username, u.get_full_name() or u.username) for u in people
        ]

    def clean_user(self):
        return self.people[self.cleaned_data["user"]]

    def adjustments(self) -> list[str]:
        """What was made of a time in an hour a DST change repeats or skips."""
        found = []
        for name in ("start", "end"):
            field, value = self.fields[name], self.cleaned_data.get(name)
            if value is None or not field.resolved:
                continue
            local = f"{value:%Y-%m-%d %H:%M %Z}"
            if field.resolved == "repeated":
                text = _(
                    "%(field)s falls in the hour the clocks repeat: taken as its first "
                    "occurrence, %(at)s."
                )
            else:
                text = _(
                    "%(field)s does not exist (the clocks skip that hour): taken as "
                    "%(at)s, the first instant after the gap."
                )
            found.append(text % {"field": field.label, "at": local})
        return found


class HandoverNoteForm(forms.Form):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "note_%s")
        super().__init__(*args, **kwargs)

    layer = forms.ChoiceField(label=_("Layer"), choices=Layer.choices, widget=forms.HiddenInput)
    text = forms.CharField(
        label=_("Handover note"),
        max_length=2000,
        widget=textarea(3),
        help_text=_("Goes to whoever comes on call next, with the list of open incidents."),
    )
