"""API shapes. Serializers check types and shapes only; every rule is a service's."""

from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common import clock
from escalation.models import Delivery, Notice
from incidents import timeline
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
    TimelineEvent,
)

User = get_user_model()
MAX_USERS = 2**31 - 1
# "+" not "*": blank values never reach validators, and with "*" the schema's
# allow_blank oneOf would match "" twice.
NO_NUL = RegexValidator(r"^[^\x00]+$", "Null characters are not allowed.")


class Text(serializers.CharField):
    """A JSON string, nothing else (DRF would turn 12 into "12"); no NUL characters."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(NO_NUL)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class Flag(serializers.BooleanField):
    """A JSON true or false, nothing else (DRF would accept "yes", 1, "on")."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class Count(serializers.IntegerField):
    """A JSON integer, nothing else (DRF would accept "12" and 12.0)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class Choice(serializers.ChoiceField):
    """One of the choices, given as a JSON string."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class Moment(serializers.DateTimeField):
    """An ISO 8601 date-time string."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", format="ISO 8601")
        return super().to_internal_value(data)


class Instant(Moment):
    """An ISO 8601 date-time with its offset (or Z): a local time alone could be
    any of several instants, so it is refused, not guessed."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            try:
                parsed = parse_datetime(data)
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                raise serializers.ValidationError(
                    _("Give the time with its offset from UTC, e.g. 2026-11-26T09:00:00+08:00.")
                )
        return super().to_internal_value(data)


class UsernameField(serializers.SlugRelatedField):
    """A user named by username; only active users can be named."""

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", User.objects.filter(is_active=True))
        super().__init__(slug_field="username", **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class IncidentSerializer(serializers.ModelSerializer):
    """An incident as the API returns it."""

    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    reporter = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    helpers = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)
    overdue = serializers.SerializerMethodField(
        help_text="Clocks past their deadline now: respond, resolve, update."
    )

    class Meta:
        model = Incident
        fields = [
            "id",
            "number",
            "title",
            "symptoms",
            "impact_scope",
            "affected_users",
            "source",
            "category",
            "team",
            "service",
            "reporter",
            "received_at",
            "occurred_at",
            "initial_severity",
            "severity",
            "urgent",
            "phone_call_made",
            "phone_call_to",
            "phone_call_at",
            "state",
            "owner",
            "helpers",
            "goal",
            "time_limit",
            "respond_by",
            "resolve_by",
            "next_update_by",
            "overdue",
            "paused",
            "paused_since",
            "pause_reason",
            "waiting_on",
            "acknowledged_at",
            "assigned_at",
            "started_at",
            "resolution_submitted_at",
            "restored_at",
            "resolved_at",
            "archived_at",
            "cancelled_at",
            "cancel_reason",
            "archive_summary",
            "reopen_count",
            "recurrence_of",
            "alert_count",
            "event_count",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "recurrence_of": {
                "help_text": "The resolved incident this one repeats (its group fired again)."
            },
            "alert_count": {"help_text": "Distinct monitoring alerts in this incident."},
            "event_count": {"help_text": "Webhook events of those alerts."},
        }

    paused = serializers.BooleanField(
        read_only=True,
        help_text="The resolve and update clocks are held: it waits on someone outside the team.",
    )
    paused_since = serializers.DateTimeField(
        source="paused_at", read_only=True, allow_null=True, help_text="Null when not paused."
    )
    waiting_on = serializers.CharField(source="pause_waiting_on", read_only=True)

    @extend_schema_field(
        serializers.ListField(child=serializers.ChoiceField(["respond", "resolve", "update"]))
    )
    def get_overdue(self, incident: Incident) -> list[str]:
        return incident.overdue_clocks(self.context.get("now") or clock.now())


class IncidentSummarySerializer(IncidentSerializer):
    """An incident in a list: what triage needs; GET the incident for the rest."""

    class Meta(IncidentSerializer.Meta):
        fields = [
            "id",
            "number",
            "title",
            "state",
            "severity",
            "initial_severity",
            "source",
            "category",
            "team",
            "service",
            "reporter",
            "owner",
            "helpers",
            "affected_users",
            "urgent",
            "received_at",
            "respond_by",
            "resolve_by",
            "next_update_by",
            "overdue",
            "paused",
            "paused_since",
            "acknowledged_at",
            "resolved_at",
            "reopen_count",
            "recurrence_of",
            "alert_count",
            "event_count",
            "version",
            "updated_at",
        ]
        read_only_fields = fields


