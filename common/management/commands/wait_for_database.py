"""Wait until the configured database answers; optionally create it.

`make run` and the container set-up call this first, so a PostgreSQL that is
still starting, or a database that does not exist yet, is not a crash with a
traceback but a short wait or a CREATE DATABASE.
"""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import OperationalError


class Command(BaseCommand):
    help = "Wait for the database to accept connections (and create it with --create)."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=60.0)
        parser.add_argument(
            "--create",
            action="store_true",
            help="On PostgreSQL, create the database if it does not exist.",
        )

    def handle(self, *args, timeout, create, **options):
        connection = connections[DEFAULT_DB_ALIAS]
        deadline = time.monotonic() + timeout
        created = False
        while True:
            try:
                connection.ensure_connection()
                return
            except OperationalError as exc:
                if create and not created and connection.vendor == "postgresql":
                    created = self._create(connection, exc)
                    if created:
                        continue
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"database not reachable after {timeout:.0f} s: {exc}"
                    ) from exc
                self.stderr.write(f"waiting for the database: {str(exc).strip()}")
                time.sleep(1)

    def _create(self, connection, exc) -> bool:
        if "does not exist" not in str(exc):
            return False
        name = connection.settings_dict["NAME"]
        with connection._nodb_cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {connection.ops.quote_name(name)}")
        self.stdout.write(f"created database {name}")
        return True
