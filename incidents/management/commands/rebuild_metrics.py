from django.core.management.base import BaseCommand

from incidents import figures


class Command(BaseCommand):
    help = (
        "Recompute the metrics' figures of finished incidents (per day and month, team "
        "and level) from the incidents; run after a bulk load or a change of SLA windows."
    )

    def handle(self, *args, **options):
        written = figures.rebuild()
        self.stdout.write(f"Rebuilt {written} figure rows.")
