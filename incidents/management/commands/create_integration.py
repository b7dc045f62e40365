from django.core.management.base import BaseCommand, CommandError

from incidents import alerts
from incidents.models import DEFAULT_ALERT_RATE_LIMIT, AlertIntegration, Severity, Team


class Command(BaseCommand):
    help = (
        "Create a monitoring integration for a team and print its token once "
        "(only a hash is stored)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--team", required=True, help="team slug")
        parser.add_argument(
            "--rate-limit", type=int, default=DEFAULT_ALERT_RATE_LIMIT, help="requests per minute"
        )
        parser.add_argument("--signing-secret", default="", help="require HMAC-signed requests")
        parser.add_argument("--default-severity", default="P2", choices=Severity.values)

    def handle(self, *args, name, team, rate_limit, signing_secret, default_severity, **opts):
        team_obj = Team.objects.filter(slug=team).first()
        if team_obj is None:
            raise CommandError(f"no team with slug {team!r}")
        if AlertIntegration.objects.filter(name=name).exists():
            raise CommandError(f"an integration named {name!r} exists already")
        if rate_limit < 1:
            raise CommandError("--rate-limit must be at least 1")
        integration, token = alerts.integration_create(
            name=name,
            team=team_obj,
            rate_limit_per_minute=rate_limit,
            signing_secret=signing_secret,
            default_severity=default_severity,
        )
        self.stdout.write(f"Created integration {integration.name!r} for team {team_obj.slug}.")
        self.stdout.write("Token (shown once, store it now):")
        self.stdout.write(token)
        self.stdout.write(f"Alert URL: /api/v1/alerts/{token}/")
