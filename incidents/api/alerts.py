"""Monitoring alerts over the API: POST /api/v1/alerts/<integration_token>/ (intake),
GET /api/v1/incidents/<id>/alerts/ and GET /api/v1/alerts/pending/."""

import re

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from common.parsers import loads as json_body
from incidents import alerts, selectors
from incidents.alerts import selectors as alert_selectors
from incidents.api.serializers import Choice, Count, ErrorSerializer, Moment, Text
from incidents.api.views import Pagination
from incidents.models import LONG_TEXT, Alert, Category

ALERTMANAGER_EXAMPLE = {
    "version": "4",
    "groupKey": '{}:{alertname="OrderServiceErrors"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "responder",
    "groupLabels": {"alertname": "OrderServiceErrors"},
    "commonLabels": {"alertname": "OrderServiceErrors", "severity": "critical"},
    "commonAnnotations": {"summary": "Order service 5xx above 50%"},
    "externalURL": "http://alertmanager:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "OrderServiceErrors",
                "severity": "critical",
                "instance": "order-1",
            },
            "annotations": {
                "summary": "Order service 5xx above 50%",
                "description": "HTTP 500 on POST /api/orders",
            },
            "startsAt": "2026-11-26T12:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": "c5b1d1f2a3e4f567",
        }
    ],
}
GENERIC_EXAMPLE = {
    "title": "数据库连接池耗尽 / DB connection pool exhausted",
    "dedup_key": "db-pool-main",
    "status": "firing",
    "severity": "P1",
    "description": "500/500 connections in use",
    "labels": {"service": "database", "env": "prod"},
    "impact_scope": "all API calls slow",
    "affected_users": 0,
    "occurred_at": "2026-11-26T12:00:00Z",
    "category": "production",
}


RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)


# Printable names: no NUL (PostgreSQL's jsonb refuses it), controls or lone surrogates.
LABEL_NAME = re.compile(r"^[^\x00-\x1f\x7f\ud800-\udfff]{1,200}$")


class Rfc3339(Moment):
    """An RFC 3339 date-time with its offset (what Alertmanager sends)."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or not RFC3339.match(data):
            self.fail("invalid", format="RFC 3339")
        return super().to_internal_value(data)


# What a label value may not hold (DRF's CharField refuses these: NUL, surrogates).
UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
LABEL_VALUE_MAX = 2000


class Labels(serializers.DictField):
    """An object whose values are strings (Prometheus labels and annotations)."""

    child = Text(allow_blank=True, max_length=LABEL_VALUE_MAX)

    def run_child_validation(self, data):
        """What the child field would answer for each value, in plain Python for
        the values it accepts (a delivery carries thousands); any other value goes
        through the child, so errors read exactly as before."""
        result, errors = {}, {}
        for key, value in data.items():
            key = str(key)
            if type(value) is str:
                stripped = value.strip()
                if len(stripped) <= LABEL_VALUE_MAX and not UNSTORABLE.search(stripped):
                    result[key] = stripped
                    continue
            try:
                result[key] = self.child.run_validation(value)
            except serializers.ValidationError as exc:
                errors[key] = exc.detail
        if errors:
            raise serializers.ValidationError(errors)
        return result

    def to_internal_value(self, data):
        if isinstance(data, dict):
            if len(data) > 200:
                raise serializers.ValidationError(_("At most 200 entries."))
            bad = [k for k in data if not LABEL_NAME.match(k)]
            if bad:
                raise serializers.ValidationError(
                    _("Names must be 1 to 200 characters, without control characters.")
                )
        return super().to_internal_value(data)


STATUS = Alert.Status.choices


class AlertmanagerAlert(serializers.Serializer):
    status = Choice(STATUS)
    labels = Labels()
    annotations = Labels(required=False)
    startsAt = Rfc3339(required=False)
    endsAt = Rfc3339(required=False)
    generatorURL = Text(required=False, allow_blank=True, max_length=2000)
    fingerprint = Text(required=False, allow_blank=True, max_length=200)


class AlertmanagerPayload(serializers.Serializer):
    """Prometheus Alertmanager webhook, version 4."""

    version = Choice(["4"])
    groupKey = Text(max_length=500)
    status = Choice(STATUS, required=False)
    receiver = Text(required=False, allow_blank=True, max_length=200)
    groupLabels = Labels(required=False)
    commonLabels = Labels(required=False)
    commonAnnotations = Labels(required=False)
    externalURL = Text(required=False, allow_blank=True, max_length=2000)
    truncatedAlerts = Count(required=False, min_value=0)
    alerts = serializers.ListField(child=AlertmanagerAlert(), min_length=1, max_length=500)


class GenericAlert(serializers.Serializer):
    """Responder's generic alert: one problem, named by `dedup_key`."""

    title = Text(max_length=200)
    dedup_key = Text(max_length=200, help_text="Names this problem across alerts.")
    group = Text(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Alerts with the same group share one open incident (default: dedup_key).",
    )
    status = Choice(STATUS, required=False)
    severity = Text(required=False, max_length=20, help_text="P0–P3, or critical/warning/info")
    description = Text(required=False, allow_blank=True, max_length=LONG_TEXT)
    labels = Labels(required=False)
    impact_scope = Text(required=False, allow_blank=True, max_length=5000)
    affected_users = Count(required=False, min_value=0, max_value=2**31 - 1)
    occurred_at = Rfc3339(required=False, allow_null=True)
    category = Choice(Category.choices, required=False)


