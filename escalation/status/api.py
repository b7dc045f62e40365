"""The status page over HTTP: /api/v1/status/components/ and an incident's
/api/v1/incidents/{id}/publish/ and …/public-updates/.

Views translate HTTP to escalation.status.services and back; the rules live
there and in incidents.rules. Every signed-in user reads the components (the
public sees them anyway); a team's tech leads and admins write them. A team,
service or component named by an unknown slug is bad input (400), an unknown
component 404. Publishing answers as the incident's own actions do: an incident
the caller cannot see 404, a role that may not 403 (before reading the input),
already or not yet published 409.

The two incident endpoints are views of their own here, as the incident's
alerts are (incidents.api.alerts), not IncidentViewSet actions: that viewset
would import this module, which imports its pagination (an import circle).
"""

from django.core.validators import validate_slug
from django.db.models import Prefetch
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from common import clock
from common.errors import DomainError, TransitionNotAllowed
from escalation.status import services
from escalation.status.models import (
    Component,
    ComponentStatus,
    Impact,
    Publication,
    PublicStatus,
    PublicUpdate,
)
from escalation.status.selectors import component_statuses
from incidents import rules, selectors
from incidents.api import serializers as s
from incidents.api.serializers import Choice, Count, Text
from incidents.api.views import UNAUTHENTICATED, Pagination
from incidents.models import LONG_TEXT, MEDIUM_TEXT, Incident, Service, Team
from incidents.workflow import Action

MAX_ORDER = 2**31 - 1
MAX_LISTED = 100

BAD_INPUT = OpenApiResponse(description="Bad input: field errors.")
NOT_FOUND = OpenApiResponse(s.ErrorSerializer, description="No such component.")
NOT_LEAD = OpenApiResponse(
    s.ErrorSerializer,
    description="Only the team's tech leads (and admins) may change its components; says why.",
)
SLUG = OpenApiParameter(
    "slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="The component's slug."
)


# ---------------------------------------------------------------- components


class TeamSlug(Text):
    def get_attribute(self, component):
        return component.team.slug


class ServiceSlugs(serializers.ListField):
    child = Text(max_length=50, validators=[validate_slug])

    def get_attribute(self, component):
        # Prefetched with the component (_components).
        return sorted(service.slug for service in component.services.all())


class ComponentSerializer(serializers.Serializer):
    """A part of the product its users see, as the status page lists it."""

    slug = Text(
        max_length=50,
        validators=[validate_slug],
        help_text="Letters, digits, - and _; unique; names it in URLs and subscriptions.",
    )
    name = Text(max_length=100, help_text="As the public reads it.")
    team = TeamSlug(
        max_length=50, validators=[validate_slug], help_text="The slug of the team that owns it."
    )
    description = Text(max_length=MEDIUM_TEXT, required=False, allow_blank=True, default="")
    order = Count(
        min_value=0, max_value=MAX_ORDER, required=False, default=0, help_text="Lower first."
    )
    services = ServiceSlugs(
        required=False,
        default=list,
        max_length=MAX_LISTED,
        help_text="Slugs of the team's services behind it: their public maintenance shows here.",
    )
    status = serializers.SerializerMethodField(
        help_text="Its public status now, as the status page shows it: the worst impact of "
        "its open published incidents, else maintenance while a public window affecting it "
        "runs, else operational."
    )

    @extend_schema_field(serializers.ChoiceField(ComponentStatus.choices))
    def get_status(self, component) -> str:
        statuses = self.context.get("statuses")
        if statuses is None:
            statuses = component_statuses(clock.now())
        return str(statuses.get(component.pk, ComponentStatus.OPERATIONAL))

    def validate(self, attrs):
        # A field it cannot change is a mistake, not a no-op.
        if isinstance(self.initial_data, dict):
            unknown = sorted(
                k for k in self.initial_data if k not in self.fields or self.fields[k].read_only
            )
            if unknown:
                raise serializers.ValidationError(
                    {k: [_("This field is read-only or unknown.")] for k in unknown}
                )
        return attrs


