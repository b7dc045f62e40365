from django.urls import path
from rest_framework.routers import DefaultRouter

from escalation.api import OnCallView
from incidents.api.alerts import AlertIntakeView
from incidents.api.views import IncidentViewSet, ping
from knowledge.api import KnowledgeSearchView, MetricsView

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
# No `incidents/1.json` twins of the documented paths: the process actions'
# twins answered 500 (their handlers take no `format`); `?format=` still works.
router.include_format_suffixes = False
router.register("incidents", IncidentViewSet, basename="incident")

urlpatterns = [
    *router.urls,
    path("knowledge/", KnowledgeSearchView.as_view(), name="knowledge-search"),
    path("metrics/", MetricsView.as_view(), name="metrics-api"),
    path("ping/", ping, name="ping"),
    path("teams/<str:slug>/oncall/", OnCallView.as_view(), name="team-oncall"),
    path("alerts/<str:integration_token>/", AlertIntakeView.as_view(), name="alert-intake"),
]
