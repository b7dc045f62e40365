"""GET /api/v1/knowledge/?q= and GET /api/v1/metrics/."""

from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from common import clock
from incidents import rules
from incidents.api import serializers as s
from incidents.api.views import UNAUTHENTICATED, Pagination
from incidents.models import Severity
from incidents.workflow import Action
from knowledge import metrics, search, selectors
from knowledge.models import RootCause, SearchDocument


class SearchResultSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=SearchDocument.Kind.choices)
    id = serializers.IntegerField(source="object_id", help_text="Incident or article id.")
    title = serializers.CharField()
    excerpt = serializers.CharField(help_text="The fix (or summary) to try first.")
    date = serializers.DateTimeField(source="happened_at")
    title_match = serializers.BooleanField(source="title_hit")
    rank = serializers.FloatField()
    url = serializers.SerializerMethodField()

    def get_url(self, doc) -> str:
        name = "incident" if doc.kind == SearchDocument.Kind.INCIDENT else "article"
        return reverse(name, args=[doc.object_id])


class KnowledgeSearchView(APIView):
    """Search archived incidents and knowledge articles, Chinese or English."""

    pagination_class = Pagination

    @extend_schema(
        summary="Search the knowledge base",
        description=(
            "Every word must match. Chinese words are found inside unspaced text "
            "(`连接池耗尽` in `数据库连接池耗尽导致超时`); English words match their "
            "stems on PostgreSQL. Title matches come first, then by rank and date."
        ),
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, required=True, description="Words to find."),
            OpenApiParameter(
                "kind",
                OpenApiTypes.STR,
                enum=SearchDocument.Kind.values,
                description="Only incidents or only articles.",
            ),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses={
            200: SearchResultSerializer(many=True),
            400: OpenApiResponse(description="Bad input: field errors."),
            401: UNAUTHENTICATED,
            404: OpenApiResponse(s.ErrorSerializer, description="No such page."),
        },
    )
    def get(self, request):
        q = request.query_params.get("q", "")
        if not q.strip():
            raise ValidationError({"q": [_("Give the words to search for.")]})
        if len(q) > 200 or "\x00" in q:
            raise ValidationError({"q": [_("At most 200 characters of text.")]})
        kind = request.query_params.get("kind")
        if kind and kind not in SearchDocument.Kind.values:
            raise ValidationError(
                {
                    "kind": [
                        _("One of %(kinds)s.") % {"kinds": ", ".join(SearchDocument.Kind.values)}
                    ]
                }
            )
        results = search.search(user=request.user, q=q, kinds=(kind,) if kind else None)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(results, request, view=self)
        return paginator.get_paginated_response(SearchResultSerializer(page, many=True).data)


class FiguresSerializer(serializers.Serializer):
    """MTTA/MTTR in wall time and in SLA time (working time of a business-hours
    level, paused time left out); compliance against the SLA deadlines and, for
    comparison, of the wall time taken against the level's window."""

    count = serializers.IntegerField()
    mtta_median_min = serializers.FloatField(allow_null=True, help_text="Wall time.")
    mtta_p90_min = serializers.FloatField(allow_null=True, help_text="Wall time.")
    mttr_median_min = serializers.FloatField(allow_null=True, help_text="Wall time.")
    mttr_p90_min = serializers.FloatField(allow_null=True, help_text="Wall time.")
    mtta_sla_median_min = serializers.FloatField(allow_null=True, help_text="SLA time.")
    mtta_sla_p90_min = serializers.FloatField(allow_null=True, help_text="SLA time.")
    mttr_sla_median_min = serializers.FloatField(allow_null=True, help_text="SLA time.")
    mttr_sla_p90_min = serializers.FloatField(allow_null=True, help_text="SLA time.")
    respond_compliance_pct = serializers.FloatField(
        allow_null=True, help_text="Acknowledged by the respond deadline (SLA time)."
    )
    resolve_compliance_pct = serializers.FloatField(
        allow_null=True, help_text="Restored by the resolve deadline (SLA time)."
    )
    respond_wall_compliance_pct = serializers.FloatField(
        allow_null=True, help_text="Acknowledged within the level's window in wall time."
    )
    resolve_wall_compliance_pct = serializers.FloatField(
        allow_null=True,
        help_text="Restored within the level's window in wall time, pauses included.",
    )
    update_compliance_pct = serializers.FloatField(allow_null=True)
    failed_verification_pct = serializers.FloatField(allow_null=True)
    reopened = serializers.IntegerField()


