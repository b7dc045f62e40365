"""/api/v1/maintenance/: a team's maintenance windows over HTTP.

Views translate HTTP to incidents.maintenance's services and selectors and back;
the rules live there and in incidents.rules. A window the caller may not see
answers exactly as an unknown one (404); writing to a team the caller sees but
does not lead answers 403; ending a window that is not running, 409.
"""

import re

from django.core.validators import RegexValidator
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from common import clock
from incidents import maintenance, rules
from incidents.api import serializers as s
from incidents.api.serializers import Choice, Count, Flag, Instant, Text
from incidents.api.views import UNAUTHENTICATED, Pagination
from incidents.maintenance import services
from incidents.models import MEDIUM_TEXT, MaintenanceWindow, Team
from incidents.selectors import visible_teams

LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,50}$")

BAD_INPUT = OpenApiResponse(description="Bad input: field errors.")
NOT_FOUND = OpenApiResponse(s.ErrorSerializer, description="No such window, or not yours.")
NOT_LEAD = OpenApiResponse(
    s.ErrorSerializer, description="Only the team's tech leads (and admins) may; says why."
)
NOT_RUNNING = OpenApiResponse(
    s.ErrorSerializer, description="The window is not running now: nothing to end."
)


# ---------------------------------------------------------------- shapes
#
# Serializers check types and shapes only; what a window may be is
# services.validate_window's (the same for the admin and the pages).


class MatcherSerializer(serializers.Serializer):
    """One label matcher, as Alertmanager's silences have them."""

    name = Text(
        max_length=200,
        validators=[
            RegexValidator(
                LABEL_NAME,
                gettext_lazy("A label name: letters, digits and _, not first a digit."),
            )
        ],
        help_text="A Prometheus label name, e.g. `instance`.",
    )
    value = Text(
        max_length=services.MAX_MATCHER_VALUE,
        allow_blank=True,
        help_text="The value; with is_regex a regular expression matching the whole value.",
    )
    is_regex = Flag(default=False)

    def to_internal_value(self, data):
        # A PATCH is partial for the window, never for one matcher: a matcher
        # replaced is given whole.
        if isinstance(data, dict):
            missing = [name for name in ("name", "value") if name not in data]
            if missing:
                raise serializers.ValidationError(
                    {name: [_("This field is required.")] for name in missing}
                )
        return super().to_internal_value(data)


class OccurrenceSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


@extend_schema_field({"type": "array", "items": {"type": "string", "format": "date-time"}})
class NextOccurrences(serializers.Field):
    def to_representation(self, value):
        return [serializers.DateTimeField().to_representation(start) for start in value]


class TeamSlug(Text):
    def get_attribute(self, window):
        return window.team.slug


class ServiceSlugs(serializers.ListField):
    child = Text(max_length=50)

    def get_attribute(self, window):
        # Prefetched with the window (_windows).
        return sorted(service.slug for service in window.services.all())