AlertResult = inline_serializer(
    "AlertIntakeResult",
    {
        "incidents": inline_serializer(
            "AlertIntakeIncident",
            {
                "id": serializers.IntegerField(),
                "number": serializers.CharField(),
                "state": serializers.CharField(),
                "severity": serializers.CharField(),
                "created": serializers.BooleanField(),
                "alerts": serializers.IntegerField(),
            },
            many=True,
        ),
    },
)


class AlertIntakeView(APIView):
    """Monitoring systems post alerts here; the token in the path authenticates."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Receive monitoring alerts (Alertmanager v4 or generic JSON)",
        description=(
            "Alerts of one group (Alertmanager `groupKey`, or generic `dedup_key`) are "
            "folded into one open incident of the integration's team: the first firing "
            "alert files it (source `monitoring`, level from the `severity`/`priority` "
            "labels or the generic `severity`: P0–P3, or critical→P1, warning→P2, "
            "info→P3, overridable per integration), later alerts add to it, a resolved "
            "alert adds a log entry and never closes it. With the integration's "
            "`group_by` labels set, those labels' values name the group instead. A "
            "resolved or archived incident takes no more alerts: a new firing files a new "
            "incident whose `recurrence_of` names it. An unchanged repeat of an alert (a "
            "retried delivery) changes nothing.\n\n"
            "Generic JSON fields: `title` (required when firing), `dedup_key` "
            "(required), `group` (optional, default `dedup_key`), `status` "
            "(`firing`|`resolved`), `severity`, `description`, "
            "`labels` (object of strings), `impact_scope`, `affected_users`, "
            "`occurred_at` (RFC 3339), `category`.\n\n"
            "If the integration has a signing secret, send `X-Responder-Timestamp` (Unix "
            "seconds) and `X-Responder-Signature: sha256=<hex HMAC-SHA256(secret, "
            "timestamp + '.' + body)>`; requests signed more than 5 minutes from now are "
            "refused."
        ),
        auth=[],
        request=PolymorphicProxySerializer(
            component_name="AlertPayload",
            serializers=[AlertmanagerPayload, GenericAlert],
            resource_type_field_name=None,
        ),
        responses={
            200: AlertResult,
            400: OpenApiResponse(description="Malformed JSON or payload: field errors."),
            401: OpenApiResponse(ErrorSerializer, description="Missing or bad signature."),
            404: OpenApiResponse(ErrorSerializer, description="Unknown or revoked token."),
            429: OpenApiResponse(ErrorSerializer, description="Rate limit; see Retry-After."),
            503: OpenApiResponse(ErrorSerializer, description="Database unavailable; retry."),
        },
        examples=[
            OpenApiExample("Alertmanager v4", value=ALERTMANAGER_EXAMPLE, request_only=True),
            OpenApiExample("Generic JSON", value=GENERIC_EXAMPLE, request_only=True),
        ],
    )
    def post(self, request, integration_token: str):
        integration = alerts.integration_for_token(integration_token)
        if integration is None:
            raise NotFound(_("Unknown or revoked integration token."))
        body = request.body
        try:
            alerts.check_signature(
                integration,
                body=body,
                timestamp=request.headers.get("X-Responder-Timestamp"),
                signature=request.headers.get("X-Responder-Signature"),
            )
        except alerts.BadSignature as exc:
            return Response(
                {"detail": str(exc), "code": "bad_signature"},
                status=status.HTTP_401_UNAUTHORIZED,
                headers={"WWW-Authenticate": 'Signature realm="responder-alerts"'},
            )
        # After the signature: forged requests must not use up the sender's quota.
        try:
            alerts.check_rate(integration)
        except alerts.RateLimited as exc:
            return Response(
                {"detail": str(exc), "code": "rate_limited"},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(exc.retry_after)},
            )
        data = json_body(body or b"null")
        if not isinstance(data, dict):
            raise ValidationError({"non_field_errors": [_("The body must be a JSON object.")]})
        if alerts.is_alertmanager(data):
            payload = AlertmanagerPayload(data=data)
            payload.is_valid(raise_exception=True)
            parsed = alerts.from_alertmanager(payload.validated_data)
        else:
            payload = GenericAlert(data=data)
            payload.is_valid(raise_exception=True)
            parsed = alerts.from_generic(payload.validated_data)
        try:
            results = alerts.alerts_receive(integration=integration, alerts=parsed)
        except alerts.IntegrationRevoked as exc:
            raise NotFound(_("Unknown or revoked integration token.")) from exc
        return Response(
            {
                "incidents": [
                    {
                        "id": r.incident.pk,
                        "number": r.incident.number,
                        "state": r.incident.state,
                        "severity": r.incident.severity,
                        "created": r.created,
                        "alerts": r.alerts,
                    }
                    for r in results
                ]
            }
        )


# ---------------------------------------------------------------- reads


class IncidentAlertSerializer(serializers.ModelSerializer):
    """One alert of an incident: one fingerprint of one integration."""

    labels = serializers.DictField(child=serializers.CharField(), read_only=True)
    annotations = serializers.DictField(child=serializers.CharField(), read_only=True)
    events = serializers.IntegerField(
        read_only=True, help_text="Webhook events that changed what the source reports."
    )
    flapping = serializers.BooleanField(
        read_only=True, help_text="Its state changes too often; its changes are not noted."
    )

    class Meta:
        model = Alert
        fields = [f for f in alert_selectors.ALERT_FIELDS if f != "pk"]  # what it reads
        read_only_fields = fields


class PendingAlertSerializer(IncidentAlertSerializer):
    """An alert waiting for its group's Nth firing before an incident opens."""

    integration = serializers.CharField(source="integration.name", read_only=True)
    team = serializers.CharField(source="integration.team.slug", read_only=True)
    group_key = serializers.CharField(read_only=True)

    class Meta(IncidentAlertSerializer.Meta):
        fields = ["integration", "team", "group_key", *IncidentAlertSerializer.Meta.fields]
        read_only_fields = fields


