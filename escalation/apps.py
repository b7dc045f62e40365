from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EscalationConfig(AppConfig):
    name = "escalation"
    verbose_name = _("Escalation")

    def ready(self):
        # Register the tasks in every process (web, worker, beat, tests), so
        # escalation.jobs can hand work on by name; and unread's receiver, which
        # keeps the unread counters right when deliveries are deleted.
        from escalation import tasks, unread  # noqa: F401

        # Deadlines and notices in the incident dump (incidents.backup never imports us).
        from escalation.backup import INCIDENT_ROWS
        from incidents.backup import register

        register(INCIDENT_ROWS)
