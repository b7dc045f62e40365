"""`make run`: the Procfile's web, worker and beat under honcho, stopped cleanly.

`honcho start` itself ends a Ctrl-C with exit status 130 (make then says
"Error 130"), signals each process's whole group (Celery's pool children die
under the worker instead of being stopped by it, and the worker hangs) and
SIGKILLs whatever still runs 5 seconds later. This runs the same Procfile with
honcho's Manager, except that:

- each command is exec'd by its shell, so a signal reaches the program itself;
- Ctrl-C (or SIGTERM) is passed on as SIGTERM to each program only: gunicorn and
  Celery stop their own workers gracefully; SIGKILL comes after STOP_SECONDS;
- a stop asked for exits 0 when every process stopped cleanly;
- every time in the log is in TIME_ZONE (Django's settings set the process's TZ,
  which honcho, gunicorn and Celery inherit), and the first line says which.
"""

import os
import signal
import sys
from datetime import datetime
from pathlib import Path

import honcho.manager
from django.conf import settings
from django.core.management.base import BaseCommand
from honcho import environ
from honcho.printer import Printer

# Long enough for a worker to finish the task in hand (deliveries time out at 10 s).
STOP_SECONDS = 20
# How a program that was asked to stop may end: by itself, or by the signal.
CLEAN_EXITS = {0, -signal.SIGTERM, 128 + signal.SIGTERM}
STOP_STATUS = {130, 143}  # honcho's exit status after SIGINT / SIGTERM


class CleanStopManager(honcho.manager.Manager):
    """honcho's Manager, signalling each program rather than its process group."""

    def _killall(self, force=False):
        for name, process in self._processes.items():
            if "returncode" in process or "pid" not in process:
                continue
            self._system_print(
                f"sending {'SIGKILL' if force else 'SIGTERM'} to {name} (pid {process['pid']})\n"
            )
            try:
                if force:
                    os.killpg(process["pid"], signal.SIGKILL)
                else:
                    os.kill(process["pid"], signal.SIGTERM)
            except ProcessLookupError:
                pass  # it ended in the meantime

    def exit_status(self) -> int:
        """0 after a requested stop that every process survived cleanly; otherwise
        the first process's own status (or 130/143 for an unclean stop)."""
        codes = [p.get("returncode") for p in self._processes.values()]
        if self.returncode in STOP_STATUS and all(c in CLEAN_EXITS for c in codes):
            return 0
        return self.returncode or 0

    def announce(self, text: str) -> None:
        self._system_print(text + "\n")


class Command(BaseCommand):
    help = "Run the Procfile's web, worker and beat (honcho); Ctrl-C stops them cleanly."

    def add_arguments(self, parser):
        parser.add_argument("--procfile", default=str(Path(settings.BASE_DIR) / "Procfile"))

    def handle(self, *args, procfile: str, **options):
        honcho.manager.KILL_WAIT = STOP_SECONDS
        processes = environ.parse_procfile(Path(procfile).read_text()).processes
        env = os.environ.copy()
        dotenv = Path(settings.BASE_DIR) / ".env"
        if dotenv.exists():  # as `honcho start` does
            env.update(environ.parse(dotenv.read_text()))
        env["TZ"] = settings.TIME_ZONE
        env.setdefault("PYTHONUNBUFFERED", "1")

        manager = CleanStopManager(Printer(sys.stdout))
        for name, command in processes.items():
            manager.add_process(f"{name}.1", f"exec {command}", env=env)
        offset = datetime.now().astimezone().strftime("%z")
        manager.announce(
            f"times in this log are {settings.TIME_ZONE} (UTC{offset[:3]}:{offset[3:]}); "
            "Ctrl-C stops web, worker and beat"
        )
        manager.loop()
        status = manager.exit_status()
        if status == 0 and manager.returncode in STOP_STATUS:
            manager.announce("stopped cleanly")
        sys.stdout.flush()
        sys.exit(status)
