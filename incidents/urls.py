from django.urls import path, re_path

from incidents import views
from incidents.maintenance import views as maintenance_views

ACTION_NAMES = "|".join(sorted(a.value for a in views.ACTIONS))
# The workspace's forms, drawn when opened.
FORM_NAMES = "|".join(sorted({*ACTION_NAMES.split("|"), "edit"}))

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("my/", views.my_work, name="my-work"),
    path("archive/", views.archive, name="archive"),
    path("alerts/pending/", views.pending_alerts, name="alerts-pending-page"),
    path("incidents/new/", views.intake, name="incident-new"),
    path("incidents/<int:pk>/", views.workspace, name="incident"),
    path("incidents/<int:pk>/print/", views.print_form, name="incident-print"),
    path("incidents/<int:pk>/edit/", views.edit, name="incident-edit"),
    re_path(
        r"^incidents/(?P<pk>[0-9]+)/quick/(?P<action>grade|assign)/$",
        views.quick_form,
        name="incident-quick",
    ),
    re_path(
        rf"^incidents/(?P<pk>[0-9]+)/form/(?P<action>{FORM_NAMES})/$",
        views.action_form,
        name="incident-form",
    ),
    re_path(
        rf"^incidents/(?P<pk>[0-9]+)/(?P<action>{ACTION_NAMES})/$",
        views.act,
        name="incident-act",
    ),
    path("maintenance/", maintenance_views.maintenance_index, name="maintenance"),
    path("maintenance/new/", maintenance_views.maintenance_new, name="maintenance-new"),
    path("maintenance/preview/", maintenance_views.maintenance_preview, name="maintenance-preview"),
    path("maintenance/<int:pk>/", maintenance_views.maintenance_detail, name="maintenance-detail"),
    path("maintenance/<int:pk>/edit/", maintenance_views.maintenance_edit, name="maintenance-edit"),
    path("maintenance/<int:pk>/end/", maintenance_views.maintenance_end, name="maintenance-end"),
    path(
        "maintenance/<int:pk>/delete/",
        maintenance_views.maintenance_delete,
        name="maintenance-delete",
    ),
]
