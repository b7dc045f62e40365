"""/api/v1/teams/{slug}/…: a team's duty roster over HTTP.

`oncall/` (who is on call, now or at an instant), `rotations/` and `overrides/`
(read and write), `shifts/` (the final schedule over a window) and `feeds/`
(the caller's private iCalendar address). Views translate HTTP to the roster's
services (escalation.roster.services) and back; the rules live there and in
incidents.rules. A team the caller may not see answers exactly as an unknown
one: 404.
"""

import re
from datetime import time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from django.db.models import Prefetch
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
from escalation.roster import selectors, services
from escalation.roster.arithmetic import REACH as ON_CALL_REACH
from escalation.roster.models import (
    LAYER_ORDER,
    CalendarFeed,
    Layer,
    Override,
    Rotation,
    RotationMember,
)
from incidents import rules
from incidents.api import serializers as s
from incidents.api.serializers import Choice, Count, Text, UsernameField
from incidents.api.serializers import Instant as OffsetInstant
from incidents.api.views import UNAUTHENTICATED, Pagination
from incidents.models import Team

User = get_user_model()

BAD_INPUT = OpenApiResponse(description="Bad input: field errors.")
NO_TEAM = OpenApiResponse(s.ErrorSerializer, description="No such team, or not yours.")
NOT_LEAD = OpenApiResponse(
    s.ErrorSerializer, description="Only the team's tech leads (and admins) may; says why."
)
SLUG = OpenApiParameter("slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="Team slug.")


def _team(request, slug: str) -> Team:
    team = Team.objects.filter(slug=slug).first()
    if team is None or not rules.sees_roster(request.user, team):
        raise NotFound(_("No such team."))
    return team


def _require_lead(request, team: Team) -> None:
    """Refuse a non-lead before reading their input (the service checks again)."""
    if not rules.edits_roster(request.user, team):
        raise PermissionDenied(services.not_lead(team))


# ---------------------------------------------------------------- shapes
#
# Serializers check types and shapes only; every rule (who may, what a rotation
# or an override may be) is escalation.roster.services'. Times of day are "HH:MM" in the
# team's zone; instants are ISO 8601 with their offset from UTC.

HH_MM = r"([01][0-9]|2[0-3]):[0-5][0-9]"
YYYY_MM_DD = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
# Dates and instants a roster is asked about or set from: the arithmetic (in
# UTC, across time zones) has room to spare, far from year 1 and year 9999.
REACH = timedelta(days=3653)
MAX_SPAN_DAYS = 93


@extend_schema_field({"type": "string", "pattern": f"^{HH_MM}$", "example": "09:00"})
class ClockTime(serializers.Field):
    """A time of day as "HH:MM" (24-hour), nothing else."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or not re.fullmatch(HH_MM, data):
            raise serializers.ValidationError(_("A time of day as HH:MM, e.g. 09:00."))
        return time(int(data[:2]), int(data[3:]))

    def to_representation(self, value):
        return f"{value:%H:%M}"


@extend_schema_field(OpenApiTypes.DATE)
class Day(serializers.DateField):
    """A date as "YYYY-MM-DD", within ten years of today."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or not re.fullmatch(YYYY_MM_DD, data):
            raise serializers.ValidationError(_("A date as YYYY-MM-DD, e.g. 2026-11-23."))
        value = super().to_internal_value(data)
        today = clock.now().date()
        if not today - REACH <= value <= today + REACH:
            raise serializers.ValidationError(_("Give a date within ten years of today."))
        return value


class Instant(OffsetInstant):
    """An instant with its offset (incidents.api.serializers.Instant), within ten
    years of now."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        now = clock.now()
        if not now - REACH <= value <= now + REACH:
            raise serializers.ValidationError(_("Give a moment within ten years of now."))
        return value


class Participants(serializers.ListField):
    """Usernames in order → users (one query); an unknown name is refused here,
    whether they may be on call for the team is the service's to say."""

    child = Text(max_length=150)

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_empty", False)
        kwargs.setdefault("min_length", 1)
        kwargs.setdefault("max_length", 50)
        super().__init__(**kwargs)

    def get_attribute(self, rotation: Rotation):
        # Members are prefetched in order (_rotations), else read in order here.
        return [m.user.username for m in rotation.members.all()]

    def to_representation(self, data):
        return list(data)

    def to_internal_value(self, data):
        names = super().to_internal_value(data)
        users = {u.username: u for u in User.objects.filter(username__in=set(names))}
        unknown = list(dict.fromkeys(n for n in names if n not in users))
        if unknown:
            raise serializers.ValidationError(
                _("No such user: %(names)s.") % {"names": ", ".join(unknown)}
            )
        return [users[n] for n in names]


class RotationSerializer(serializers.Serializer):
    """A rotation: participants in order take shifts of `shift_days` days, handed
    over at `handoff_time` (team's zone) from `start_date`; optionally only on
    some weekdays and within a daily window."""

    id = serializers.IntegerField(read_only=True)
    name = Text(max_length=100)
    layer = Choice(Layer.choices)
    participants = Participants(help_text="Usernames in order; the first takes the first shift.")
    shift_days = Count(
        min_value=1, max_value=28, default=7, help_text="1: daily, 7: weekly, … up to 28."
    )
    handoff_time = ClockTime(
        default=time(9, 0), help_text="When a shift hands over, in the team's time zone."
    )
    start_date = Day(help_text="The first shift begins at the handoff time of this day.")
    weekdays = Text(
        max_length=7,
        default="0123456",
        trim_whitespace=False,
        validators=[
            RegexValidator(r"^[0-6]{1,7}\Z", gettext_lazy("Weekdays are digits 0 (Monday) to 6."))
        ],
        help_text="The days covered, digits 0 = Monday … 6 = Sunday.",
    )
    day_start = ClockTime(
        allow_null=True,
        default=None,
        help_text="Daily window from (team's zone); null with day_end: the whole day.",
    )
    day_end = ClockTime(
        allow_null=True,
        default=None,
        help_text="Daily window until; before day_start: an overnight window.",
    )

    def validate(self, attrs):
        # A PATCH naming a field it cannot change is a mistake, not a no-op.
        if self.partial and isinstance(self.initial_data, dict):
            unknown = sorted(
                k for k in self.initial_data if k not in self.fields or self.fields[k].read_only
            )
            if unknown:
                raise serializers.ValidationError(
                    {k: [_("This field is read-only or unknown.")] for k in unknown}
                )
        return attrs


def rotation_spec(rotation: Rotation | None, changes: dict) -> services.RotationSpec:
    """The whole rotation a write asks for: `changes` over what `rotation` is now."""
    current = {}
    if rotation is not None:
        current = {
            "name": rotation.name,
            "layer": rotation.layer,
            "participants": [
                m.user for m in rotation.members.select_related("user").order_by("position")
            ],
            "shift_days": rotation.shift_days,
            "handoff_time": rotation.handoff_time,
            "start_date": rotation.start_date,
            "weekdays": rotation.weekdays,
            "day_start": rotation.day_start,
            "day_end": rotation.day_end,
        }
    return services.RotationSpec(**{**current, **changes})


class OverrideSerializer(serializers.Serializer):
    """Someone on call in a layer over [start, end) instead of the rotations' person."""

    id = serializers.IntegerField(read_only=True)
    layer = Choice(Layer.choices)
    user = UsernameField(help_text="Username of who is on call instead.")
    start = Instant(help_text="ISO 8601 with an offset, e.g. 2026-11-27T09:00:00+08:00.")
    end = Instant(help_text="ISO 8601 with an offset; after start, at most a year ahead.")
    note = Text(max_length=200, required=False, allow_blank=True, default="")
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True, help_text="Who made it."
    )


