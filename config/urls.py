from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from common.views import not_found, server_error
from config.health import healthz
from escalation import views as escalation_views
from incidents import views as incident_views

urlpatterns = [
    path("", incident_views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("accounts/profile/", incident_views.profile, name="profile"),
    path("accounts/token/", incident_views.api_token, name="api-token"),
    path("accounts/language/", incident_views.set_language, name="set-language"),
    path("", include("incidents.urls")),
    path("", include("knowledge.urls")),
    path("admin/", admin.site.urls),  # administrators only (config/admin.py)
    path("healthz", healthz, name="healthz"),
    path("notifications/", escalation_views.notifications, name="notifications"),
    path("notifications/read/", escalation_views.mark_read, name="notifications-read"),
    path(
        "notifications/preferences/",
        escalation_views.preferences,
        name="notifications-preferences",
    ),
    path("", include("escalation.urls")),
    path("", include("escalation.status.urls")),
    path("api/v1/", include("incidents.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

handler404 = not_found
handler500 = server_error