COMPONENT_EXAMPLE = {
    "slug": "checkout",
    "name": "Checkout",
    "team": "platform",
    "description": "Paying for an order.",
    "order": 1,
    "services": ["api"],
}


def _components():
    return Component.objects.select_related("team").prefetch_related(
        Prefetch("services", queryset=Service.objects.only("pk", "slug"))
    )


def _team(slug: str) -> Team:
    """The team named by slug. Components are public, and so are their teams'
    slugs: an unknown one is bad input, never hidden as another's."""
    team = Team.objects.filter(slug=slug).first()
    if team is None:
        raise serializers.ValidationError({"team": [_("No team %(slug)s.") % {"slug": slug}]})
    return team


def _services(team: Team, slugs: list[str]) -> list[Service]:
    found = {s.slug: s for s in Service.objects.filter(team=team, slug__in=set(slugs))}
    unknown = sorted(set(slugs) - found.keys())
    if unknown:
        raise serializers.ValidationError(
            {
                "services": [
                    _("Team %(team)s has no service %(slug)s.") % {"team": team.slug, "slug": slug}
                    for slug in unknown
                ]
            }
        )
    return list(found.values())


def _require_editor(request, team: Team) -> None:
    """Refuse before reading the rest of the input (the service checks again)."""
    services.check_may_edit(request.user, team)