class ShiftSerializer(serializers.Serializer):
    """Who is really on call in a layer over [start, end)."""

    layer = serializers.ChoiceField(choices=Layer.choices)
    user = serializers.CharField(source="user.username", help_text="Username.")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    override = serializers.BooleanField(source="is_override", help_text="An override makes it so.")


class QuerySerializer(serializers.Serializer):
    """Query parameters: one given empty is a mistake, not one left out."""

    def to_internal_value(self, data):
        blank = [name for name in self.fields if name in data and data.get(name) == ""]
        if blank:
            raise serializers.ValidationError(
                {name: [_("Give a value or leave the parameter out.")] for name in blank}
            )
        return super().to_internal_value(data)


class OnCallQuerySerializer(QuerySerializer):
    at = Instant(required=False)


class ShiftsQuerySerializer(QuerySerializer):
    """?from=&until=: both instants, until after from, at most 93 days apart."""

    def get_fields(self):
        # `from` is a Python keyword, so the fields are named here, not as attributes.
        return {"from": Instant(), "until": Instant()}

    def validate(self, attrs):
        start, end = attrs["from"], attrs["until"]
        if end <= start:
            raise serializers.ValidationError({"until": [_("Give an “until” after “from”.")]})
        if end - start > timedelta(days=MAX_SPAN_DAYS):
            raise serializers.ValidationError(
                {"until": [_("Ask for at most %(days)s days at once.") % {"days": MAX_SPAN_DAYS}]}
            )
        return attrs