class IncidentDetailSerializer(IncidentSerializer):
    """One incident, with what the requesting user may do with it now."""

    allowed_actions = serializers.SerializerMethodField(
        help_text="Process actions the requesting user may take in the current state."
    )

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "allowed_actions"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_allowed_actions(self, incident: Incident) -> list[str]:
        from incidents.services import available_actions

        request = self.context.get("request")
        if request is None:
            return []
        return [a.value for a in available_actions(request.user, incident)]


class IncidentCreateSerializer(serializers.Serializer):
    """Intake (step 1). `received_at` defaults to now; never in the future."""

    title = Text(max_length=200)
    symptoms = Text(max_length=LONG_TEXT)
    severity = Choice(Severity.choices, help_text="Initial level, P0–P3.")
    source = Choice(Source.choices)
    impact_scope = Text(max_length=MEDIUM_TEXT)
    affected_users = Count(min_value=0, max_value=MAX_USERS, default=0)
    received_at = Moment(required=False, allow_null=True)
    occurred_at = Moment(required=False, allow_null=True)
    team = Text(
        max_length=50,
        min_length=1,
        required=False,
        allow_null=True,
        help_text="Team slug; defaults to the reporter's team.",
    )

    def validate_team(self, slug):
        if slug is None:
            return None
        team = Team.objects.filter(slug=slug).first()
        if team is None:
            raise serializers.ValidationError(_("No team %(slug)s.") % {"slug": slug})
        return team

    service = Text(
        max_length=50, required=False, allow_blank=True, help_text="Service slug of the team."
    )
    category = Choice(Category.choices, default=Category.PRODUCTION)
    urgent = Flag(default=False)
    phone_call_to = Text(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="Whom you phoned about an urgent incident (records the call).",
    )
    phone_call_at = Moment(required=False, allow_null=True)


class IncidentUpdateSerializer(serializers.Serializer):
    """Corrections to intake details (PATCH). Everything else is read-only."""

    title = Text(max_length=200, required=False)
    symptoms = Text(max_length=LONG_TEXT, required=False)
    impact_scope = Text(max_length=MEDIUM_TEXT, required=False)
    affected_users = Count(min_value=0, max_value=MAX_USERS, required=False)
    source = Choice(Source.choices, required=False)
    category = Choice(Category.choices, required=False)
    service = Text(max_length=50, required=False, allow_blank=True)
    received_at = Moment(required=False)
    occurred_at = Moment(required=False, allow_null=True)

    def validate(self, attrs):
        read_only = sorted(set(self.initial_data) - set(self.fields)) if self.initial_data else []
        if read_only:
            raise serializers.ValidationError(
                {f: [_("This field is read-only or unknown.")] for f in read_only}
            )
        return attrs


def resolve_service(team: Team, slug: str | None):
    """A service slug of `team` → Service; '' → None; unknown → 400."""
    if not slug:
        return None
    service = Service.objects.filter(team=team, slug=slug).first()
    if service is None:
        raise serializers.ValidationError(
            {
                "service": [
                    _("Team %(team)s has no service %(slug)s.") % {"team": team.slug, "slug": slug}
                ]
            }
        )
    return service


class AcknowledgeSerializer(serializers.Serializer):
    note = Text(max_length=MEDIUM_TEXT, required=False, allow_blank=True, default="")


class GradeSerializer(serializers.Serializer):
    severity = Choice(Severity.choices)
    diagnosis = Text(max_length=LONG_TEXT)
    reproduced = Flag(required=False, allow_null=True, default=None)
    findings = Text(max_length=LONG_TEXT, required=False, allow_blank=True, default="")
    impact_assessment = Text(max_length=LONG_TEXT, required=False, allow_blank=True, default="")


