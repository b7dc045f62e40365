"""/api/v1/incidents/: intake, reads, corrections and every process action.

Views translate HTTP to service calls and back; the rules live in
incidents.services and incidents.rules. Visibility comes first: an incident
the user cannot see answers 404, never 403.
"""

import re

import django_filters
from django.core.paginator import Paginator as DjangoPaginator
from django.http import Http404
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from common import clock
from incidents import rules, selectors, services
from incidents.api import serializers as s
from incidents.api.rows import incident_rows, incident_values
from incidents.models import (
    Incident,
    Severity,
    State,
)
from knowledge import services as knowledge_services


class CountFromPaginator(DjangoPaginator):
    """Counts `object_list.count_from` when set: the list pages through .values()
    with joins, but the count needs none of them."""

    @cached_property
    def count(self):
        source = getattr(self.object_list, "count_from", self.object_list)
        return source() if callable(source) else source.count()


class Pagination(PageNumberPagination):
    django_paginator_class = CountFromPaginator
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
            raise ValidationError({"page_size": [_("A whole number, 1 or more.")]})
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
        return parameters


class IncidentFilter(django_filters.FilterSet):
    """The list's query parameters, checked (400 saying why) and documented; the
    filtering itself is selectors.filter_incidents, the dashboard's too."""

    state = django_filters.MultipleChoiceFilter(choices=State.choices)
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    team = django_filters.CharFilter(help_text="Team slug; repeat the parameter for several teams.")
    owner = django_filters.CharFilter(field_name="owner__username", help_text="Owner username.")
    overdue = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        help_text="true: only incidents with a clock past its deadline now; false: none.",
    )
    q = django_filters.CharFilter(help_text="Words in the number, title, symptoms or impact scope.")

    class Meta:
        model = Incident
        fields = ["state", "severity", "team", "owner", "overdue", "q"]

    def filter_queryset(self, queryset):
        # An empty value of a parameter with fixed choices is a mistake, not "any".
        params = self.request.query_params if self.request else {}
        empty = [p for p in ("state", "severity", "overdue", "team") if "" in params.getlist(p)]
        if empty:
            raise ValidationError(
                {p: [_("Give a value or leave the parameter out.")] for p in empty}
            )
        data = self.form.cleaned_data
        return selectors.filter_incidents(
            queryset,
            states=data["state"],
            severities=data["severity"],
            teams=self.team_ids(queryset, data["team"]) if data["team"] else (),
            owner=data["owner"],
            overdue={"true": True, "false": False}.get(data["overdue"]),
            words=data["q"],
            now=clock.now(),
        )

    def team_ids(self, queryset, value: str) -> list[int]:
        """The teams named by slug (the parameter repeated for several), each one
        the user may name; else a 400 that says which are unknown."""
        slugs = set(self.request.query_params.getlist("team") if self.request else [value])
        if any(not SLUG.match(slug) for slug in slugs):
            raise ValidationError({"team": [_("Team slugs are letters, digits, - and _.")]})
        # Another team's slug answers as an unknown one: the filter must not tell
        # which teams exist. Known: the user's teams and those of incidents they see.
        user = self.request.user if self.request else None
        known = dict(selectors.visible_teams(user).filter(slug__in=slugs).values_list("slug", "pk"))
        known |= dict(
            queryset.filter(team__slug__in=slugs - known.keys()).values_list("team__slug", "team")
        )
        unknown = slugs - known.keys()
        if unknown:
            raise ValidationError(
                {"team": [_("No team %(slug)s.") % {"slug": slug} for slug in sorted(unknown)]}
            )
        return list(known.values())


FILTER_PARAMS = set(IncidentFilter.base_filters)


SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,50}$")
ETAG_RE = re.compile(r'^\s*(?:W/)?"(\d+)-(\d+)"\s*$')


def etag(incident: Incident) -> str:
    return f'"{incident.pk}-{incident.version}"'


