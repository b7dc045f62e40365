"""App configs of the wiring (kept free of model imports: INSTALLED_APPS loads them first)."""

from django.contrib.admin.apps import AdminConfig


class ResponderAdminConfig(AdminConfig):
    """django.contrib.admin whose default site is config.admin.ResponderAdminSite
    (administrators only)."""

    default_site = "config.admin.ResponderAdminSite"