class OverrideListQuerySerializer(QuerySerializer):
    all = serializers.ChoiceField(
        choices=["1", "0", "true", "false"],
        required=False,
        error_messages={"invalid_choice": gettext_lazy("Give 1 (true) or 0 (false).")},
    )


class FeedSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="The private .ics address; keep it secret.")


# ---------------------------------------------------------------- who is on call


class OnCallShiftSerializer(serializers.Serializer):
    """One layer's person on call: `from` and `until` bound their stretch (looked
    for within 29 days either side of the moment asked about)."""

    def get_fields(self):
        # `from` is a Python keyword, so the fields are named here, not as attributes.
        return {
            "layer": serializers.ChoiceField(choices=Layer.choices),
            "user": serializers.CharField(source="user.username", help_text="Username."),
            "from": serializers.DateTimeField(source="start"),
            "until": serializers.DateTimeField(source="end"),
            "override": serializers.BooleanField(
                source="is_override", help_text="An override makes it so."
            ),
        }


class OnCallSerializer(serializers.Serializer):
    team = serializers.CharField(help_text="The team's slug.")
    now = OnCallShiftSerializer(many=True, help_text="Who is on call now, by layer.")
    next = OnCallShiftSerializer(many=True, help_text="Who comes next in each layer.")
    warnings = serializers.ListField(
        child=serializers.CharField(),
        help_text="Participants skipped because they left the team or are inactive.",
    )


EXAMPLE = {
    "team": "platform",
    "now": [
        {
            "layer": "primary",
            "user": "engineer",
            "from": "2026-11-30T09:00:00+08:00",
            "until": "2026-12-07T09:00:00+08:00",
            "override": False,
        }
    ],
    "next": [
        {
            "layer": "primary",
            "user": "onduty",
            "from": "2026-12-07T09:00:00+08:00",
            "until": "2026-12-14T09:00:00+08:00",
            "override": False,
        }
    ],
    "warnings": [],
}


class OnCallView(APIView):
    """Who is on call in a team now (or at an instant) and who comes next, by layer."""

    @extend_schema(
        summary="Who is on call",
        description=(
            "Every layer (`primary`, `secondary`) with someone on call now — or at "
            "`at` — and the next person of each layer. Users by username; times in "
            "ISO 8601 with the site's zone. Visible to the team's members, its "
            "manager, managers and admins."
        ),
        parameters=[
            SLUG,
            OpenApiParameter(
                "at",
                OpenApiTypes.DATETIME,
                description=(
                    "Answer as at this instant (ISO 8601 with an offset, `+` sent as "
                    "`%2B`; within ten years of now). Default: now."
                ),
            ),
        ],
        responses={
            200: OpenApiResponse(
                # Each shift's `start`/`end` are answered as `from`/`until`.
                OnCallSerializer,
                examples=[OpenApiExample("platform", value=EXAMPLE, response_only=True)],
            ),
            400: BAD_INPUT,
            401: UNAUTHENTICATED,
            404: NO_TEAM,
        },
    )
    def get(self, request, slug: str):
        team = _team(request, slug)
        query = OnCallQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        at = query.validated_data.get("at") or clock.now()
        # Overrides that ended before the stretch around `at` cannot touch it.
        roster = selectors.roster_for(team, since=at - ON_CALL_REACH)
        answer = roster.on_call(at).values()
        ser = OnCallShiftSerializer
        return Response(
            {
                "team": team.slug,
                "now": ser([a.now for a in answer if a.now], many=True).data,
                "next": ser([a.next for a in answer if a.next], many=True).data,
                "warnings": [str(w) for w in roster.warnings()],
            }
        )