class WindowSerializer(serializers.Serializer):
    """A maintenance window: one-off (`starts_at` → `ends_at`) or recurring
    (`recurrence` RRULE from `starts_at`, in the team's time zone, each
    occurrence `duration_minutes` long)."""

    id = serializers.IntegerField(read_only=True)
    title = Text(max_length=200)
    team = TeamSlug(max_length=50, help_text="The team's slug.")
    description = Text(max_length=MEDIUM_TEXT, required=False, allow_blank=True, default="")
    starts_at = Instant(help_text="ISO 8601 with an offset; a recurring window's first start.")
    ends_at = Instant(
        required=False, allow_null=True, default=None, help_text="One-off windows only."
    )
    recurrence = Text(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text=(
            "An RFC 5545 RRULE, e.g. `FREQ=WEEKLY;BYDAY=TU` (no DTSTART; UNTIL and COUNT "
            "allowed; at most hourly), computed in the team's time zone."
        ),
    )
    duration_minutes = Count(
        min_value=1,
        max_value=services.MAX_DURATION_MINUTES,
        required=False,
        allow_null=True,
        default=None,
        help_text="How long each occurrence of a recurring window lasts.",
    )
    matchers = MatcherSerializer(
        many=True,
        required=False,
        default=list,
        max_length=services.MAX_MATCHERS,
        help_text="Every matcher must match an alert's labels; none: every alert of the team.",
    )
    services = ServiceSlugs(
        required=False,
        default=list,
        max_length=100,
        help_text="Slugs of the team's services: the alert's `service` label must be one.",
    )
    mode = Choice(
        MaintenanceWindow.Mode.choices,
        default=MaintenanceWindow.Mode.SUPPRESS,
        help_text="suppress: no incident and no notice; mark: the incident opens marked, "
        "its clocks held.",
    )
    calendar = Choice(
        MaintenanceWindow.Calendar.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text="workdays / restdays: occurrences only on China's working / rest days "
        "(调休 included).",
    )
    public = Flag(default=False, help_text="Shown on the public status page.")
    active = serializers.SerializerMethodField(help_text="Running now.")
    current_occurrence = serializers.SerializerMethodField(
        help_text="The occurrence running now (its end, if ended early), or null."
    )
    next_occurrences = serializers.SerializerMethodField(help_text="The next five starts.")
    suppressed_alerts = serializers.IntegerField(read_only=True)
    ended_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When it (or one occurrence) was ended early."
    )
    silence_id = serializers.CharField(read_only=True, help_text="Alertmanager silence, if any.")
    silence_error = serializers.CharField(read_only=True)
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True, default=None
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def now(self):
        return self.context.get("now") or clock.now()

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_active(self, window) -> bool:
        return self._current(window) is not None

    @extend_schema_field(OccurrenceSerializer(allow_null=True))
    def get_current_occurrence(self, window):
        running = self._current(window)
        if running is None:
            return None
        return OccurrenceSerializer({"starts_at": running[0], "ends_at": running[1]}).data

    @extend_schema_field(NextOccurrences)
    def get_next_occurrences(self, window):
        return NextOccurrences().to_representation(maintenance.next_occurrences(window, self.now()))

    def _current(self, window):
        cache = self.context.setdefault("_running", {})
        if window.pk not in cache:
            cache[window.pk] = maintenance.current_occurrence(window, self.now())
        return cache[window.pk]

    def validate(self, attrs):
        # A PATCH naming a field it cannot change is a mistake, not a no-op.
        if isinstance(self.initial_data, dict):
            unknown = sorted(
                k for k in self.initial_data if k not in self.fields or self.fields[k].read_only
            )
            if unknown:
                raise serializers.ValidationError(
                    {k: [_("This field is read-only or unknown.")] for k in unknown}
                )
        return attrs


class WindowListQuerySerializer(serializers.Serializer):
    team = Text(max_length=50, required=False)
    active = serializers.ChoiceField(
        choices=["true", "false"],
        required=False,
        error_messages={"invalid_choice": gettext_lazy("Give true or false.")},
    )

    def to_internal_value(self, data):
        blank = [name for name in self.fields if name in data and data.get(name) == ""]
        if blank:
            raise serializers.ValidationError(
                {name: [_("Give a value or leave the parameter out.")] for name in blank}
            )
        return super().to_internal_value(data)


EXAMPLE = {
    "title": "Weekly database patching",
    "team": "platform",
    "description": "Replicas restart one by one.",
    "starts_at": "2026-12-01T22:00:00+08:00",
    "ends_at": None,
    "recurrence": "FREQ=WEEKLY;BYDAY=TU",
    "duration_minutes": 90,
    "matchers": [
        {"name": "job", "value": "mysql", "is_regex": False},
        {"name": "instance", "value": "db-[0-9]+", "is_regex": True},
    ],
    "services": [],
    "mode": "suppress",
    "calendar": "workdays",
    "public": False,
}
ONE_OFF_EXAMPLE = {
    "title": "Core switch replacement",
    "team": "platform",
    "starts_at": "2026-12-05T01:00:00+08:00",
    "ends_at": "2026-12-05T04:00:00+08:00",
    "matchers": [],
    "services": ["api"],
    "mode": "mark",
}
ANSWER_EXAMPLE = {
    "id": 1,
    **EXAMPLE,
    "active": False,
    "current_occurrence": None,
    "next_occurrences": [
        "2026-12-01T22:00:00+08:00",
        "2026-12-08T22:00:00+08:00",
        "2026-12-15T22:00:00+08:00",
        "2026-12-22T22:00:00+08:00",
        "2026-12-29T22:00:00+08:00",
    ],
    "suppressed_alerts": 0,
    "ended_at": None,
    "silence_id": "",
    "silence_error": "",
    "created_by": "lead",
    "created_at": "2026-11-26T10:00:00+08:00",
    "updated_at": "2026-11-26T10:00:00+08:00",
}


