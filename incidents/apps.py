from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = _("Incidents")

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from incidents.signals import record_browser_language

        user_logged_in.connect(record_browser_language, dispatch_uid="record_browser_language")
