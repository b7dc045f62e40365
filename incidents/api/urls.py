from django.urls import path
from rest_framework.routers import DefaultRouter

from escalation.roster.api import (
    FeedView,
    OnCallView,
    OverrideDetailView,
    OverrideListView,
    RotationDetailView,
    RotationListView,
    ShiftsView,
)
from escalation.status.api import ComponentViewSet, PublicUpdatesView, PublishView
from incidents.api.alerts import AlertIntakeView, IncidentAlertsView, PendingAlertsView
from incidents.api.maintenance import WindowDetailView, WindowEndView, WindowListView
from incidents.api.views import IncidentViewSet, ping
from knowledge.api import KnowledgeSearchView, MetricsView

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
# No `incidents/1.json` twins of the documented paths: the process actions'
# twins answered 500 (their handlers take no `format`); `?format=` still works.
router.include_format_suffixes = False
router.register("incidents", IncidentViewSet, basename="incident")
router.register("status/components", ComponentViewSet, basename="status-component")

urlpatterns = [
    *router.urls,
    path("knowledge/", KnowledgeSearchView.as_view(), name="knowledge-search"),
    path("metrics/", MetricsView.as_view(), name="metrics-api"),
    path("ping/", ping, name="ping"),
    path("teams/<str:slug>/oncall/", OnCallView.as_view(), name="team-oncall"),
    path("teams/<str:slug>/rotations/", RotationListView.as_view(), name="team-rotations"),
    path(
        "teams/<str:slug>/rotations/<int:pk>/",
        RotationDetailView.as_view(),
        name="team-rotation",
    ),
    path("teams/<str:slug>/overrides/", OverrideListView.as_view(), name="team-overrides"),
    path(
        "teams/<str:slug>/overrides/<int:pk>/",
        OverrideDetailView.as_view(),
        name="team-override",
    ),
    path("teams/<str:slug>/shifts/", ShiftsView.as_view(), name="team-shifts"),
    path("teams/<str:slug>/feeds/", FeedView.as_view(), name="team-feeds"),
    path("maintenance/", WindowListView.as_view(), name="api-maintenance-windows"),
    path("maintenance/<int:pk>/", WindowDetailView.as_view(), name="api-maintenance-window"),
    path("maintenance/<int:pk>/end/", WindowEndView.as_view(), name="api-maintenance-window-end"),
    path("incidents/<int:pk>/alerts/", IncidentAlertsView.as_view(), name="incident-alerts"),
    path("incidents/<int:pk>/publish/", PublishView.as_view(), name="incident-publish"),
    path(
        "incidents/<int:pk>/public-updates/",
        PublicUpdatesView.as_view(),
        name="incident-public-updates",
    ),
    path("alerts/pending/", PendingAlertsView.as_view(), name="alerts-pending"),
    path("alerts/<str:integration_token>/", AlertIntakeView.as_view(), name="alert-intake"),
]
