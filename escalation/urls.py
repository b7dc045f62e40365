from django.urls import path

from escalation.roster import views

urlpatterns = [
    path("oncall/", views.oncall_index, name="oncall"),
    path("oncall/feeds/", views.feed_create, name="oncall-feed-create"),
    path("oncall/feeds/<int:pk>/revoke/", views.feed_revoke, name="oncall-feed-revoke"),
    path("oncall/feeds/<str:token>.ics", views.feed_ics, name="oncall-feed"),
    path("oncall/<slug:slug>/", views.oncall_team, name="oncall-team"),
    path("oncall/<slug:slug>/rotations/new/", views.rotation_edit, name="oncall-rotation-new"),
    path("oncall/<slug:slug>/rotations/<int:pk>/", views.rotation_edit, name="oncall-rotation"),
    path(
        "oncall/<slug:slug>/rotations/<int:pk>/delete/",
        views.rotation_delete,
        name="oncall-rotation-delete",
    ),
    path("oncall/<slug:slug>/overrides/", views.override_add, name="oncall-override-add"),
    path(
        "oncall/<slug:slug>/overrides/<int:pk>/delete/",
        views.override_delete,
        name="oncall-override-delete",
    ),
    path("oncall/<slug:slug>/handover-note/", views.handover_note, name="oncall-handover-note"),
]
