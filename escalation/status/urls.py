"""The public status page's paths (DESIGN.md: fixed)."""

from django.urls import path

from escalation.status.views import feedback, public, subscribe

urlpatterns = [
    path("status/", public.page, name="status"),
    path("status/index.json", public.index_json, name="status-json"),
    path("status/feed.atom", public.feed_atom, name="status-atom"),
    path("status/feed.rss", public.feed_rss, name="status-rss"),
    path("status/badge.svg", public.badge, name="status-badge"),
    path("status/subscribe/", subscribe.subscribe, name="status-subscribe"),
    path("status/confirm/<str:token>/", subscribe.confirm, name="status-confirm"),
    path("status/unsubscribe/<str:token>/", subscribe.unsubscribe, name="status-unsubscribe"),
    path("status/feedback/<str:token>/", feedback.feedback_page, name="status-feedback"),
]
