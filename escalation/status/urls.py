"""The public status page's paths (DESIGN.md: fixed)."""

from django.urls import path

from escalation.status.views import feedback, public, subscribe

urlpatterns = [
    path("status/", public.not_yet, name="status"),
    path("status/index.json", public.not_yet, name="status-json"),
    path("status/feed.atom", public.not_yet, name="status-atom"),
    path("status/feed.rss", public.not_yet, name="status-rss"),
    path("status/badge.svg", public.not_yet, name="status-badge"),
    path("status/subscribe/", subscribe.not_yet, name="status-subscribe"),
    path("status/confirm/<str:token>/", subscribe.not_yet, name="status-confirm"),
    path("status/unsubscribe/<str:token>/", subscribe.not_yet, name="status-unsubscribe"),
    path("status/feedback/<str:token>/", feedback.not_yet, name="status-feedback"),
]