def etag_matches(header: str | None, tag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110 13.1.2): any listed tag, W/ or not, or *."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(candidate.strip().removeprefix("W/") == tag for candidate in header.split(","))


def expected_version(request, incident_pk: int) -> int | None:
    """The version the client last saw, from If-Match; None when absent or `*`."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    match = ETAG_RE.match(header)
    if not match:
        raise ValidationError({"If-Match": [_('Send the ETag of your last GET, e.g. "42-7".')]})
    if int(match.group(1)) != incident_pk:
        return -1  # another incident's ETag cannot match: the precondition fails
    return int(match.group(2))


UNAUTHENTICATED = OpenApiResponse(s.ErrorSerializer, description="No or bad credentials.")
ERRORS = {
    400: OpenApiResponse(description="Bad input: field errors."),
    401: UNAUTHENTICATED,
    403: OpenApiResponse(s.ErrorSerializer, description="Your role may not do this."),
    404: OpenApiResponse(s.ErrorSerializer, description="No such incident, or not visible."),
    409: OpenApiResponse(
        s.ConflictSerializer,
        description="Not allowed in the incident's state; says which actions are.",
    ),
    412: OpenApiResponse(
        s.StaleSerializer, description="If-Match is older than the incident's version."
    ),
}
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    pattern=r'^(\*|(W/)?"[0-9]+-[0-9]+")$',
    description='The ETag from your last GET (e.g. `"42-7"`); a stale one gets 412.',
)


def action_schema(request_serializer, summary, example=None):
    return extend_schema(
        summary=summary,
        request=request_serializer,
        parameters=[IF_MATCH],
        responses={200: s.IncidentDetailSerializer, **ERRORS},
        examples=[OpenApiExample("Example", value=example, request_only=True)]
        if example is not None
        else None,
    )


@extend_schema_view(
    list=extend_schema(
        summary="List incidents you can see",
        responses={
            200: s.IncidentSummarySerializer(many=True),
            400: ERRORS[400],
            401: UNAUTHENTICATED,
            404: OpenApiResponse(s.ErrorSerializer, description="No such page."),
        },
    ),
    retrieve=extend_schema(
        summary="One incident, with an ETag",
        responses={200: s.IncidentDetailSerializer, 401: UNAUTHENTICATED, 404: ERRORS[404]},
    ),
)
class IncidentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    http_method_names = ["get", "post", "patch", "head", "options"]
    pagination_class = Pagination
    filterset_class = IncidentFilter
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend, OrderingFilter]
    ordering_fields = [
        "received_at",
        "respond_by",
        "resolve_by",
        "next_update_by",
        "severity",
        "number",
        "updated_at",
        "state",
    ]
    ordering = ["-received_at", "-id"]

    def get_queryset(self):
        return (
            rules.visible_incidents(self.request.user)
            .select_related("team", "service", "reporter", "owner")
            .prefetch_related("helpers")
        )

    def filter_queryset(self, queryset):
        if self.action == "list" and not set(self.request.query_params) & FILTER_PARAMS:
            # No filter given: skip building django-filter's form (hot path of the list).
            return OrderingFilter().filter_queryset(self.request, queryset, self)
        return super().filter_queryset(queryset)

    def list(self, request, *args, **kwargs):
        # Same JSON as IncidentSummarySerializer (pinned by a test), no model instances.
        queryset = self.filter_queryset(rules.visible_incidents(request.user))
        values = incident_values(queryset)
        values.count_from = lambda: selectors.incident_total(
            user=request.user, params=request.query_params, queryset=queryset
        )
        page = self.paginate_queryset(values)
        return self.get_paginated_response(incident_rows(list(page), now=clock.now()))

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            # Django's own message is English only ("No Incident matches …").
            raise NotFound(_("No such incident, or you cannot see it.")) from None

    def get_serializer_class(self):
        if self.action == "list":
            return s.IncidentSummarySerializer
        return s.IncidentDetailSerializer

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": clock.now()}

    def _answer(self, incident: Incident, code=status.HTTP_200_OK, headers=None) -> Response:
        incident = self.get_queryset().get(pk=incident.pk)
        data = s.IncidentDetailSerializer(incident, context=self.get_serializer_context()).data
        return Response(data, status=code, headers={"ETag": etag(incident), **(headers or {})})

    def retrieve(self, request, *args, **kwargs):
        incident = self.get_object()
        tag = etag(incident)
        if etag_matches(request.headers.get("If-None-Match"), tag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": tag})
        data = self.get_serializer(incident).data
        return Response(data, headers={"ETag": tag})

    @extend_schema(
        summary="File an incident (intake)",
        request=s.IncidentCreateSerializer,
        responses={201: s.IncidentDetailSerializer, 400: ERRORS[400], 401: UNAUTHENTICATED},
        examples=[
            OpenApiExample(
                "Database outage",
                request_only=True,
                value={
                    "title": "数据库连接池耗尽 / DB connection pool exhausted",
                    "symptoms": "HTTP 500 on every order request",
                    "severity": "P0",
                    "source": "monitoring",
                    "impact_scope": "core ordering unavailable",
                    "affected_users": 12000,
                    "team": "platform",
                    "category": "production",
                },
            )
        ],
    )
    def create(self, request, *args, **kwargs):
        data = s.IncidentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        service_slug = values.pop("service", "")
        team = values.get("team") or selectors.default_team(request.user)
        if service_slug and team is not None:
            values["service"] = s.resolve_service(team, service_slug)
        incident = services.incident_create(actor=request.user, **values)
        location = request.build_absolute_uri(f"/api/v1/incidents/{incident.pk}/")
        return self._answer(incident, status.HTTP_201_CREATED, {"Location": location})

    @extend_schema(
        summary="Correct intake details",
        description=(
            "Send only the fields you correct. Every other field (state, number, team, "
            "owner, severity, deadlines, timestamps, version, …) is read-only: a PATCH "
            "that names one is refused with 400 naming it, and nothing changes."
        ),
        request=s.IncidentUpdateSerializer,
        parameters=[IF_MATCH],
        responses={200: s.IncidentDetailSerializer, **ERRORS},
    )
    def partial_update(self, request, *args, **kwargs):
        incident = self.get_object()
        version = expected_version(request, incident.pk)
        data = s.IncidentUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if "service" in changes:
            changes["service"] = s.resolve_service(incident.team, changes["service"])
        incident = services.incident_update(
            incident=incident, actor=request.user, expected_version=version, **changes
        )
        return self._answer(incident)

    def _act(self, request, serializer_class, service, **extra):
        incident = self.get_object()
        version = expected_version(request, incident.pk)
        data = serializer_class(data=request.data)
        data.is_valid(raise_exception=True)
        result = service(
            incident=incident,
            actor=request.user,
            expected_version=version,
            **data.validated_data,
            **extra,
        )
        return self._answer(result if isinstance(result, Incident) else result.incident)

    @action_schema(s.AcknowledgeSerializer, "Acknowledge (stops the respond clock)", {})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        return self._act(request, s.AcknowledgeSerializer, services.incident_acknowledge)

    @action_schema(
        s.GradeSerializer,
        "Grade and diagnose (a new level recomputes the deadlines)",
        {"severity": "P1", "diagnosis": "Slow queries exhaust the connection pool"},
    )
    @action(detail=True, methods=["post"])
    def grade(self, request, pk=None):
        return self._act(request, s.GradeSerializer, services.incident_grade)

    @action_schema(
        s.AssignSerializer,
        "Assign the owner and helpers",
        {"owner": "engineer", "helpers": ["tester"], "goal": "Restore within 2 h"},
    )
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        return self._act(request, s.AssignSerializer, services.incident_assign)

    @action_schema(
        s.LogSerializer,
        "Add a process-log entry (a progress entry restarts the update clock)",
        {"kind": "progress", "text": "Switched to the standby database"},
    )
    @action(detail=True, methods=["post"])
    def log(self, request, pk=None):
        return self._act(request, s.LogSerializer, services.incident_log)

    @action_schema(
        s.ResolveSerializer,
        "Submit the workaround and/or fix for verification",
        {"workaround": "Restarted the service", "fix": "Raised the pool size"},
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        return self._act(request, s.ResolveSerializer, services.incident_resolve)

    @action_schema(
        s.VerifySerializer,
        "Verify: all checks pass → resolved, else back to in_progress",
        {"functional_ok": True, "regression_ok": True, "monitoring_ok": True, "notes": ""},
    )
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        return self._act(request, s.VerifySerializer, services.incident_verify)

    @action_schema(
        s.NotifyUsersSerializer,
        "Record that the affected users were told",
        {"message": "The problem you reported is fixed."},
    )
    @action(detail=True, methods=["post"], url_path="notify-users")
    def notify_users(self, request, pk=None):
        return self._act(request, s.NotifyUsersSerializer, services.incident_notify_users)

    @action_schema(s.FeedbackSerializer, "Record user feedback", {"text": "Works again, thanks"})
    @action(detail=True, methods=["post"])
    def feedback(self, request, pk=None):
        return self._act(request, s.FeedbackSerializer, services.incident_record_feedback)

    @action_schema(
        s.ArchiveSerializer, "Archive with a summary", {"summary": "Pool exhausted; raised it"}
    )
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        return self._act(request, s.ArchiveSerializer, knowledge_services.incident_archive)

    @action_schema(s.ReasonSerializer, "Reopen", {"reason": "The errors are back"})
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        return self._act(request, s.ReasonSerializer, services.incident_reopen)

    @action_schema(s.ReasonSerializer, "Cancel (duplicate or false alarm)", {"reason": "Duplicate"})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._act(request, s.ReasonSerializer, services.incident_cancel)

    @action_schema(
        s.PauseSerializer,
        "Pause the resolve and update clocks while waiting on someone outside the team",
        {"reason": "Waiting for the vendor's replacement disk", "waiting_on": "Dell support"},
    )
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._act(request, s.PauseSerializer, services.incident_pause)

    @action_schema(
        s.ResumeSerializer,
        "Resume: the resolve deadline moves later by the time paused; an update is due "
        "one cadence after now",
        {},
    )
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._act(request, s.ResumeSerializer, services.incident_resume)

    @extend_schema(
        summary="The audit trail, oldest first",
        responses={
            200: s.TimelineEventSerializer(many=True),
            401: UNAUTHENTICATED,
            404: ERRORS[404],
        },
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def timeline(self, request, pk=None):
        incident = self.get_object()
        events = incident.events.select_related("actor").order_by("created_at", "id")
        return Response(s.TimelineEventSerializer(events, many=True).data)

    @extend_schema(
        summary="Escalation notices sent for this incident",
        responses={
            200: s.NoticeSerializer(many=True),
            401: UNAUTHENTICATED,
            404: ERRORS[404],
        },
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def notices(self, request, pk=None):
        incident = self.get_object()
        notices = incident.notices.prefetch_related("deliveries__user").order_by("created_at", "id")
        return Response(s.NoticeSerializer(notices, many=True).data)


@extend_schema(
    summary="Check your credentials",
    description="Answers who you are; monitoring scripts use it to test a token.",
    responses={
        200: inline_serializer(
            "Ping", {"user": serializers.CharField(), "time": serializers.DateTimeField()}
        ),
        401: UNAUTHENTICATED,
    },
)
@api_view(["GET"])
def ping(request):
    return Response({"user": request.user.get_username(), "time": clock.now()})