# ---------------------------------------------------------------- helpers


def _windows(user):
    return (
        maintenance.windows_visible_to(user)
        .select_related("team", "created_by")
        .prefetch_related("services")
        .order_by("starts_at", "id")
    )


def _window(request, pk: int) -> MaintenanceWindow:
    window = _windows(request.user).filter(pk=pk).first()
    if window is None:
        raise NotFound(_("No such maintenance window."))
    return window


def _team(request, slug: str) -> Team:
    """The team named by slug, if the caller sees it; else 400 as an unknown team
    (a write must not tell which teams exist)."""
    team = visible_teams(request.user).filter(slug=slug).first() if SLUG.match(slug) else None
    if team is None:
        raise serializers.ValidationError({"team": [_("No team %(slug)s.") % {"slug": slug}]})
    return team


def _require_lead(request, team: Team) -> None:
    """Refuse a non-lead before applying their input (the service checks again)."""
    if not rules.edits_windows(request.user, team):
        raise PermissionDenied(services.not_lead(team))


def _answer(request, window: MaintenanceWindow, code=status.HTTP_200_OK) -> Response:
    window = _window(request, window.pk)
    data = WindowSerializer(window, context={"now": clock.now()}).data
    headers = {}
    if code == status.HTTP_201_CREATED:
        headers["Location"] = request.build_absolute_uri(
            reverse("api-maintenance-window", args=[window.pk])
        )
    return Response(data, status=code, headers=headers)


def _changes(validated: dict) -> dict:
    """The serializer's data as the services' keywords (the team is resolved apart)."""
    return {k: v for k, v in validated.items() if k != "team"}


# ---------------------------------------------------------------- views


class WindowListView(APIView):
    """The maintenance windows the caller sees; a team's tech leads plan one."""

    pagination_class = Pagination

    @extend_schema(
        summary="Maintenance windows you can see",
        description=(
            "Windows of your teams (managers and admins: every team's), by start. "
            "`team` keeps one team's; `active=true` those running now, `false` the others."
        ),
        parameters=[
            OpenApiParameter("team", OpenApiTypes.STR, description="Team slug."),
            OpenApiParameter(
                "active", OpenApiTypes.STR, enum=["true", "false"], description="Running now."
            ),
        ],
        responses={
            200: WindowSerializer(many=True),
            400: BAD_INPUT,
            401: UNAUTHENTICATED,
            404: OpenApiResponse(s.ErrorSerializer, description="No such page."),
        },
    )
    def get(self, request):
        query = WindowListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        now = clock.now()
        windows = _windows(request.user)
        if "team" in query.validated_data:
            windows = windows.filter(team=_team(request, query.validated_data["team"]))
        if "active" in query.validated_data:
            running = _running_ids(windows, now)
            if query.validated_data["active"] == "true":
                windows = windows.filter(pk__in=running)
            else:
                windows = windows.exclude(pk__in=running)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(windows, request, view=self)
        data = WindowSerializer(page, many=True, context={"now": now}).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        summary="Plan a maintenance window (tech leads)",
        description=(
            "Give `ends_at` for a one-off window, or `recurrence` with `duration_minutes` "
            "for a recurring one (not both). While an occurrence runs, the team's alerts "
            "matching every matcher (and, with services, whose `service` label is one of "
            "them) are suppressed or open their incident marked, by `mode`."
        ),
        request=WindowSerializer,
        responses={
            201: WindowSerializer,
            400: BAD_INPUT,
            401: UNAUTHENTICATED,
            403: NOT_LEAD,
        },
        examples=[
            OpenApiExample("Weekly", value=EXAMPLE, request_only=True),
            OpenApiExample("One-off", value=ONE_OFF_EXAMPLE, request_only=True),
            OpenApiExample("Planned", value=ANSWER_EXAMPLE, response_only=True, status_codes=[201]),
        ],
    )
    def post(self, request):
        data = WindowSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        team = _team(request, data.validated_data["team"])
        _require_lead(request, team)
        window = services.window_create(
            actor=request.user, team=team, **_changes(data.validated_data)
        )
        return _answer(request, window, status.HTTP_201_CREATED)