# ---------------------------------------------------------------- rotations

ROTATION_EXAMPLE = {
    "name": "Weekly primary",
    "layer": "primary",
    "participants": ["engineer", "onduty"],
    "shift_days": 7,
    "handoff_time": "09:00",
    "start_date": "2026-11-23",
    "weekdays": "0123456",
    "day_start": None,
    "day_end": None,
}
NIGHTS_EXAMPLE = {
    "name": "Weeknights",
    "layer": "secondary",
    "participants": ["lead", "engineer"],
    "shift_days": 1,
    "handoff_time": "18:00",
    "start_date": "2026-11-23",
    "weekdays": "01234",
    "day_start": "18:00",
    "day_end": "09:00",
}


def _rotations(team: Team):
    members = RotationMember.objects.select_related("user").order_by("position")
    return (
        Rotation.objects.filter(team=team, ends_at__isnull=True)  # ended: history only
        .order_by("id")
        .prefetch_related(Prefetch("members", queryset=members))
    )


def _rotation(team: Team, pk: int) -> Rotation:
    rotation = _rotations(team).filter(pk=pk).first()
    if rotation is None:
        raise NotFound(_("No such rotation."))
    return rotation


def _rotation_answer(request, team: Team, rotation: Rotation, code=status.HTTP_200_OK):
    data = RotationSerializer(_rotation(team, rotation.pk)).data
    headers = {}
    if code == status.HTTP_201_CREATED:
        path = reverse("team-rotation", args=[team.slug, rotation.pk])
        headers["Location"] = request.build_absolute_uri(path)
    return Response(data, status=code, headers=headers)


class RotationListView(APIView):
    """A team's rotations; its tech leads add one."""

    pagination_class = Pagination

    @extend_schema(
        summary="A team's rotations",
        description=(
            "In the order they were made (a later rotation wins where two of a layer "
            "overlap). Participants by username, in order; times of day in the team's "
            "zone. Visible to whoever sees the team's roster."
        ),
        parameters=[SLUG],
        responses={
            200: RotationSerializer(many=True),
            400: BAD_INPUT,
            401: UNAUTHENTICATED,
            404: OpenApiResponse(s.ErrorSerializer, description="No such team, or page."),
        },
    )
    def get(self, request, slug: str):
        team = _team(request, slug)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(_rotations(team), request, view=self)
        return paginator.get_paginated_response(RotationSerializer(page, many=True).data)

    @extend_schema(
        summary="Add a rotation (tech leads)",
        description=(
            "Written with an entry on the roster's timeline. Participants must be "
            "active members of the team."
        ),
        parameters=[SLUG],
        request=RotationSerializer,
        responses={
            201: RotationSerializer,
            400: BAD_INPUT,
            401: UNAUTHENTICATED,
            403: NOT_LEAD,
            404: NO_TEAM,
        },
        examples=[
            OpenApiExample("Weekly, all day", value=ROTATION_EXAMPLE, request_only=True),
            OpenApiExample("Weeknights", value=NIGHTS_EXAMPLE, request_only=True),
            OpenApiExample(
                "Made", value={"id": 1, **ROTATION_EXAMPLE}, response_only=True, status_codes=[201]
            ),
        ],
    )
    def post(self, request, slug: str):
        team = _team(request, slug)
        _require_lead(request, team)
        data = RotationSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rotation = services.rotation_save(
            actor=request.user, team=team, spec=rotation_spec(None, data.validated_data)
        )
        return _rotation_answer(request, team, rotation, status.HTTP_201_CREATED)


