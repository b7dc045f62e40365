"""GET /api/v1/teams/{slug}/oncall/: who of a team is on call now and next."""

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from common import clock
from escalation import oncall
from escalation.models import Layer
from incidents import rules
from incidents.api import serializers as s
from incidents.api.views import UNAUTHENTICATED
from incidents.models import Team


class OnCallShiftSerializer(serializers.Serializer):
    """One layer's person on call: `from` and `until` bound their stretch (looked
    for within 29 days either side of now)."""

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
    """Who is on call in a team now and who comes next, by layer."""

    @extend_schema(
        summary="Who is on call",
        description=(
            "Every layer (`primary`, `secondary`) with someone on call now, and the "
            "next person of each layer. Users by username; times in ISO 8601 with the "
            "site's zone. Visible to the team's members, its manager, managers and admins."
        ),
        responses={
            200: OpenApiResponse(
                # Each shift's `start`/`end` are answered as `from`/`until`.
                OnCallSerializer,
                examples=[OpenApiExample("platform", value=EXAMPLE, response_only=True)],
            ),
            401: UNAUTHENTICATED,
            404: OpenApiResponse(s.ErrorSerializer, description="No such team, or not yours."),
        },
    )
    def get(self, request, slug: str):
        team = Team.objects.filter(slug=slug).first()
        if team is None or not rules.sees_roster(request.user, team):
            raise Http404(_("No such team."))
        roster = oncall.roster_for(team)
        now, upcoming = roster.now_and_next(clock.now())
        warnings = [str(w) for w in roster.warnings()]
        ser = OnCallShiftSerializer
        return Response(
            {
                "team": team.slug,
                "now": ser(now, many=True).data,
                "next": ser(upcoming, many=True).data,
                "warnings": warnings,
            }
        )