def _running_ids(windows, now) -> list[int]:
    """Ids among `windows` running at `now` (one query for the candidates)."""
    candidates = windows.filter(starts_at__lte=now).filter(
        ~Q(recurrence="") | Q(ends_at__gt=now) & (Q(ended_at__isnull=True) | Q(ended_at__gt=now))
    )
    return [w.pk for w in candidates.prefetch_related(None) if maintenance.is_active(w, now)]


class WindowDetailView(APIView):
    """One maintenance window."""

    @extend_schema(
        summary="One maintenance window",
        responses={200: WindowSerializer, 401: UNAUTHENTICATED, 404: NOT_FOUND},
    )
    def get(self, request, pk: int):
        return _answer(request, _window(request, pk))

    @extend_schema(
        summary="Change a maintenance window (tech leads)",
        description=(
            "Send only what changes; the rest stays. Naming `id` or an unknown field is "
            "refused with 400; a window stays with its team. Changing the schedule "
            "forgets an occurrence ended early."
        ),
        request=WindowSerializer,
        responses={
            200: WindowSerializer,
            400: BAD_INPUT,
            401: UNAUTHENTICATED,
            403: NOT_LEAD,
            404: NOT_FOUND,
        },
        examples=[
            OpenApiExample("Longer", value={"duration_minutes": 120}, request_only=True),
            OpenApiExample(
                "Now one-off",
                value={
                    "recurrence": "",
                    "duration_minutes": None,
                    "ends_at": "2026-12-05T04:00:00+08:00",
                },
                request_only=True,
            ),
        ],
    )
    def patch(self, request, pk: int):
        window = _window(request, pk)
        _require_lead(request, window.team)
        data = WindowSerializer(window, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = _changes(data.validated_data)
        if "team" in data.validated_data:
            changes["team"] = _team(request, data.validated_data["team"])
        window = services.window_update(window=window, actor=request.user, **changes)
        return _answer(request, window)

    @extend_schema(
        summary="Delete a maintenance window (tech leads)",
        description="Its Alertmanager silence, if any, expires.",
        responses={
            204: OpenApiResponse(description="Deleted."),
            401: UNAUTHENTICATED,
            403: NOT_LEAD,
            404: NOT_FOUND,
        },
    )
    def delete(self, request, pk: int):
        services.window_delete(window=_window(request, pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WindowEndView(APIView):
    """End the running occurrence of a window now."""

    @extend_schema(
        summary="End a maintenance window now (tech leads)",
        description=(
            "A one-off window ends for good; a recurring one ends this occurrence and "
            "keeps the later ones. A window not running now answers 409."
        ),
        request=None,
        responses={
            200: WindowSerializer,
            401: UNAUTHENTICATED,
            403: NOT_LEAD,
            404: NOT_FOUND,
            409: NOT_RUNNING,
        },
    )
    def post(self, request, pk: int):
        window = _window(request, pk)
        try:
            window = services.window_end(window=window, actor=request.user)
        except services.WindowNotActive as refused:
            return Response(
                {"detail": refused.message, "code": "not_active"},
                status=status.HTTP_409_CONFLICT,
            )
        return _answer(request, window)