@extend_schema_view(
    list=extend_schema(
        summary="Status page components",
        description="Every component, in the public page's order, with its status now.",
        responses={
            200: ComponentSerializer(many=True),
            400: BAD_INPUT,
            401: UNAUTHENTICATED,
            404: OpenApiResponse(s.ErrorSerializer, description="No such page."),
        },
    ),
    retrieve=extend_schema(
        summary="One status page component",
        parameters=[SLUG],
        responses={200: ComponentSerializer, 401: UNAUTHENTICATED, 404: NOT_FOUND},
    ),
)
class ComponentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The parts of the product the public status page shows."""

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    serializer_class = ComponentSerializer
    lookup_field = "slug"
    filter_backends = []
    pagination_class = Pagination

    def get_queryset(self):
        return _components()

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            raise NotFound(_("No such status page component.")) from None

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "statuses": component_statuses(clock.now())}

    def _answer(self, component: Component, code=status.HTTP_200_OK) -> Response:
        component = _components().get(pk=component.pk)
        data = ComponentSerializer(component, context=self.get_serializer_context()).data
        headers = {}
        if code == status.HTTP_201_CREATED:
            headers["Location"] = self.request.build_absolute_uri(
                reverse("status-component-detail", args=[component.slug])
            )
        return Response(data, status=code, headers=headers)

    @extend_schema(
        summary="Add a component (the team's tech leads, admins)",
        request=ComponentSerializer,
        responses={
            201: ComponentSerializer,
            400: BAD_INPUT,
            401: UNAUTHENTICATED,
            403: NOT_LEAD,
        },
        examples=[OpenApiExample("Checkout", value=COMPONENT_EXAMPLE, request_only=True)],
    )
    def create(self, request, *args, **kwargs):
        data = ComponentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        team = _team(values.pop("team"))
        _require_editor(request, team)
        values["services"] = _services(team, values["services"])
        component = services.component_create(actor=request.user, team=team, **values)
        return self._answer(component, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a component (the team's tech leads, admins)",
        description=(
            "Send only what changes. `services` replaces the list; moving it to another "
            "team needs the right to edit both, and its services must be the new team's. "
            "Naming `status` or an unknown field is refused with 400."
        ),
        parameters=[SLUG],
        request=ComponentSerializer,
        responses={
            200: ComponentSerializer,
            400: BAD_INPUT,
            401: UNAUTHENTICATED,
            403: NOT_LEAD,
            404: NOT_FOUND,
        },
        examples=[
            OpenApiExample("Rename", value={"name": "Checkout and payment"}, request_only=True)
        ],
    )
    def partial_update(self, request, *args, **kwargs):
        component = self.get_object()
        _require_editor(request, component.team)
        data = ComponentSerializer(component, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        team = component.team
        if "team" in changes:
            team = changes["team"] = _team(changes["team"])
            _require_editor(request, team)
        if "services" in changes:
            changes["services"] = _services(team, changes["services"])
        component = services.component_update(component=component, actor=request.user, **changes)
        return self._answer(component)

    @extend_schema(
        summary="Remove a component (the team's tech leads, admins)",
        description="Its published incidents stay on the page for the other components they name.",
        parameters=[SLUG],
        responses={
            204: OpenApiResponse(description="Removed."),
            401: UNAUTHENTICATED,
            403: NOT_LEAD,
            404: NOT_FOUND,
        },
    )
    def destroy(self, request, *args, **kwargs):
        services.component_delete(component=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- publications


class ComponentSlugs(serializers.ListField):
    child = Text(max_length=50, validators=[validate_slug])


class PublishSerializer(serializers.Serializer):
    """Publishing an incident: the words the public reads, never the internal ones."""

    components = ComponentSlugs(
        max_length=MAX_LISTED, help_text="Slugs of the components users see affected."
    )
    impact = Choice(Impact.choices, help_text="How badly users are affected.")
    public_title = Text(max_length=services.TITLE_MAX, help_text="The title the public reads.")
    message = Text(max_length=LONG_TEXT, help_text="The first update: what the public reads.")


class PublicUpdateRequestSerializer(serializers.Serializer):
    """A public update; `resolved` closes it on the page, a later other status reopens it."""

    status = Choice(PublicStatus.choices, help_text="Where it stands now, in public words.")
    message = Text(max_length=LONG_TEXT, help_text="What the public reads.")
    impact = Choice(Impact.choices, required=False, help_text="A new impact; else it stays.")
    components = ComponentSlugs(
        required=False,
        max_length=MAX_LISTED,
        help_text="A new list of affected components' slugs; else it stays.",
    )
    public_title = Text(
        max_length=services.TITLE_MAX, required=False, help_text="A new public title."
    )


class PublicUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(PublicStatus.choices)
    impact = serializers.ChoiceField(Impact.choices)
    message = serializers.CharField()
    posted_at = serializers.DateTimeField()


class PublicationSerializer(serializers.Serializer):
    """An incident as the status page shows it (only its public words)."""

    incident = serializers.IntegerField(source="incident_id", help_text="The incident's id.")
    public_title = serializers.CharField()
    impact = serializers.ChoiceField(Impact.choices)
    status = serializers.ChoiceField(PublicStatus.choices)
    components = serializers.SerializerMethodField(help_text="Slugs, in the page's order.")
    published_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True, help_text="Null while open.")
    updates = PublicUpdateSerializer(many=True, help_text="Newest first.")

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_components(self, publication) -> list[str]:
        return [component.slug for component in publication.components.all()]


PUBLISH_EXAMPLE = {
    "components": ["website"],
    "impact": "partial_outage",
    "public_title": "Checkout is slow",
    "message": "Some payments take longer than usual. We are looking into it.",
}
PUBLIC_UPDATE_EXAMPLE = {
    "status": "identified",
    "message": "We found the cause and are rolling out a fix.",
}


def resolve_components(slugs: list[str], field: str = "components") -> list[Component]:
    """Components named by slug, in the page's order; an unknown slug → 400."""
    found = {c.slug: c for c in Component.objects.filter(slug__in=set(slugs))}
    unknown = sorted(set(slugs) - found.keys())
    if unknown:
        raise serializers.ValidationError(
            {field: [_("No component %(slug)s.") % {"slug": slug} for slug in unknown]}
        )
    return list(found.values())


