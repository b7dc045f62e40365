from django.core.management.base import BaseCommand, CommandError

from incidents import alerts
from incidents.models import AlertIntegration


class Command(BaseCommand):
    help = "Revoke a monitoring integration: its token stops working at once (404)."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **opts):
        integration = AlertIntegration.objects.filter(name=name).first()
        if integration is None:
            raise CommandError(f"no integration named {name!r}")
        alerts.integration_revoke(integration=integration)
        self.stdout.write(
            f"Revoked {integration.name!r} at {integration.revoked_at:%Y-%m-%d %H:%M}."
        )
