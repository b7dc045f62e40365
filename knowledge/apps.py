from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KnowledgeConfig(AppConfig):
    name = "knowledge"
    verbose_name = _("Knowledge")

    def ready(self):
        from escalation import registry
        from escalation.models import Clock
        from incidents.signals import incident_reopened
        from knowledge import clocks, services

        registry.register(
            Clock.ACTION, claim=clocks.claim_overdue_actions, detail=clocks.action_detail
        )
        incident_reopened.connect(services.follow_reopen, dispatch_uid="knowledge_follow_reopen")
        from django.db.models.signals import post_delete, post_save

        from knowledge.models import PostMortem

        post_save.connect(
            services.follow_postmortem_saved, sender=PostMortem, dispatch_uid="knowledge_pm_saved"
        )
        post_delete.connect(
            services.follow_postmortem_deleted,
            sender=PostMortem,
            dispatch_uid="knowledge_pm_deleted",
        )

        # Post-mortems, articles and search documents in the incident dump.
        from incidents.backup import register
        from knowledge import backup

        register(backup.INCIDENT_ROWS)
        register(backup.ARTICLES)