def publication_data(incident: Incident) -> dict:
    """The incident's publication as the API answers it."""
    publication = (
        Publication.objects.filter(incident=incident)
        .prefetch_related(
            Prefetch("components", queryset=Component.objects.only("pk", "slug", "order", "name")),
            Prefetch("updates", queryset=PublicUpdate.objects.order_by("-posted_at", "-id")),
        )
        .get()
    )
    return PublicationSerializer(publication).data


NO_INCIDENT = OpenApiResponse(s.ErrorSerializer, description="No such incident, or not visible.")
MAY_NOT_PUBLISH = OpenApiResponse(
    s.ErrorSerializer,
    description="Only on-duty staff of the incident's team and tech leads may; says why.",
)
INCIDENT_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The incident's id."
)


class _PublicationView(APIView):
    """Who may comes first (403 whatever the input), then the input (400), then
    the service (409 when the incident is already / not yet on the page, or its
    state forbids it)."""

    request_serializer: type[serializers.Serializer]
    service: staticmethod
    conflict_code: str

    def post(self, request, pk: int):
        try:
            incident = selectors.incident_or_404(request.user, pk)
        except Http404:
            raise NotFound(_("No such incident, or you cannot see it.")) from None
        rules.require(request.user, Action.PUBLISH, incident)
        data = self.request_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "components" in values:
            values["components"] = resolve_components(values["components"])
        try:
            self.service(incident=incident, actor=request.user, **values)
        except TransitionNotAllowed:
            raise
        except DomainError as refused:
            return Response(
                {"detail": refused.message, "code": self.conflict_code},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(publication_data(incident), status=status.HTTP_201_CREATED)


class PublishView(_PublicationView):
    """Publish an incident on the status page."""

    request_serializer = PublishSerializer
    service = staticmethod(services.incident_publish)
    conflict_code = "published_already"

    @extend_schema(
        summary="Publish on the status page (on-duty staff of its team, tech leads)",
        description=(
            "The public reads only the words given here (never the incident's title, "
            "symptoms, number or people), as `investigating`, on the components named. "
            "Once per incident: after that, post public updates (409 otherwise)."
        ),
        parameters=[INCIDENT_ID],
        request=PublishSerializer,
        responses={
            201: PublicationSerializer,
            400: BAD_INPUT,
            401: UNAUTHENTICATED,
            403: MAY_NOT_PUBLISH,
            404: NO_INCIDENT,
            409: OpenApiResponse(
                s.ErrorSerializer,
                description="Published already, or not allowed in the incident's state.",
            ),
        },
        examples=[OpenApiExample("Example", value=PUBLISH_EXAMPLE, request_only=True)],
    )
    def post(self, request, pk: int):
        return super().post(request, pk)


class PublicUpdatesView(_PublicationView):
    """Post a public update of a published incident."""

    request_serializer = PublicUpdateRequestSerializer
    service = staticmethod(services.incident_public_update)
    conflict_code = "not_published"

    @extend_schema(
        summary="Post a public update of a published incident",
        description=(
            "`resolved` closes it on the status page (its mail asks the affected users "
            "for feedback); a later update with another status opens it again. "
            "`impact`, `components` and `public_title`, if given, replace the old ones."
        ),
        parameters=[INCIDENT_ID],
        request=PublicUpdateRequestSerializer,
        responses={
            201: PublicationSerializer,
            400: BAD_INPUT,
            401: UNAUTHENTICATED,
            403: MAY_NOT_PUBLISH,
            404: NO_INCIDENT,
            409: OpenApiResponse(
                s.ErrorSerializer,
                description="Not published yet, or not allowed in the incident's state.",
            ),
        },
        examples=[OpenApiExample("Example", value=PUBLIC_UPDATE_EXAMPLE, request_only=True)],
    )
    def post(self, request, pk: int):
        return super().post(request, pk)