class LevelFiguresSerializer(FiguresSerializer):
    severity = serializers.ChoiceField(choices=Severity.choices)


class MonthFiguresSerializer(LevelFiguresSerializer):
    month = serializers.CharField(help_text="YYYY-MM, site time zone.")


class RootCauseCountSerializer(serializers.Serializer):
    category = serializers.ChoiceField(choices=RootCause.choices)
    label = serializers.CharField()
    count = serializers.IntegerField()


class OverdueActionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    owner = serializers.CharField(help_text="The owner's username.")
    owner_name = serializers.CharField(help_text="The owner's name (the username if none).")
    due_date = serializers.DateField()
    incident = serializers.CharField()
    incident_id = serializers.IntegerField()


class RatingSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    average_rating = serializers.FloatField(allow_null=True)


class LevelRatingSerializer(RatingSerializer):
    severity = serializers.CharField()


class MonthRatingSerializer(LevelRatingSerializer):
    month = serializers.CharField(help_text="YYYY-MM of the incidents' received time.")


class AffectedFeedbackSerializer(serializers.Serializer):
    """The affected users' own ratings (1–5) from the status page's feedback links."""

    total = RatingSerializer()
    by_level = LevelRatingSerializer(many=True)
    by_month = MonthRatingSerializer(many=True)


class MetricsSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    team = serializers.CharField(allow_null=True)
    cancelled = serializers.IntegerField()
    recurred_within_7_days = serializers.IntegerField(
        help_text="Incidents that repeat one resolved at most 7 days before they were received."
    )
    total = FiguresSerializer()
    by_level = LevelFiguresSerializer(many=True)
    by_month = MonthFiguresSerializer(many=True)
    root_causes = RootCauseCountSerializer(many=True)
    overdue_action_items = OverdueActionSerializer(many=True)
    affected_feedback = AffectedFeedbackSerializer()


class MetricsQuerySerializer(serializers.Serializer):
    """The query's types; knowledge.selectors.metrics_scope judges the values."""

    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)
    team = serializers.CharField(required=False, max_length=50)


class MetricsView(APIView):
    """Count, MTTA/MTTR (median, p90) and compliance per level and month."""

    @extend_schema(
        summary="Incident metrics for a date range and team",
        description="Managers and tech leads. Definitions are in the README (Metrics).",
        parameters=[
            OpenApiParameter(
                "start", OpenApiTypes.DATE, description="Received from (default: 180 days ago)."
            ),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Received to (default: today)."),
            OpenApiParameter("team", OpenApiTypes.STR, description="Team slug."),
        ],
        responses={
            200: MetricsSerializer,
            400: OpenApiResponse(description="Bad input: field errors."),
            401: UNAUTHENTICATED,
            403: OpenApiResponse(s.ErrorSerializer, description="Managers and tech leads only."),
        },
    )
    def get(self, request):
        rules.require(request.user, Action.VIEW_METRICS)  # 403 saying who may
        blank = [k for k in ("start", "end", "team") if request.query_params.get(k, None) == ""]
        if blank:
            raise ValidationError(
                {k: [_("Give a value or leave the parameter out.")] for k in blank}
            )
        query = MetricsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        scope = selectors.metrics_scope(user=request.user, now=clock.now(), **query.validated_data)
        result = metrics.compute(
            user=request.user,
            start=scope.start,
            end=scope.end,
            team=scope.team,
            now=clock.now(),
        )
        return Response(MetricsSerializer(result).data)