class IncidentAlertsView(ListAPIView):
    """An incident's alerts, first seen first."""

    permission_classes = [IsAuthenticated]
    pagination_class = Pagination
    serializer_class = IncidentAlertSerializer
    queryset = Alert.objects.none()  # for the schema; get_queryset answers

    def get_queryset(self):
        try:
            incident = selectors.incident_or_404(self.request.user, self.kwargs["pk"])
        except Http404 as exc:
            raise NotFound(_("No such incident, or you cannot see it.")) from exc
        return alert_selectors.incident_alerts(incident=incident)

    @extend_schema(
        summary="An incident's alerts",
        description=(
            "Each alert is one fingerprint of one integration: its status, labels, "
            "annotations, `events` (webhook events that changed what the source "
            "reports) and whether it is `flapping`. The incident answers `alert_count` "
            "and `event_count`."
        ),
        responses={
            200: IncidentAlertSerializer(many=True),
            400: OpenApiResponse(description="Bad page or page size: field errors."),
            401: OpenApiResponse(ErrorSerializer, description="Not signed in."),
            404: OpenApiResponse(ErrorSerializer, description="No such incident or page."),
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PendingAlertsView(ListAPIView):
    """Alerts waiting for their group's Nth firing, of the teams you see."""

    permission_classes = [IsAuthenticated]
    pagination_class = Pagination
    serializer_class = PendingAlertSerializer
    queryset = Alert.objects.none()

    def get_queryset(self):
        return alert_selectors.pending_alerts(user=self.request.user)

    @extend_schema(
        summary="Alerts waiting to open an incident",
        description=(
            "An integration with `open_after` N opens an incident only at a group's Nth "
            "firing alert within `open_after_minutes`; until then its alerts wait here, "
            "newest first."
        ),
        responses={
            200: PendingAlertSerializer(many=True),
            400: OpenApiResponse(description="Bad page or page size: field errors."),
            401: OpenApiResponse(ErrorSerializer, description="Not signed in."),
            404: OpenApiResponse(ErrorSerializer, description="No such page."),
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