class RotationDetailView(APIView):
    """One rotation of a team."""

    @extend_schema(
        summary="One rotation",
        parameters=[SLUG],
        responses={
            200: RotationSerializer,
            401: UNAUTHENTICATED,
            404: OpenApiResponse(s.ErrorSerializer, description="No such team or rotation."),
        },
    )
    def get(self, request, slug: str, pk: int):
        team = _team(request, slug)
        return Response(RotationSerializer(_rotation(team, pk)).data)

    @extend_schema(
        summary="Change a rotation (tech leads)",
        description=(
            "Send only what changes; the rest stays. Naming `id` or an unknown field "
            "is refused with 400. Written with an entry on the roster's timeline."
        ),
        parameters=[SLUG],
        request=RotationSerializer,
        responses={
            200: RotationSerializer,
            400: BAD_INPUT,
            401: UNAUTHENTICATED,
            403: NOT_LEAD,
            404: OpenApiResponse(s.ErrorSerializer, description="No such team or rotation."),
        },
        examples=[
            OpenApiExample(
                "Hand over at 10:00", value={"handoff_time": "10:00"}, request_only=True
            ),
            OpenApiExample(
                "New order", value={"participants": ["onduty", "engineer"]}, request_only=True
            ),
        ],
    )
    def patch(self, request, slug: str, pk: int):
        team = _team(request, slug)
        rotation = _rotation(team, pk)
        _require_lead(request, team)
        data = RotationSerializer(rotation, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        rotation = services.rotation_save(
            actor=request.user,
            team=team,
            spec=rotation_spec(rotation, data.validated_data),
            rotation=rotation,
        )
        return _rotation_answer(request, team, rotation)

    @extend_schema(
        summary="Delete a rotation (tech leads)",
        description="Written with an entry on the roster's timeline.",
        parameters=[SLUG],
        responses={
            204: OpenApiResponse(description="Deleted."),
            401: UNAUTHENTICATED,
            403: NOT_LEAD,
            404: OpenApiResponse(s.ErrorSerializer, description="No such team or rotation."),
        },
    )
    def delete(self, request, slug: str, pk: int):
        team = _team(request, slug)
        services.rotation_delete(actor=request.user, rotation=_rotation(team, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- overrides

OVERRIDE_EXAMPLE = {
    "layer": "primary",
    "user": "tester",
    "start": "2026-11-27T09:00:00+08:00",
    "end": "2026-11-27T18:00:00+08:00",
    "note": "Covers the release rehearsal",
}


class OverrideListView(APIView):
    """A team's overrides; a member adds one for themselves, a lead for anyone."""

    pagination_class = Pagination

    @extend_schema(
        summary="A team's overrides",
        description=(
            "Those not ended yet, soonest first; with `all=1` every override, the latest first."
        ),
        parameters=[
            SLUG,
            OpenApiParameter(
                "all", OpenApiTypes.BOOL, description="Past overrides too (1 or true)."
            ),
        ],
        responses={
            200: OverrideSerializer(many=True),
            400: BAD_INPUT,
            401: UNAUTHENTICATED,
            404: OpenApiResponse(s.ErrorSerializer, description="No such team, or page."),
        },
    )
    def get(self, request, slug: str):
        team = _team(request, slug)
        query = OverrideListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        overrides = Override.objects.filter(team=team).select_related("user", "created_by")
        if query.validated_data.get("all") in ("1", "true"):
            overrides = overrides.order_by("-start", "-id")
        else:
            overrides = overrides.filter(end__gt=clock.now()).order_by("start", "id")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(overrides, request, view=self)
        return paginator.get_paginated_response(OverrideSerializer(page, many=True).data)

    @extend_schema(
        summary="Add an override",
        description=(
            "`user` is on call in `layer` from `start` until `end` instead of whoever "
            "the rotations say. Made by that user, by someone on call in that stretch "
            "(asking to be covered), by a tech lead or a manager of the team. Times "
            "need their offset; the stretch must not have ended and reaches at most a "
            "year ahead. Written with an entry on the roster's timeline."
        ),
        parameters=[SLUG],
        request=OverrideSerializer,
        responses={
            201: OverrideSerializer,
            400: BAD_INPUT,
            401: UNAUTHENTICATED,
            403: OpenApiResponse(s.ErrorSerializer, description="You may not cover for them."),
            404: NO_TEAM,
        },
        examples=[
            OpenApiExample("Cover a day", value=OVERRIDE_EXAMPLE, request_only=True),
            OpenApiExample(
                "Made",
                value={"id": 1, **OVERRIDE_EXAMPLE, "created_by": "lead"},
                response_only=True,
                status_codes=[201],
            ),
        ],
    )
    def post(self, request, slug: str):
        team = _team(request, slug)
        data = OverrideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        override = services.override_create(actor=request.user, team=team, **data.validated_data)
        override = Override.objects.select_related("user", "created_by").get(pk=override.pk)
        return Response(OverrideSerializer(override).data, status=status.HTTP_201_CREATED)


class OverrideDetailView(APIView):
    """One override of a team."""

    @extend_schema(
        summary="Remove an override",
        description=(
            "By who made it, who covers, a tech lead or a manager of the team. Written "
            "with an entry on the roster's timeline."
        ),
        parameters=[SLUG],
        responses={
            204: OpenApiResponse(description="Removed."),
            401: UNAUTHENTICATED,
            403: OpenApiResponse(s.ErrorSerializer, description="You may not remove it."),
            404: OpenApiResponse(s.ErrorSerializer, description="No such team or override."),
        },
    )
    def delete(self, request, slug: str, pk: int):
        team = _team(request, slug)
        override = Override.objects.filter(team=team, pk=pk).select_related("user").first()
        if override is None:
            raise NotFound(_("No such override."))
        services.override_delete(actor=request.user, override=override)
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- the final schedule

SHIFTS_EXAMPLE = [
    {
        "layer": "primary",
        "user": "engineer",
        "start": "2026-11-26T00:00:00+08:00",
        "end": "2026-11-27T09:00:00+08:00",
        "override": False,
    },
    {
        "layer": "secondary",
        "user": "lead",
        "start": "2026-11-26T00:00:00+08:00",
        "end": "2026-11-30T09:00:00+08:00",
        "override": False,
    },
    {
        "layer": "primary",
        "user": "tester",
        "start": "2026-11-27T09:00:00+08:00",
        "end": "2026-11-27T18:00:00+08:00",
        "override": True,
    },
]


class ShiftsView(APIView):
    """What really happens: every layer's shifts over a window."""

    @extend_schema(
        summary="The final schedule over a window",
        description=(
            "Who is on call in each layer from `from` until `until`, once overrides, "
            "weekdays and daily windows are applied; shifts are cut at both ends and "
            "sorted by start, then layer. At most 93 days at once."
        ),
        parameters=[
            SLUG,
            OpenApiParameter(
                "from",
                OpenApiTypes.DATETIME,
                required=True,
                description="ISO 8601 with an offset (`+` sent as `%2B`).",
            ),
            OpenApiParameter(
                "until",
                OpenApiTypes.DATETIME,
                required=True,
                description="After `from`, at most 93 days later.",
            ),
        ],
        responses={
            200: OpenApiResponse(
                ShiftSerializer(many=True),
                examples=[OpenApiExample("A day", value=SHIFTS_EXAMPLE, response_only=True)],
            ),
            400: BAD_INPUT,
            401: UNAUTHENTICATED,
            404: NO_TEAM,
        },
    )
    def get(self, request, slug: str):
        team = _team(request, slug)
        query = ShiftsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        start, end = query.validated_data["from"], query.validated_data["until"]
        layers = selectors.roster_for(team, since=start).shifts(start, end)
        shifts = sorted(
            (shift for items in layers.values() for shift in items),
            key=lambda shift: (shift.start, LAYER_ORDER[shift.layer]),
        )
        return Response(ShiftSerializer(shifts, many=True).data)


# ---------------------------------------------------------------- calendar feed


class FeedView(APIView):
    """The caller's private iCalendar address of the team's schedule."""

    @extend_schema(
        summary="Your calendar address of the team's schedule",
        description=(
            "Made on the first call (201); every later call answers the same address "
            "(200) until it is revoked or reset on the roster page. Calendar programs "
            "read it without signing in: the address is the secret."
        ),
        parameters=[SLUG],
        request=None,
        responses={
            200: FeedSerializer,
            201: FeedSerializer,
            401: UNAUTHENTICATED,
            404: NO_TEAM,
        },
        examples=[
            OpenApiExample(
                "Address",
                value={"url": "https://responder.example.com/oncall/feeds/Zq3hW0x9tG4uVbN2kM.ics"},
                response_only=True,
            )
        ],
    )
    def post(self, request, slug: str):
        team = _team(request, slug)
        existed = (
            CalendarFeed.objects.filter(user=request.user, team=team, revoked_at__isnull=True)
            .exclude(nonce="")
            .exists()
        )
        feed = services.feed_for(user=request.user, team=team)
        url = settings.SITE_URL + reverse("oncall-feed", args=[feed.token])
        code = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        return Response({"url": url}, status=code)
