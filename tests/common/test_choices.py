"""common.choices: get_FOO_display reads a dict per field and language, with
Django's answers (the label in the active language, else the stored value)."""

from functools import partialmethod

from django.utils import translation

from common.choices import _display
from escalation.models import Notice
from incidents.models import Incident, LogEntry, TimelineEvent


def test_it_replaces_djangos_display_of_every_choice_field():
    for model, field in [
        (Incident, "state"),
        (Incident, "severity"),
        (Incident, "category"),
        (LogEntry, "kind"),
        (TimelineEvent, "kind"),
        (Notice, "clock"),
    ]:
        method = model.__dict__[f"get_{field}_display"]
        assert isinstance(method, partialmethod), (model, field)
        assert method.func is _display, (model, field)


def test_it_answers_in_the_active_language():
    incident = Incident(state="in_progress", severity="P1", category="production")
    with translation.override("en"):
        assert incident.get_state_display() == "In progress"
        assert incident.get_severity_display() == "P1 high"
    with translation.override("zh-hans"):
        assert incident.get_state_display() == "处理中"
        assert incident.get_category_display() == "生产系统故障"


def test_it_answers_an_unknown_value_with_the_value():
    assert Incident(state="no-such-state").get_state_display() == "no-such-state"
    assert Incident(state=None).get_state_display() is None
