"""The embedded broker keeps every folder it writes under var/: kombu's
filesystem transport otherwise puts its exchange tables in control/ of whatever
folder the web, worker or beat process started in."""

from pathlib import Path

import pytest
from django.conf import settings
from kombu import Connection

from config.celery_app import app

pytestmark = pytest.mark.skipif(
    bool(settings.REDIS_URL), reason="the PostgreSQL + Redis pass has no files broker"
)


def test_it_keeps_the_exchange_tables_under_var():
    folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["control_folder"])

    assert folder.is_absolute()
    assert folder.is_relative_to(settings.VAR_DIR)
    assert folder.is_dir()  # kombu creates the last level only


def test_a_broadcast_leaves_nothing_in_the_current_folder(tmp_path, monkeypatch):
    # Messages go to a folder of the test's own, so no running worker reads them;
    # the exchange tables go where the settings say.
    queue = tmp_path / "queue"
    queue.mkdir()
    options = {
        **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
    }
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)

    with Connection("files://", transport_options=options) as connection:
        # A ping binds a reply queue: kombu writes that exchange's table.
        replies = app.control.ping(timeout=0.05, connection=connection)

    assert replies == []
    assert list(here.iterdir()) == []
    control = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["control_folder"])
    assert (control / "reply.celery.pidbox.exchange").exists()
