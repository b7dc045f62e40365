from django.core.management.base import BaseCommand

from incidents import tallies


class Command(BaseCommand):
    help = "Recount the per-(team, state, severity) incident tallies from the incidents."

    def handle(self, *args, **options):
        written = tallies.rebuild()
        self.stdout.write(f"Rebuilt {written} tallies.")