class ExternalContactSerializer(serializers.Serializer):
    name = Text(max_length=100)
    organisation = Text(max_length=100, required=False, allow_blank=True)
    contact = Text(max_length=200, required=False, allow_blank=True)
    owes = Text(max_length=MEDIUM_TEXT, required=False, allow_blank=True)


class AssignSerializer(serializers.Serializer):
    owner = UsernameField(help_text="Username of the first owner.")
    helpers = serializers.ListField(
        child=UsernameField(), required=False, default=list, max_length=50
    )
    goal = Text(max_length=2000, required=False, allow_blank=True, default="")
    time_limit = Moment(required=False, allow_null=True, default=None)
    external_contacts = ExternalContactSerializer(
        many=True, required=False, default=list, max_length=50
    )


class LogSerializer(serializers.Serializer):
    kind = Choice(LogEntry.Kind.choices)
    text = Text(max_length=LONG_TEXT)
    happened_at = Moment(
        required=False, allow_null=True, default=None, help_text="Defaults to now; never later."
    )


class ResolveSerializer(serializers.Serializer):
    workaround = Text(max_length=LONG_TEXT, required=False, allow_blank=True, default="")
    fix = Text(max_length=LONG_TEXT, required=False, allow_blank=True, default="")


class VerifySerializer(serializers.Serializer):
    functional_ok = Flag()
    regression_ok = Flag()
    monitoring_ok = Flag()
    functional_evidence = Text(max_length=LONG_TEXT, required=False, allow_blank=True, default="")
    regression_evidence = Text(max_length=LONG_TEXT, required=False, allow_blank=True, default="")
    monitoring_evidence = Text(max_length=LONG_TEXT, required=False, allow_blank=True, default="")
    notes = Text(max_length=LONG_TEXT, required=False, allow_blank=True, default="")


class NotifyUsersSerializer(serializers.Serializer):
    message = Text(max_length=LONG_TEXT)


class FeedbackSerializer(serializers.Serializer):
    text = Text(max_length=LONG_TEXT)
    satisfied = Flag(required=False, allow_null=True, default=None)


class ArchiveSerializer(serializers.Serializer):
    summary = Text(max_length=SUMMARY_TEXT)


class ReasonSerializer(serializers.Serializer):
    reason = Text(max_length=LONG_TEXT)


class PauseSerializer(serializers.Serializer):
    reason = Text(max_length=MEDIUM_TEXT, help_text="What the incident is waiting for.")
    waiting_on = Text(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="The vendor, customer or other team it waits on.",
    )


class ResumeSerializer(serializers.Serializer):
    """No fields."""


class TimelineEventSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Username; null when the system acted (alert intake, tasks).",
    )
    message = serializers.SerializerMethodField(
        help_text="What happened, in the reader's language (a person's own words as written).",
    )
    data = serializers.JSONField(
        read_only=True,
        help_text="The facts behind a text the system wrote (e.g. the failed checks); "
        "empty for older events and for a person's own words.",
    )

    def get_message(self, event) -> str:
        return timeline.describe(event)

    class Meta:
        model = TimelineEvent
        fields = [
            "id",
            "created_at",
            "actor",
            "kind",
            "from_state",
            "to_state",
            "changes",
            "message",
            "data",
        ]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    recipient = serializers.SerializerMethodField(help_text="Username, or the address.")

    class Meta:
        model = Delivery
        fields = ["channel", "recipient", "status", "attempts", "last_error", "sent_at"]
        read_only_fields = fields

    def get_recipient(self, delivery) -> str:
        return delivery.user.username if delivery.user_id else delivery.address


class NoticeSerializer(serializers.ModelSerializer):
    """An escalation notice: a clock of the incident reached a level of its ladder."""

    deliveries = DeliverySerializer(many=True, read_only=True)

    class Meta:
        model = Notice
        fields = [
            "id",
            "clock",
            "level",
            "deadline",
            "due_at",
            "created_at",
            "late",
            "late_seconds",
            "recipients",
            "deliveries",
        ]
        read_only_fields = fields


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(required=False)


class ConflictSerializer(ErrorSerializer):
    state = serializers.ChoiceField(State.choices)
    allowed = serializers.ListField(child=serializers.CharField())


class StaleSerializer(ErrorSerializer):
    current_version = serializers.IntegerField()
